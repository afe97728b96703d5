"""Adam and AdamW: momentum and RMSprop together, with bias correction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.optim.optimizer import Optimizer, check_beta, check_non_negative, with_l2


def _check_betas(opt: str, betas: Any) -> tuple[float, float]:
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{opt}: betas must be a pair (beta1, beta2), got {betas!r}") from None
    return check_beta(opt, "beta1", b1), check_beta(opt, "beta2", b2)


class Adam(Optimizer):
    """Adam (adaptive moment estimation), with bias correction.

    For each parameter θ with gradient g, at step t = 1, 2, ... of that
    parameter (v, s start at 0)::

        g  ← g + weight_decay·θ                 (L2 added to the gradient, if ≠ 0)
        v  ← β₁·v + (1 − β₁)·g                  (momentum: average of gradients)
        s  ← β₂·s + (1 − β₂)·g²                 (RMSprop: average of squared gradients)
        v̂  = v / (1 − β₁ᵗ),   ŝ = s / (1 − β₂ᵗ)  (bias correction)
        θ  ← θ − lr·v̂ / (√ŝ + ε)

    With ``amsgrad=True`` (Reddi et al.) ŝ is taken from the largest s so far, so the step
    never grows because the squared gradients' average shrank.
    The course's usual choice: β₁ = 0.9, β₂ = 0.999, ε = 1e-8, tune lr.
    This is PyTorch's ``torch.optim.Adam``.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import Adam
    >>> w = tg.tensor([1.0, -1.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> w.grad = tg.tensor([4.0, -0.5]); opt.step()
    >>> w.data.round(6)      # the first step moves every coordinate by about lr
    array([ 0.9, -0.9])
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        name = type(self).__name__
        group["betas"] = _check_betas(name, group["betas"])
        group["eps"] = check_non_negative(name, "eps", group["eps"])
        group["weight_decay"] = check_non_negative(name, "weight_decay", group["weight_decay"])
        if not isinstance(group["amsgrad"], (bool, np.bool_)):
            raise TypeError(f"{name}: amsgrad must be True or False, got {group['amsgrad']!r}")
        group["amsgrad"] = bool(group["amsgrad"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(param)
            state["exp_avg_sq"] = np.zeros_like(param)
        if group["amsgrad"] and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(param)
        state["step"] += 1
        t = state["step"]
        if self._decoupled:
            if wd:
                param *= 1.0 - lr * wd
            g = grad
        else:
            g = with_l2(grad, param, wd)
        # in place, with one scratch array: a large parameter then costs one temporary, not nine
        # (each a pass over memory, and on fresh pages a page fault every 4 KiB)
        v, s = state["exp_avg"], state["exp_avg_sq"]
        tmp = np.multiply(g, g)
        tmp *= 1.0 - b2
        s *= b2
        s += tmp  # s = β₂·s + (1 − β₂)·g²
        np.multiply(g, 1.0 - b1, out=tmp)
        v *= b1
        v += tmp  # v = β₁·v + (1 − β₁)·g
        if group["amsgrad"]:  # the largest s so far takes s's place in ŝ
            s = np.maximum(state["max_exp_avg_sq"], s, out=state["max_exp_avg_sq"])
        np.divide(s, 1.0 - b2**t, out=tmp)
        np.sqrt(tmp, out=tmp)
        tmp += eps  # √ŝ + ε
        np.divide(v, tmp, out=tmp)
        tmp *= lr / (1.0 - b1**t)  # lr·v̂ / (√ŝ + ε)
        param -= tmp


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), PyTorch's ``torch.optim.AdamW``.

    The decay shrinks θ directly instead of entering the gradient averages::

        θ  ← θ·(1 − lr·weight_decay)
        v  ← β₁·v + (1 − β₁)·g;   s ← β₂·s + (1 − β₂)·g²
        v̂  = v / (1 − β₁ᵗ);       ŝ = s / (1 − β₂ᵗ)
        θ  ← θ − lr·v̂ / (√ŝ + ε)

    >>> import tinygraph as tg
    >>> from tinygraph.optim import AdamW
    >>> w = tg.tensor([2.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = tg.tensor([0.0]); opt.step()
    >>> round(w.item(), 12)   # a zero gradient: only the decay acts, 2*(1 - 0.05)
    1.9
    """

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
