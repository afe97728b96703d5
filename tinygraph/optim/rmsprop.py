"""RMSprop: divide each gradient by a running root-mean-square of its recent values."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.optim.optimizer import Optimizer, check_beta, check_non_negative, with_l2


class RMSprop(Optimizer):
    """RMSprop, as the course and PyTorch's ``torch.optim.RMSprop`` write it.

    For each parameter θ with gradient g, at every ``step()`` (s, ḡ, b start at 0)::

        g ← g + weight_decay·θ                     (if weight_decay ≠ 0)
        s ← α·s + (1 − α)·g²                       (α = ``alpha``, the course's β₂)
        d ← √s + ε
        centered:  ḡ ← α·ḡ + (1 − α)·g;   d ← √(s − ḡ²) + ε
        momentum:  b ← momentum·b + g/d;   θ ← θ − lr·b
        otherwise:                         θ ← θ − lr·g/d

    ε sits outside the square root (PyTorch's form). Directions with large
    gradients get smaller steps, which damps oscillation across a ravine.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import RMSprop
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.99, eps=0.0)
    >>> w.grad = tg.tensor([3.0]); opt.step()
    >>> round(w.item(), 12)   # s = 0.01*9; w = 1 - 0.01*3/sqrt(0.09)
    0.9
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params,
            {
                "lr": lr,
                "alpha": alpha,
                "eps": eps,
                "weight_decay": weight_decay,
                "momentum": momentum,
                "centered": centered,
            },
        )

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["alpha"] = check_beta("RMSprop", "alpha", group["alpha"])
        group["eps"] = check_non_negative("RMSprop", "eps", group["eps"])
        group["weight_decay"] = check_non_negative("RMSprop", "weight_decay", group["weight_decay"])
        group["momentum"] = check_non_negative("RMSprop", "momentum", group["momentum"])
        group["centered"] = bool(group["centered"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        alpha, wd = group["alpha"], group["weight_decay"]
        g = with_l2(grad, param, wd)
        if not state:
            state["step"] = 0
            state["square_avg"] = np.zeros_like(param)
            if group["centered"]:
                state["grad_avg"] = np.zeros_like(param)
            if group["momentum"]:
                state["momentum_buffer"] = np.zeros_like(param)
        state["step"] += 1
        # in place, with one scratch array (one temporary for a large parameter, not six)
        s = state["square_avg"]
        tmp = np.multiply(g, g)
        tmp *= 1.0 - alpha
        s *= alpha
        s += tmp  # s = α·s + (1 − α)·g²
        if group["centered"]:
            ga = state.get("grad_avg")
            if ga is None:  # (centered switched on after the first step)
                ga = state["grad_avg"] = np.zeros_like(param)
            np.multiply(g, 1.0 - alpha, out=tmp)
            ga *= alpha
            ga += tmp  # ḡ = α·ḡ + (1 − α)·g
            np.multiply(ga, ga, out=tmp)
            np.subtract(s, tmp, out=tmp)
            np.maximum(tmp, 0.0, out=tmp)
            np.sqrt(tmp, out=tmp)  # √(s − ḡ²)
        else:
            np.sqrt(s, out=tmp)
        tmp += group["eps"]
        np.divide(g, tmp, out=tmp)  # g / d
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.zeros_like(param)
            buf *= group["momentum"]
            buf += tmp
            np.multiply(buf, group["lr"], out=tmp)
        else:
            tmp *= group["lr"]
        param -= tmp
