"""Gradient clipping, PyTorch's ``torch.nn.utils`` spelling: a guard against exploding gradients.

Both change each parameter's ``.grad`` in place, after ``backward()`` and before ``opt.step()``:

>>> import tinygraph as tg
>>> from tinygraph import nn
>>> w = tg.tensor([3.0, 4.0], requires_grad=True)
>>> (w * w).sum().backward()                      # w.grad = 2w = [6, 8], norm 10
>>> round(nn.utils.clip_grad_norm_([w], max_norm=1.0).item(), 6)
10.0
>>> [round(v, 4) for v in w.grad.tolist()]        # scaled by 1 / (10 + 1e-6)
[0.6, 0.8]
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Any, where: str) -> list[Tensor]:
    """The ``.grad`` of each parameter that has one (a Tensor, or an iterable of them)."""
    params = [parameters] if isinstance(parameters, Tensor) else parameters
    if not isinstance(params, Iterable):
        raise TypeError(
            f"{where}: parameters must be a Tensor or an iterable of Tensors, got {type(parameters).__name__}"
        )
    grads = []
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"{where}: parameter {i} is a {type(p).__name__}, not a Tensor")
        if p.grad is not None:
            grads.append(p.grad)
    return grads


def _number(value: Any, where: str, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or value < 0:
        raise ValueError(f"{where}: {what} must be a number >= 0, got {value!r}")
    return float(value)


def _scale(g: Tensor, factor: float) -> None:
    """``g *= factor`` in place, in g's dtype; a graph that saved g (``create_graph=True``) notices the write."""
    np.multiply(g._data, g._data.dtype.type(factor), out=g._data)
    g.mark_written("gradient clipping")


def clip_grad_norm_(
    parameters: Any, max_norm: float, norm_type: float | str = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale the gradients so that their total norm is at most `max_norm`; return the total norm before.

    The total norm is the `norm_type`-norm of all gradients together, as if concatenated into one vector
    (``norm_type=float("inf")`` or ``"inf"``: the largest magnitude). If it exceeds `max_norm`, every
    gradient is multiplied by ``max_norm / (total + 1e-6)`` (PyTorch's factor); otherwise nothing changes.
    A NaN or infinite total is an error with ``error_if_nonfinite=True``, else the gradients are scaled by
    the factor it gives (NaN), as PyTorch's are. Parameters without a gradient are skipped.
    """
    where = "clip_grad_norm_"
    max_norm = _number(max_norm, where, "max_norm")
    p = math.inf if norm_type in ("inf", math.inf) else norm_type
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p > 0:
        raise ValueError(f"{where}: norm_type must be a number > 0 or 'inf', got {norm_type!r}")
    grads = _grads(parameters, where)
    if not grads:
        return Tensor._make(np.array(0.0))
    dtype = np.result_type(*[g._data.dtype for g in grads])
    # each gradient's own norm, then the norm of those: the norm of all of them in one vector
    norms = np.array([np.linalg.norm(g._data.ravel(), ord=p) for g in grads], dtype=dtype)
    total = np.linalg.norm(norms, ord=p)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"{where}: the total norm of order {norm_type} of {len(grads)} gradients is {float(total)}; "
            "a NaN or infinite gradient came out of backward (try tg.detect_anomaly() to find the op)"
        )
    factor = max_norm / (float(total) + 1e-6)
    if not factor >= 1.0:  # (a NaN factor scales too, so that a NaN total shows in every gradient)
        for g in grads:
            _scale(g, factor)
    return Tensor._make(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters: Any, clip_value: float) -> None:
    """Clip every gradient element to ``[-clip_value, clip_value]``, in place (NaN stays NaN)."""
    where = "clip_grad_value_"
    c = _number(clip_value, where, "clip_value")
    for g in _grads(parameters, where):
        np.clip(g._data, -c, c, out=g._data)
        g.mark_written("gradient clipping")
