"""Gradient checking: autodiff against two-sided finite differences, in float64.

The course's measure: difference = ||g_num - g|| / (||g_num|| + ||g||);
below 1e-7 is great, above 1e-5 is probably a bug.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygraph.function import grad
from tinygraph.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by ``gradcheck(..., raise_exception=True)`` when the gradients disagree."""


def _relative_difference(num: np.ndarray, ana: np.ndarray) -> float:
    denom = np.linalg.norm(num) + np.linalg.norm(ana)
    return 0.0 if denom == 0 else float(np.linalg.norm(num - ana) / denom)


def _as_inputs(inputs: Any) -> list:
    return list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]


def _scalar_of(fn: Callable, args: Sequence[Any], v: np.ndarray | None) -> Tensor:
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if v is None:
        return out.sum() if out.size != 1 else out.reshape(())
    return (out * Tensor._make(v)).sum()


def numerical_grad(fn: Callable, inputs: Any, eps: float = 1e-6, grad_output: Any = None) -> list[np.ndarray]:
    """Two-sided finite differences of ``sum(fn(*inputs) * grad_output)`` for each floating input.

    ``grad_output`` defaults to ones (so a scalar ``fn`` gives its plain gradient).
    Works on float64 copies; the caller's tensors are not changed. Non-float
    inputs (indices, labels) get ``None``.

    >>> import tinygraph as tg
    >>> [g] = tg.numerical_grad(lambda x: (x ** 2).sum(), [tg.tensor([1.0, 3.0])])
    >>> [round(float(v), 6) for v in g]
    [2.0, 6.0]
    """
    args = [_float64_copy(x) for x in _as_inputs(inputs)]
    v = (
        None
        if grad_output is None
        else np.asarray(grad_output._data if isinstance(grad_output, Tensor) else grad_output, dtype=np.float64)
    )
    result: list = []
    # grad mode stays as the caller set it: fn may itself take gradients (gradgradcheck)
    for x in args:
        if not isinstance(x, Tensor) or x._data.dtype.kind != "f":
            result.append(None)
            continue
        flat = x._data.reshape(-1)
        g = np.zeros(flat.shape)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            plus = _scalar_of(fn, args, v).item()
            flat[i] = old - eps
            minus = _scalar_of(fn, args, v).item()
            flat[i] = old
            g[i] = (plus - minus) / (2 * eps)
        result.append(g.reshape(x.shape))
    return result


def _float64_copy(x: Any) -> Any:
    if isinstance(x, Tensor):
        data = x._data
    elif isinstance(x, np.ndarray):
        data = x
    else:
        return x
    if data.dtype.kind == "f":
        return Tensor(data.astype(np.float64), requires_grad=True)
    return Tensor._make(data.copy())


@dataclass
class GradcheckReport:
    """What `gradcheck` found: truthy when it passed.

    ``difference`` is the course's relative difference over all inputs;
    ``per_input`` the same per input (None for inputs without gradient);
    ``worst`` the elements that differ most: (input, index, numeric, analytic).
    """

    passed: bool
    difference: float
    per_input: list
    worst: list = field(default_factory=list)
    upcast: bool = False
    threshold: float = 1e-6

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"gradcheck {verdict}: difference {self.difference:.3e} (threshold {self.threshold:.0e})"]
        if self.upcast:
            lines.append("  (inputs were checked as float64 copies)")
        for i, d in enumerate(self.per_input):
            lines.append(f"  input {i}: " + ("no gradient" if d is None else f"difference {d:.3e}"))
        if not self.passed and self.worst:
            lines.append("  worst elements (input, index, numeric, analytic):")
            for i, idx, n, a in self.worst:
                lines.append(f"    {i:>3} {str(idx):<12} {n: .8e} {a: .8e}")
        return "\n".join(lines)


def gradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    threshold: float = 1e-6,
    raise_exception: bool = False,
    seed: int = 0,
) -> GradcheckReport:
    """Compare autodiff gradients of ``fn(*inputs)`` with finite differences, in float64.

    A non-scalar output is projected on a fixed random direction first, so every
    element of the vector-Jacobian product is checked. Passes when the relative
    difference is below ``threshold`` (the course: below 1e-7 great, above 1e-5
    probably a bug). The caller's tensors and their ``.grad`` are not changed.

    >>> import tinygraph as tg
    >>> x = tg.tensor([0.5, -1.0, 2.0])
    >>> bool(tg.gradcheck(lambda x: tg.tanh(x) * x, [x]))
    True
    """
    originals = _as_inputs(inputs)
    upcast = any(
        isinstance(x, (Tensor, np.ndarray)) and x.dtype.kind == "f" and x.dtype != np.float64 for x in originals
    )
    args = [_float64_copy(x) for x in originals]
    out = fn(*args)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    v = None if out.size == 1 else np.random.default_rng(seed).standard_normal(out.shape)
    diffables = [x for x in args if isinstance(x, Tensor) and x.requires_grad]
    f = _scalar_of(fn, args, v)
    analytic = (
        grad(f, diffables, allow_unused=True, materialize_grads=True)
        if f.requires_grad
        else [Tensor._make(np.zeros_like(x._data)) for x in diffables]
    )
    numeric = numerical_grad(fn, args, eps=eps, grad_output=v)
    per_input: list = []
    worst: list = []
    nums, anas = [], []
    it = iter(analytic)
    for i, (_x, num) in enumerate(zip(args, numeric)):
        if num is None:
            per_input.append(None)
            continue
        ana = next(it)._data
        per_input.append(_relative_difference(num, ana))
        nums.append(num.ravel())
        anas.append(ana.ravel())
        err = np.abs(num - ana).ravel()
        for j in np.argsort(err)[::-1][:3]:
            if err[j] > 0:
                worst.append((i, np.unravel_index(j, num.shape) if num.ndim else (), num.ravel()[j], ana.ravel()[j]))
    difference = _relative_difference(np.concatenate(nums), np.concatenate(anas)) if nums else 0.0
    worst.sort(key=lambda w: -abs(w[2] - w[3]))
    report = GradcheckReport(difference <= threshold, difference, per_input, worst[:5], upcast, threshold)
    if raise_exception and not report.passed:
        raise GradcheckError(str(report))
    return report


def gradgradcheck(
    fn: Callable,
    inputs: Any,
    *,
    eps: float = 1e-6,
    threshold: float = 1e-6,
    raise_exception: bool = False,
    seed: int = 0,
) -> GradcheckReport:
    """Check second derivatives: gradcheck of the first-order gradient built with ``create_graph=True``.

    The gradient of ``fn`` (projected on a fixed random direction when not
    scalar) is itself projected on random directions, giving a scalar whose
    gradient is a Hessian-vector product; that is compared with finite
    differences of the first-order gradient.

    >>> import tinygraph as tg
    >>> bool(tg.gradgradcheck(lambda x: tg.tanh(x) ** 3, [tg.tensor([0.3, -0.7])]))
    True
    """
    originals = _as_inputs(inputs)
    rng = np.random.default_rng(seed + 1)
    v_holder: list = []
    u: list = []
    for x in originals:
        arr = x._data if isinstance(x, Tensor) else np.asarray(x) if isinstance(x, np.ndarray) else None
        u.append(rng.standard_normal(arr.shape) if arr is not None and arr.dtype.kind == "f" else None)

    def first_order(*args: Any) -> Tensor:
        out = fn(*args)
        if not v_holder:
            v_holder.append(None if out.size == 1 else np.random.default_rng(seed).standard_normal(out.shape))
        v = v_holder[0]
        f = out.sum() if v is None else (out * Tensor._make(v)).sum()
        diffables = [a for a in args if isinstance(a, Tensor) and a.requires_grad]
        if not f.requires_grad:
            return Tensor._make(np.zeros(()))
        grads = grad(f, diffables, create_graph=True, allow_unused=True, materialize_grads=True)
        total = None
        it = iter(grads)
        for a, ui in zip(args, u):
            if ui is None or not (isinstance(a, Tensor) and a.requires_grad):
                continue
            term = (next(it) * Tensor._make(ui)).sum()
            total = term if total is None else total + term
        return total if total is not None else Tensor._make(np.zeros(()))

    return gradcheck(first_order, originals, eps=eps, threshold=threshold, raise_exception=raise_exception, seed=seed)
