"""Samplers of valid parameters for the ops' descriptions, and the rules for their second inputs.

A parameter sampler is ``params(rng, arrays, margin) -> dict | None``: the non-tensor
parameters of one call (axes, a new shape, clip bounds, an index) that are valid for these
input arrays, or None where the op is undefined or has a kink within `margin` of a value, so
that finite differences are a valid reference (see `tinygraph.ops.describe.Description`).
The random programs of `tinygraph.testing` call them with every value they build, so each
draws its random numbers in a fixed order: a seed must keep giving the same program.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> reduce_axes(rng, [np.zeros((2, 3))], 1e-3)
{'axis': -2, 'keepdims': False}
>>> kink_at_zero(rng, [np.array([0.5, -0.0001])], 1e-3) is None  # too close to abs's kink
True
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _min_abs(x: np.ndarray) -> float:
    return float(np.abs(x).min()) if x.size else np.inf


def norm_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """`axis` (None, an int or a tuple, maybe negative) as sorted non-negative axes; None means all."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return tuple(sorted(a % ndim for a in axes))


def _axes_choice(rng: np.random.Generator, ndim: int) -> Any:
    """None, one axis (maybe negative) or a tuple of distinct axes."""
    if ndim == 0 or rng.random() < 0.25:
        return None
    if rng.random() < 0.6:
        ax = int(rng.integers(ndim))
        return ax - ndim if rng.random() < 0.3 else ax
    k = int(rng.integers(1, ndim + 1))
    return tuple(int(a) for a in sorted(rng.choice(ndim, size=k, replace=False)))


def _top_gap(x: np.ndarray, axis: Any, largest: bool) -> float:
    """Smallest gap between the extreme value and the next one along the reduced axes."""
    axes = norm_axes(axis, x.ndim)
    if x.size < 2:
        return np.inf
    keep = [a for a in range(x.ndim) if a not in axes]
    y = np.transpose(x, keep + list(axes)).reshape(int(np.prod([x.shape[a] for a in keep])), -1)
    if y.shape[1] < 2:
        return np.inf
    s = np.sort(y, axis=1)
    gaps = (s[:, -1] - s[:, -2]) if largest else (s[:, 1] - s[:, 0])
    return float(gaps.min())


# ----- elementwise ops and activations ----------------------------------------------------------------


def divisor_away_from_zero(rng, arrays, margin):
    """a / b: every |b| above 0.3."""
    return {} if _min_abs(arrays[1]) > 0.3 else None


def positive_base(rng, arrays, margin):
    """a ** b: every base at least 0.2, some exponent below 3 in size."""
    base, e = arrays
    if base.size and base.min() < 0.2:
        return None
    return {} if _min_abs(e) < 3 or not e.size else None


def constant_exponent(rng, arrays, margin):
    """a ** p for a number p: 2, 3, -1 (a away from 0), 0.5 or 1.5 (a at least 0.2)."""
    p = float(rng.choice([2.0, 3.0, -1.0, 0.5, 1.5]))
    x = arrays[0]
    if p in (0.5, 1.5) and (x.size and x.min() < 0.2):
        return None
    if p == -1.0 and _min_abs(x) < 0.3:
        return None
    return {"p": p}


def below_4(rng, arrays, margin):
    """exp: every value below 4, so that exp of a chain of ops stays moderate."""
    return {} if not arrays[0].size or arrays[0].max() < 4 else None


def above_0_1(rng, arrays, margin):
    """log and sqrt: every value above 0.1."""
    return {} if not arrays[0].size or arrays[0].min() > 0.1 else None


def kink_at_zero(rng, arrays, margin):
    """abs and relu: no value within `margin` of 0."""
    return {} if _min_abs(arrays[0]) > margin else None


def leaky_slope(rng, arrays, margin):
    """leaky_relu: a slope of 0.01, 0.1 or 0.3, no value within `margin` of 0."""
    return {"negative_slope": float(rng.choice([0.01, 0.1, 0.3]))} if _min_abs(arrays[0]) > margin else None


def apart(rng, arrays, margin):
    """maximum and minimum: the two inputs more than `margin` apart everywhere (no ties)."""
    a, b = np.broadcast_arrays(*arrays)
    return {} if _min_abs(a - b) > margin else None


def clip_bounds(rng, arrays, margin):
    """clip: a_min and a_max (one may be None) within the values' range, none within `margin` of a value."""
    x = arrays[0]
    if not x.size:
        return None
    lo, hi = float(x.min()) - 0.5, float(x.max()) + 0.5
    for _ in range(5):
        a, b = sorted(np.round(rng.uniform(lo, hi, size=2), 2))
        a_min = None if rng.random() < 0.2 else float(a)
        a_max = None if (a_min is not None and rng.random() < 0.2) else float(b)
        bounds = [v for v in (a_min, a_max) if v is not None]
        if all(_min_abs(x - v) > margin for v in bounds):
            return {"a_min": a_min, "a_max": a_max}
    return None


def where_mask(rng, arrays, margin):
    """where: a random boolean condition that broadcasts with both inputs."""
    shape = np.broadcast_shapes(arrays[0].shape, arrays[1].shape)
    cshape = shape[int(rng.integers(len(shape) + 1)) :] if shape else ()
    return {"mask": rng.random(cshape) < 0.5}


# ----- reductions ---------------------------------------------------------------------------------


def reduce_axes(rng, arrays, margin):
    """sum, mean, logsumexp: an axis (None, an int, maybe negative, or a tuple) and keepdims."""
    return {"axis": _axes_choice(rng, arrays[0].ndim), "keepdims": bool(rng.random() < 0.4)}


def extreme_axes(largest: bool):
    """max (`largest`) or min: `reduce_axes` where the extreme is more than `margin` above the rest (no ties)."""

    def params(rng, arrays, margin):
        p = reduce_axes(rng, arrays, margin)
        return p if _top_gap(arrays[0], p["axis"], largest) > margin else None

    return params


def variance_axes(rng, arrays, margin):
    """var: `reduce_axes` and a ddof of 0 or 1 (0 when one value is reduced)."""
    p = reduce_axes(rng, arrays, margin)
    x = arrays[0]
    count = int(np.prod([x.shape[a] for a in norm_axes(p["axis"], x.ndim)]))
    p["ddof"] = int(rng.integers(2)) if count > 1 else 0
    return p


def one_axis(rng, arrays, margin):
    """softmax and log_softmax: one axis (maybe negative); none for a scalar."""
    nd = arrays[0].ndim
    return {"axis": int(rng.integers(-nd, nd))} if nd else None


# ----- shapes and indexing --------------------------------------------------------------------------


def new_shape(rng, arrays, margin):
    """reshape: up to four factors of the size, in any order, perhaps one given as -1."""
    n = arrays[0].size
    factors = [d for d in range(1, n + 1) if n % d == 0]
    shape: list = []
    rest = n
    for _ in range(int(rng.integers(0, 4))):
        d = int(rng.choice([f for f in factors if rest % f == 0]))
        shape.append(d)
        rest //= d
    if rest != 1 or not shape:
        shape.append(rest)
    if rng.random() < 0.3:
        shape[int(rng.integers(len(shape)))] = -1
    return {"shape": tuple(shape)}


def permutation(rng, arrays, margin):
    """transpose: a permutation of the axes, or None (reverse them)."""
    nd = arrays[0].ndim
    return {"axes": None if rng.random() < 0.3 else tuple(int(a) for a in rng.permutation(nd))}


def new_axis(rng, arrays, margin):
    """expand_dims: where the new axis goes (maybe negative); at most 4 axes in all."""
    nd = arrays[0].ndim
    return {"axis": int(rng.integers(-nd - 1, nd + 1))} if nd < 4 else None


def unit_axis(rng, arrays, margin):
    """squeeze: one axis of length 1, or None (all of them); none without such an axis."""
    ones = [i for i, n in enumerate(arrays[0].shape) if n == 1]
    if not ones:
        return None
    return {"axis": None if rng.random() < 0.3 else int(rng.choice(ones))}


def larger_shape(rng, arrays, margin):
    """broadcast_to: the shape with some axes of length 1 stretched, perhaps one axis more in front."""
    shape = list(arrays[0].shape)
    shape = [int(rng.integers(2, 4)) if n == 1 and rng.random() < 0.7 else n for n in shape]
    if len(shape) < 3 and rng.random() < 0.5:
        shape.insert(0, int(rng.integers(1, 4)))
    return {"shape": tuple(shape)} if tuple(shape) != arrays[0].shape else None


def smaller_shape(rng, arrays, margin):
    """sum_to: the trailing axes of the shape, some of them 1 (a shape that broadcasts to it)."""
    shape = list(arrays[0].shape)
    drop = int(rng.integers(len(shape) + 1))
    target = [1 if rng.random() < 0.5 else n for n in shape[drop:]]
    return {"shape": tuple(target)}


def join_axis(rng, arrays, margin):
    """concatenate: an axis along which the two inputs' shapes may differ (maybe negative)."""
    a, b = arrays
    nd = a.ndim
    if nd == 0 or b.ndim != nd:
        return None
    axes = [ax for ax in range(nd) if all(a.shape[i] == b.shape[i] for i in range(nd) if i != ax)]
    return {"axis": int(rng.choice(axes)) - (nd if rng.random() < 0.3 else 0)} if axes else None


def stack_axis(rng, arrays, margin):
    """stack: where the new axis goes, for two inputs of one shape with at most 2 axes."""
    a, b = arrays
    if a.shape != b.shape or a.ndim > 2:
        return None
    return {"axis": int(rng.integers(-a.ndim - 1, a.ndim + 1))}


def index(rng, arrays, margin):
    """getitem: an int, slices with steps, an array of ints (with repeats) on one axis, or a boolean mask."""
    x = arrays[0]
    if x.ndim == 0:
        return None
    kind = rng.choice(["int", "slices", "intarray", "mask"])
    if kind == "int":
        n = x.shape[0]
        return {"index": int(rng.integers(-n, n))}
    if kind == "slices":
        parts = []
        for n in x.shape[: int(rng.integers(1, x.ndim + 1))]:
            start = int(rng.integers(0, n))
            stop = int(rng.integers(start + 1, n + 1))
            parts.append(slice(start, stop, int(rng.integers(1, 3))))
        return {"index": tuple(parts)}
    if kind == "intarray":
        ax = int(rng.integers(x.ndim))
        idx = rng.integers(0, x.shape[ax], size=int(rng.integers(1, 5)))  # repeats accumulate in backward
        return {"index": (slice(None),) * ax + (idx,)}
    mask = rng.random(x.shape) < 0.6
    if not mask.any():
        return None
    return {"index": mask}


def matrix_product(rng, arrays, margin):
    """matmul: inner dimensions that agree and batch axes that broadcast."""
    a, b = arrays
    if not matmul_fits(a, b):
        return None
    try:
        np.matmul(a, b)
    except ValueError:
        return None
    return {}


# ----- second inputs of the ops that do not broadcast elementwise ----------------------------------------


def matmul_fits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether ``a @ b`` has agreeing inner dimensions (1-D operands promoted)."""
    return a.ndim > 0 and b.ndim > 0 and a.shape[-1] == (b.shape[0] if b.ndim == 1 else b.shape[-2])


def matmul_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    """A right operand for a left one of `shape`: a vector or a matrix with the inner dimension."""
    k = shape[-1] if shape else 2
    n = int(rng.integers(1, 4))
    return (k,) if rng.random() < 0.3 else (k, n)


def join_fits(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether `a` and `b` can be concatenated: as many axes, differing along one at most."""
    return a.ndim > 0 and a.ndim == b.ndim and sum(x != y for x, y in zip(a.shape, b.shape)) <= 1


def join_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    """`shape` with one axis given a new length (1 or 2)."""
    if not shape:
        return shape
    ax = int(rng.integers(len(shape)))
    return shape[:ax] + (int(rng.integers(1, 3)),) + shape[ax + 1 :]


def same_shape(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape


def same_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    return shape
