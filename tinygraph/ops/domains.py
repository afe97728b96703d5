"""Inputs and parameters for the numpy-vocabulary ops (trig, explog, rounding, scan, order, stats).

Draws are ``draw(rng, shape) -> float64 array``; parameter samplers are ``params(rng, arrays,
margin) -> dict | None`` (None where the op is undefined or not smooth within `margin` of a
value), as in `tinygraph.ops.samplers`. The random programs call the samplers with every value
they build, so each draws its random numbers in a fixed order.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> inside_unit(rng, [np.array([0.5, -0.2])], 1e-3), inside_unit(rng, [np.array([0.99])], 1e-3)
({}, None)
>>> away_from_integers(rng, [np.array([1.0005])], 1e-3) is None  # floor jumps at 1
True
"""

from __future__ import annotations

import numpy as np

from tinygraph.ops import samplers


def _all(x: np.ndarray, ok: np.ndarray) -> dict | None:
    return {} if not x.size or bool(np.all(ok)) else None


# ----- draws ---------------------------------------------------------------------------------------


def unit_interval(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values in (-0.9, 0.9): inside the domain of arcsin, arccos, arctanh."""
    return rng.uniform(-0.9, 0.9, size=shape)


def above_one(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values of at least 1.2: inside the domain of arccosh."""
    return 1.2 + np.abs(rng.standard_normal(shape))


def between_integers(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values in (-3, 3) at least 0.1 from every integer and half-integer (floor, round, ...)."""
    base = rng.integers(-6, 6, size=shape) * 0.5
    return np.asarray(base + rng.uniform(0.1, 0.4, size=shape), dtype=np.float64)


def above_minus_0_8(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Values in (-0.8, 2): inside the domain of log1p, near its pole at -1 too."""
    return rng.uniform(-0.8, 2.0, size=shape)


def with_zeros(rng: np.random.Generator, shape: tuple) -> np.ndarray:
    """Normal values, about half of them 0: inputs of any, all and count_nonzero."""
    return np.where(rng.random(shape) < 0.5, 0.0, rng.standard_normal(shape))


# ----- elementwise domains ---------------------------------------------------------------------------


def inside_unit(rng, arrays, margin):
    """arcsin, arccos, arctanh: every |x| below 0.95 (their derivatives grow without bound at +-1)."""
    return _all(arrays[0], np.abs(arrays[0]) < 0.95)


def above_1(rng, arrays, margin):
    """arccosh: every x above 1.05."""
    return _all(arrays[0], arrays[0] > 1.05)


def tan_domain(rng, arrays, margin):
    """tan: every |cos x| above 0.3 (away from the poles at pi/2 + k pi)."""
    return _all(arrays[0], np.abs(np.cos(arrays[0])) > 0.3)


def above_minus_0_9(rng, arrays, margin):
    """log1p: every x above -0.9."""
    return _all(arrays[0], arrays[0] > -0.9)


def below_3_in_size(rng, arrays, margin):
    """sinh, cosh: every |x| below 3, so chains of them stay moderate."""
    return _all(arrays[0], np.abs(arrays[0]) < 3)


def cbrt_domain(rng, arrays, margin):
    """cbrt: every |x| above 0.1 (its derivative is infinite at 0)."""
    return _all(arrays[0], np.abs(arrays[0]) > 0.1)


def reciprocal_domain(rng, arrays, margin):
    """reciprocal: every |x| above 0.3 (the pole at 0)."""
    return _all(arrays[0], np.abs(arrays[0]) > 0.3)


def sinc_domain(rng, arrays, margin):
    """sinc: no value within `margin` of 0, only because PyTorch's second derivative there is NaN.

    (tinygraph's is -pi^2 / 3 from the Taylor series: tests/test_vocabulary.py.)
    """
    return _all(arrays[0], np.abs(arrays[0]) > margin)


def off_origin(rng, arrays, margin):
    """hypot: no pair within 0.1 of (0, 0), where it has a kink."""
    a, b = np.broadcast_arrays(*arrays)
    return _all(a, np.hypot(a, b) > 0.1)


def arctan2_domain(rng, arrays, margin):
    """arctan2(y, x): no pair within 0.1 of (0, 0), and y not within `margin` of 0 where x < 0 (the cut)."""
    y, x = np.broadcast_arrays(*arrays)
    return _all(y, (np.hypot(y, x) > 0.1) & ((x > 0) | (np.abs(y) > max(margin, 1e-2))))


def mod_domain(rng, arrays, margin):
    """mod(a, b): every |b| above 0.3, and a not within `margin` of a multiple of b (where mod jumps)."""
    a, b = np.broadcast_arrays(*arrays)
    if b.size and np.abs(b).min() <= 0.3:
        return None
    q = a / np.where(b == 0, 1, b)
    return _all(a, np.abs(q - np.round(q)) * np.abs(b) > margin)


def away_from_integers(rng, arrays, margin):
    """floor, ceil, trunc: no value within `margin` of an integer (where they jump)."""
    x = arrays[0]
    return _all(x, np.abs(x - np.round(x)) > margin)


def away_from_halves(rng, arrays, margin):
    """rint: no value within `margin` of a half-integer (where it jumps)."""
    x = arrays[0]
    return _all(x, np.abs(x - np.floor(x) - 0.5) > margin)


def round_decimals(rng, arrays, margin):
    """round: 0 or 1 decimals, no value within `margin` of a rounding boundary (a half of the last place)."""
    decimals = int(rng.integers(2))
    s = arrays[0] * 10.0**decimals
    if s.size and np.min(np.abs(s - np.floor(s) - 0.5)) * 10.0**-decimals <= margin:
        return None
    return {"decimals": decimals}


def nan_fill(rng, arrays, margin):
    """nan_to_num: the replacements of NaN and the infinities (the drawn values are finite)."""
    return {"nan": float(rng.choice([0.0, 1.0])), "posinf": None, "neginf": float(rng.choice([-1e3, -1.0]))}


# ----- reductions, scans and orderings ------------------------------------------------------------------


def _min_gap(x: np.ndarray, axis) -> float:
    """The smallest gap between two values along the reduced axes (inf for fewer than two values)."""
    axes = samplers.norm_axes(axis, x.ndim)
    keep = [a for a in range(x.ndim) if a not in axes]
    n = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    if x.size == 0 or n < 2:
        return np.inf
    y = np.sort(np.transpose(x, keep + list(axes)).reshape(-1, n), axis=1)
    return float(np.diff(y, axis=1).min())


def one_axis_or_none(rng, ndim):
    if ndim == 0 or rng.random() < 0.25:
        return None
    ax = int(rng.integers(ndim))
    return ax - ndim if rng.random() < 0.3 else ax


def scan_axis(rng, arrays, margin):
    """cumsum, cumprod: an axis, maybe negative, or None (the flattened array)."""
    return {"axis": one_axis_or_none(rng, arrays[0].ndim)}


def diff_order(rng, arrays, margin):
    """diff: n of 1 or 2 along an axis longer than n; none for a scalar."""
    x = arrays[0]
    n = int(rng.integers(1, 3))
    axes = [a for a in range(x.ndim) if x.shape[a] > n]
    if not axes:
        return None
    ax = int(rng.choice(axes))
    return {"n": n, "axis": ax - x.ndim if rng.random() < 0.3 else ax}


def trace_axes(rng, arrays, margin):
    """trace: an offset of -1, 0 or 1 and two distinct axes; none below 2-D."""
    nd = arrays[0].ndim
    if nd < 2:
        return None
    a1, a2 = (int(a) for a in rng.choice(nd, size=2, replace=False))
    return {"offset": int(rng.integers(-1, 2)), "axis1": a1, "axis2": a2}


def std_axes(rng, arrays, margin):
    """std: `variance_axes`, with every reduced group's variance above 0.01 (sqrt's kink at 0)."""
    p = samplers.variance_axes(rng, arrays, margin)
    x = arrays[0]
    axes = samplers.norm_axes(p["axis"], x.ndim)
    count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    if count - p["ddof"] < 1 or x.size == 0 or np.min(np.var(x, axis=axes)) < 0.01:
        return None
    return p


def weighted_axes(rng, arrays, margin):
    """average: `reduce_axes`, with the weights of every reduced group summing to more than 0.1 in size."""
    p = samplers.reduce_axes(rng, arrays, margin)
    w = arrays[1]
    if w.size and np.min(np.abs(np.sum(w, axis=p["axis"]))) <= 0.1:
        return None
    return p


def spread_axes(rng, arrays, margin):
    """ptp: `reduce_axes` where neither the maximum nor the minimum is tied within `margin`."""
    p = samplers.reduce_axes(rng, arrays, margin)
    return p if _min_gap(arrays[0], p["axis"]) > margin else None


def distinct_along(rng, arrays, margin):
    """median: one axis or None, keepdims, no two reduced values within `margin` (each is a kink)."""
    x = arrays[0]
    axis = one_axis_or_none(rng, x.ndim)
    p = {"axis": axis, "keepdims": bool(rng.random() < 0.4)}
    return p if _min_gap(x, axis) > margin else None


def quantile_levels(rng, arrays, margin):
    """quantile: a level (or two), a method, `distinct_along`'s axis and keepdims."""
    p = distinct_along(rng, arrays, margin)
    if p is None:
        return None
    q = float(rng.choice([0.0, 0.25, 0.5, 0.9, 1.0])) if rng.random() < 0.7 else np.array([0.3, 0.75])
    method = str(rng.choice(["linear", "linear", "lower", "higher", "midpoint", "nearest"]))
    return {"q": q, "axis": p["axis"], "keepdims": p["keepdims"], "method": method}


def sort_axis(rng, arrays, margin):
    """sort: an axis (maybe negative) or None, no two values along it within `margin` (ties)."""
    x = arrays[0]
    axis = one_axis_or_none(rng, x.ndim)
    if x.ndim == 0 and axis is not None:
        return None
    along = None if axis is None else axis % x.ndim
    return {"axis": axis} if _min_gap(x, along) > margin else None


def arg_axis(rng, arrays, margin):
    """argmax, argmin: one axis or None, and keepdims."""
    return {"axis": one_axis_or_none(rng, arrays[0].ndim), "keepdims": bool(rng.random() < 0.4)}


def truth_axes(rng, arrays, margin):
    """any, all, count_nonzero: `reduce_axes`."""
    return samplers.reduce_axes(rng, arrays, margin)
