"""Statistics: quantile and median (one op), and the composites std, ptp and average.

quantile's value is an interpolation between two order statistics of each reduced slice, so
its gradient (a subgradient where values tie) goes to the one or two elements it selected, with
the interpolation's weights. At ties the selected element is the first of the tied ones in a
stable sort (by position), one of the equally valid subgradients.

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([4.0, 1.0, 3.0, 2.0], requires_grad=True)
>>> tg.median(x).backward()   # (2 + 3) / 2
>>> x.grad.tolist()
[0.0, 0.0, 0.5, 0.5]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.ops import domains, samplers
from tinygraph.ops._common import Op, kept, norm_axis, to_tensor, value
from tinygraph.ops.describe import ONE_INPUT_SHAPES, Description, described, describes, normal, positive
from tinygraph.ops.elementwise import sqrt
from tinygraph.ops.reduce import max, mean, min, sum, var
from tinygraph.ops.shape import broadcast_to


def _selection_weights(x: np.ndarray, q: Any, axes: tuple | None, method: str) -> np.ndarray:
    """W of shape q.shape + x.shape: quantile(x) = sum of W * x over the reduced axes, for each level.

    Which order statistics numpy interpolates between, and with what weights, depends only on the
    slice length n, the level and the method; numpy's quantile of 0, 1, ..., n-1 is that
    "virtual index" (an integer for the discrete methods), so it is asked rather than re-derived.
    """
    nd = x.ndim
    reduced = tuple(range(nd)) if axes is None else axes
    keep = [i for i in range(nd) if i not in reduced]
    perm = keep + list(reduced)
    n = math.prod(x.shape[i] for i in reduced)
    rows = np.transpose(x, perm).reshape(-1, n)
    order = np.argsort(rows, axis=1, kind="stable")
    levels = np.atleast_1d(np.asarray(q, dtype=np.float64)).reshape(-1)
    virtual = np.atleast_1d(np.quantile(np.arange(n, dtype=np.float64), levels, method=method))
    lo = np.clip(np.floor(virtual).astype(np.intp), 0, n - 1)
    frac = virtual - lo
    hi = np.minimum(lo + 1, n - 1)
    w = np.zeros((len(levels),) + rows.shape)
    r = np.arange(rows.shape[0])
    for j in range(len(levels)):
        np.add.at(w[j], (r, order[:, lo[j]]), 1.0 - frac[j])
        np.add.at(w[j], (r, order[:, hi[j]]), frac[j])
    w = w.reshape((len(levels),) + tuple(x.shape[i] for i in perm))
    w = w.transpose([0] + [1 + perm.index(i) for i in range(nd)])
    return w.reshape(np.shape(q) + x.shape)


def _torch_quantile(t: Any, a: Any, q: Any, axis: Any, keepdims: bool, method: str) -> Any:
    qt = t.as_tensor(q, dtype=a.dtype)
    if a.ndim == 0:
        return a * 1.0 if qt.ndim == 0 else a.expand(qt.shape) * 1.0
    return t.quantile(a, qt, dim=axis, keepdim=keepdims, interpolation=method)


@described
class Quantile(Op):
    """The q-th quantile over axes (``np.quantile``); the gradient goes to the selected elements."""

    name = "quantile"
    reads = ((0,),)
    description = Description(  # kinks where two reduced values tie
        args=("q", "axis", "keepdims", "method"),
        params=domains.quantile_levels,
        call=lambda a, **p: quantile(a, **p),
        numpy=lambda a, q, axis, keepdims, method: np.quantile(a, q, axis=axis, keepdims=keepdims, method=method),
        torch=_torch_quantile,
    )

    @staticmethod
    def forward(ctx, a, q, axes, keepdims, method):
        return np.asarray(np.quantile(a, q, axis=axes, keepdims=keepdims, method=method))

    @staticmethod
    def backward(ctx, g, a, q, axes, keepdims, method):
        w = _selection_weights(value(a), q, axes, method).astype(value(g).dtype, copy=False)
        kshape = tuple(1 if axes is None or i in axes else n for i, n in enumerate(a.shape))
        g = g.reshape(np.shape(q) + kshape)
        grad = g * w
        if np.ndim(q):
            grad = grad.sum(axis=tuple(range(np.ndim(q))))
        return grad, None, None, None, None


_METHODS = ("linear", "lower", "higher", "midpoint", "nearest")


def quantile(x: Any, q: Any, axis: Any = None, keepdims: bool = False, method: str = "linear") -> Any:
    """The q-th quantile(s) over `axis`, as ``np.quantile`` (q a number or an array of levels in [0, 1]).

    `method` is one of numpy's linear, lower, higher, midpoint, nearest.
    """
    return _quantile(x, q, axis, keepdims, method, "quantile")


def _quantile(x: Any, q: Any, axis: Any, keepdims: bool, method: str, op: str) -> Any:
    x = to_tensor(x, op)
    axes = norm_axis(axis, x.ndim, op, x.shape)
    q = kept(np.asarray(value(q), dtype=np.float64), x)
    if q.ndim > 1:
        raise ValueError(f"{op}: q must be a number or a 1-D array of levels, got shape {q.shape}")
    if q.size and (np.any(q < 0) or np.any(q > 1) or np.isnan(q).any()):
        raise ValueError(f"{op}: q must be in [0, 1], got {q.tolist()}")
    if method not in _METHODS:
        raise ValueError(f"{op}: method must be one of {', '.join(_METHODS)}, got {method!r}")
    n = math.prod(x.shape) if axes is None else math.prod(x.shape[i] for i in axes)
    if n == 0:
        raise ValueError(f"{op}: cannot take a quantile over an empty axis of a tensor of shape {x.shape}")
    return Quantile.apply(x, float(q) if q.ndim == 0 else q, axes, bool(keepdims), method)


@describes(
    Description(
        "median",
        args=("axis", "keepdims"),
        params=domains.distinct_along,
        numpy=lambda a, axis, keepdims: np.median(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_quantile(t, a, 0.5, axis, keepdims, "linear"),
    )
)
def median(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The median over `axis`, as ``np.median`` (the mean of the two middle values for an even count).

    Its gradient goes to the middle element (half to each of the two middle ones).
    """
    return _quantile(x, 0.5, axis, keepdims, "linear", "median")


@describes(
    Description(
        "ptp",
        args=("axis", "keepdims"),
        params=domains.spread_axes,
        numpy=lambda a, axis, keepdims: np.ptp(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: (
            a * 0.0
            if a.ndim == 0
            else t.amax(a, dim=samplers.norm_axes(axis, a.ndim), keepdim=keepdims)
            - t.amin(a, dim=samplers.norm_axes(axis, a.ndim), keepdim=keepdims)
        ),
    )
)
def ptp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Peak to peak, max - min over `axis`, as ``np.ptp`` (tied extremes share the gradient)."""
    x = to_tensor(x, "ptp")
    axes = norm_axis(axis, x.ndim, "ptp", x.shape)
    if (math.prod(x.shape) if axes is None else math.prod(x.shape[i] for i in axes)) == 0:
        raise ValueError(f"ptp: cannot take the peak to peak of an empty axis of a tensor of shape {x.shape}")
    return max(x, axes, keepdims) - min(x, axes, keepdims)


@describes(
    Description(
        "std",
        args=("axis", "keepdims", "ddof"),
        params=domains.std_axes,
        numpy=lambda a, axis, keepdims, ddof: np.std(a, axis=axis, keepdims=keepdims, ddof=ddof),
        torch=lambda t, a, axis, keepdims, ddof: t.std(
            a, dim=samplers.norm_axes(axis, a.ndim), correction=ddof, keepdim=keepdims
        ),
        shapes=ONE_INPUT_SHAPES[1:],  # a scalar's spread is 0, where sqrt has no derivative
    )
)
def std(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Standard deviation over `axis`, as ``np.std``: sqrt(var); its gradient is infinite (NaN) at zero spread."""
    return sqrt(var(to_tensor(x, "std"), axis, keepdims, ddof))


def _average_weights(a: Any, w: Any, axis: Any) -> Any:
    """numpy's rule: weights of a's shape, or 1-D along the one reduced `axis`."""
    if w.shape == a.shape:
        return w
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"average: weights of shape {w.shape} differ from a's {a.shape}: give axis as an int")
    if w.ndim != 1:
        raise TypeError(f"average: 1-D weights expected when shapes differ, got weights {w.shape} for a {a.shape}")
    (ax,) = norm_axis(axis, a.ndim, "average", a.shape)
    if w.shape[0] != a.shape[ax]:
        raise ValueError(f"average: {w.shape[0]} weights for axis {ax} of length {a.shape[ax]} (a {a.shape})")
    return broadcast_to(w.reshape([-1 if i == ax else 1 for i in range(a.ndim)]), a.shape)


def _torch_average(t: Any, a: Any, w: Any, axis: Any, keepdims: bool) -> Any:
    if a.ndim == 0:
        return a * w / w
    dims = samplers.norm_axes(axis, a.ndim)
    return (a * w).sum(dim=dims, keepdim=keepdims) / w.sum(dim=dims, keepdim=keepdims)


@describes(
    Description(
        "average",
        args=("axis", "keepdims"),
        inputs=2,
        draw=(normal, positive),
        params=domains.weighted_axes,
        call=lambda a, w, **p: average(a, weights=w, **p),
        numpy=lambda a, w, axis, keepdims: np.average(a, axis=axis, weights=w, keepdims=keepdims),
        torch=_torch_average,
        source="tg.average({0}, axis={axis}, weights={1}, keepdims={keepdims})",
        shapes=(((),) * 2, ((4,),) * 2, ((3, 4),) * 2, ((2, 3, 4),) * 2),
        fits=samplers.same_shape,
        partner=samplers.same_partner,
    )
)
def average(x: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False) -> Any:
    """The weighted mean sum(x * w) / sum(w) over `axis`, as ``np.average``; differentiable in both.

    `weights` has x's shape, or is 1-D along an int `axis`; with ``returned=True`` the result is
    ``(average, sum_of_weights)``.
    """
    x = to_tensor(x, "average")
    if weights is None:
        avg = mean(x, axis, keepdims)
        axes = norm_axis(axis, x.ndim, "average", x.shape)
        count = math.prod(x.shape) if axes is None else math.prod(x.shape[i] for i in axes)
        scale = np.full(np.shape(value(avg)), count, dtype=value(avg).dtype)
        return (avg, scale) if returned else avg
    w = _average_weights(x, to_tensor(weights, "average", like=x), axis)
    total = sum(w, axis, keepdims)
    if np.any(value(total) == 0):
        raise ZeroDivisionError(f"average: weights sum to zero along axis {axis} (a {x.shape}), cannot normalize")
    avg = sum(x * w, axis, keepdims) / total
    return (avg, total) if returned else avg
