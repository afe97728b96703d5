"""Stochastic gradient descent, PyTorch's form (momentum, dampening, Nesterov, weight decay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.optim import _axpy
from tinygraph.optim.optimizer import Optimizer, check_non_negative, with_l2
from tinygraph.tensor import Tensor


class SGD(Optimizer):
    """Gradient descent, with optional momentum, as PyTorch's ``torch.optim.SGD`` does it.

    For each parameter θ with gradient g, at every ``step()``::

        g ← g + weight_decay·θ                       (if weight_decay ≠ 0)
        b ← g                                        (first step)
        b ← momentum·b + (1 − dampening)·g           (later steps; if momentum ≠ 0)
        g ← g + momentum·b   if nesterov   else   g ← b
        θ ← θ − lr·g

    With ``momentum=0`` this is plain gradient descent θ ← θ − α·dθ. Note the
    velocity here is a running *sum* (PyTorch's convention); `Momentum` is the
    course's running *average* v = β·v + (1 − β)·g.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import SGD
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     w.grad = tg.tensor([1.0]); opt.step()
    >>> round(w.item(), 10)   # 1 - 0.1*1 - 0.1*(0.9*1 + 1)
    0.71

    Plain gradient descent (no momentum, no weight decay) steps in place: a large contiguous
    parameter in one pass through BLAS's axpy, θ ← (−lr)·g + θ, where numpy's BLAS has one
    (`tinygraph.optim._axpy`: rounded once where the BLAS fuses the multiply-add); the others
    through one scratch array kept between steps, ``np.multiply(g, lr, out=s)`` then
    ``np.subtract(θ, s, out=θ)``, the values of ``θ -= lr * g`` without its new array.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        self._flat: dict = {}  # dtype -> the scratch array of plain steps
        self._views: dict = {}  # parameter -> (its view of it, lr as a 0-d array, lr, shape, dtype)
        super().__init__(
            params,
            {
                "lr": lr,
                "momentum": momentum,
                "dampening": dampening,
                "nesterov": nesterov,
                "weight_decay": weight_decay,
            },
        )

    def step(self) -> None:
        """Update every parameter that has a gradient, in place (see the class's docstring)."""
        groups = self.param_groups
        for group in groups:
            if group["momentum"] or group["weight_decay"]:
                return super().step()
        views = self._views
        for group in groups:
            lr = group["lr"]
            for p in group["params"]:
                grad = p.grad
                if grad is None:
                    continue
                g, d = grad._data if isinstance(grad, Tensor) else np.asarray(grad), p._data
                # kept: (scratch view, lr as an array, lr, the data it was made for, dtype, shape,
                # and for the one pass: the axpy, the data's address, -lr in the data's dtype)
                kept = views.get(p)
                # kept for this very array (so its dtype) at its shape, and lr; a gradient of that shape and dtype
                shape = d.shape
                if (
                    kept is None
                    or kept[3] is not d
                    or kept[5] != shape
                    or kept[2] != lr
                    or g.shape != shape
                    or g.dtype is not kept[4]
                ):
                    if g.shape != shape or g.dtype != d.dtype:  # the general step: its error, or a cast
                        self._step_one(p, group)
                        continue
                    kept = self._scratch(p, d, lr)
                axpy = kept[6]
                # the one pass reads and writes both arrays as flat runs of elements: only if they are
                # contiguous and aligned now (and the data writable), and do not overlap
                gf, df = g.flags, d.flags
                if axpy is not None and df.carray and gf.c_contiguous and gf.aligned and not np.may_share_memory(g, d):
                    axpy(d.size, kept[8], g.ctypes.data, 1, kept[7], 1)  # θ ← θ − lr·g in one pass (`_axpy`)
                else:  # numpy's two calls: through the scratch view, or a temporary where the axpy has none
                    np.subtract(d, np.multiply(g, kept[1], kept[0]), d)
                mem = p._mem  # (a leaf's counter: mark_written's own test, without its two calls when nobody waits)
                if mem is not None and mem.pending():
                    p.mark_written("an optimizer step")  # a graph that saved this parameter must notice

    def _scratch(self, p: Any, d: np.ndarray, lr: float) -> tuple:
        """What `p`'s plain step keeps: its view of the shared scratch array of its dtype (made larger
        when `p` needs it), lr, and for a large contiguous parameter BLAS's axpy (`_axpy`) instead.

        lr is kept as a 0-d array of the parameter's dtype: the value numpy would round the Python
        number to, without converting it on every call. What is kept is for `p`'s data array as
        it is (a new array through ``.data =`` makes it anew).
        """
        axpy = None
        if d.size >= _axpy.MIN_SIZE and d.flags.carray:
            axpy = _axpy.for_dtype(d.dtype)
        view = None
        if axpy is None:
            flat = self._flat.get(d.dtype)
            if flat is None or flat.size < d.size:
                flat = self._flat[d.dtype] = np.empty(d.size, d.dtype)
                self._views.clear()  # (views of the old array would keep it alive)
            view = flat[: d.size].reshape(d.shape)
        self.state.setdefault(p, {})  # as the general step leaves it
        address = d.ctypes.data if axpy is not None else None
        lr_array = np.array(lr, d.dtype)
        kept = (view, lr_array, lr, d, d.dtype, d.shape, axpy, address, -float(lr_array))
        self._views[p] = kept
        return kept

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["momentum"] = check_non_negative("SGD", "momentum", group["momentum"])
        group["dampening"] = check_non_negative("SGD", "dampening", group["dampening"])
        group["weight_decay"] = check_non_negative("SGD", "weight_decay", group["weight_decay"])
        group["nesterov"] = bool(group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True needs momentum > 0 and dampening = 0, "
                f"got momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, mu, wd = group["lr"], group["momentum"], group["weight_decay"]
        g = with_l2(grad, param, wd)
        if mu:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()
            else:
                buf *= mu
                buf += (1.0 - group["dampening"]) * g
            g = g + mu * buf if group["nesterov"] else buf
        param -= lr * g
