"""Gradient descent with momentum, in the course's form (an exponentially weighted average)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.optim.optimizer import Optimizer, check_beta, check_non_negative, with_l2


class Momentum(Optimizer):
    """Gradient descent with momentum as the course writes it: v is an average of gradients.

    For each parameter θ with gradient dθ, at every ``step()`` (v starts at 0)::

        dθ ← dθ + weight_decay·θ          (if weight_decay ≠ 0)
        v  ← β·v + (1 − β)·dθ
        θ  ← θ − α·v

    with α = ``lr``. β = 0.9 averages over roughly the last 1/(1 − β) = 10
    gradients. No bias correction (as in the course: after ~10 steps it no
    longer matters). PyTorch's `SGD` with ``momentum=β, dampening=β`` is the
    same update except on the first step.

    >>> import tinygraph as tg
    >>> from tinygraph.optim import Momentum
    >>> w = tg.tensor([1.0], requires_grad=True)
    >>> opt = Momentum([w], lr=0.1, beta=0.9)
    >>> w.grad = tg.tensor([2.0]); opt.step()
    >>> round(w.item(), 12)   # v = 0.1*2 = 0.2; w = 1 - 0.1*0.2
    0.98
    """

    def __init__(self, params: Iterable[Any], lr: float = 1e-2, beta: float = 0.9, weight_decay: float = 0.0) -> None:
        super().__init__(params, {"lr": lr, "beta": beta, "weight_decay": weight_decay})

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["beta"] = check_beta("Momentum", "beta", group["beta"])
        group["weight_decay"] = check_non_negative("Momentum", "weight_decay", group["weight_decay"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        beta, wd = group["beta"], group["weight_decay"]
        g = with_l2(grad, param, wd)
        v = state.get("velocity")
        if v is None:
            v = state["velocity"] = np.zeros_like(param)
        v *= beta
        v += (1.0 - beta) * g
        param -= group["lr"] * v
