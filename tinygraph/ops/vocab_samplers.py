"""Samplers and second-input rules for the contractions (`contract`) and the array plumbing
(`plumbing`), with the PyTorch references that need more than a line.

Each sampler is ``params(rng, arrays, margin) -> dict | None`` as in `tinygraph.ops.samplers`
(parameters valid for these arrays, drawn in a fixed order so a seed keeps its program); each
``fits(a, b)`` says whether `b` can be the second input beside `a`, and ``partner(rng, shape)``
makes a shape for a new second input.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> p = einsum_subscripts(rng, [np.zeros((3, 4)), np.zeros((4, 2))], 1e-3)
>>> np.einsum(p["subscripts"], np.ones((3, 4)), np.ones((4, 2))).ndim <= 4
True
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _broadcasts(*shapes: tuple) -> bool:
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    return True


def _maybe_negative(rng: np.random.Generator, axis: int, ndim: int) -> int:
    return axis - ndim if rng.random() < 0.3 else axis


# ----- contractions ---------------------------------------------------------------------------------


def einsum_subscripts(rng, arrays, margin):
    """einsum: subscripts for the two operands: shared letters where lengths agree, sometimes a
    repeated letter in one operand, sometimes "..." over leading axes, implicit or explicit output."""
    a, b = arrays
    pool = iter(rng.permutation(list("ijklmnB")).tolist())
    ea = eb = 0
    ellipsis = rng.random() < 0.3
    if ellipsis:
        ea, eb = int(rng.integers(a.ndim + 1)), int(rng.integers(b.ndim + 1))
        if not _broadcasts(a.shape[:ea], b.shape[:eb]):
            ea = eb = 0
    ta: list[str] = []
    for i in range(ea, a.ndim):
        same = [c for c, j in zip(ta, range(ea, i)) if a.shape[j] == a.shape[i]]
        ta.append(same[0] if same and rng.random() < 0.25 else next(pool))
    size = {c: a.shape[ea + i] for i, c in enumerate(ta)}
    tb: list[str] = []
    for i in range(eb, b.ndim):
        shared = [c for c in dict.fromkeys(ta) if size[c] == b.shape[i] and (c not in tb or rng.random() < 0.1)]
        tb.append(str(rng.choice(shared)) if shared and rng.random() < 0.6 else next(pool))
    dots = "..." if ellipsis else ""
    lhs = dots + "".join(ta) + "," + dots + "".join(tb)
    if rng.random() < 0.3:
        return {"subscripts": lhs}
    letters = [c for c in dict.fromkeys(ta + tb) if rng.random() < 0.5]
    out = [letters[i] for i in rng.permutation(len(letters))]
    if ellipsis:
        out.insert(int(rng.integers(len(out) + 1)), "...")
    return {"subscripts": lhs + "->" + "".join(out)}


def einsum_fits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim + b.ndim <= 5


def einsum_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    """Some of `shape`'s lengths, in any order, perhaps with a new one."""
    out = [n for n in shape if rng.random() < 0.6]
    if not out or rng.random() < 0.3:
        out.append(int(rng.integers(1, 4)))
    return tuple(out[i] for i in rng.permutation(len(out)))[:3]


def tensordot_axes(rng, arrays, margin):
    """tensordot: pairs of axes of equal length, as an int N, a pair of ints or a pair of lists."""
    a, b = arrays
    ax_a, ax_b = [], []
    for i in rng.permutation(a.ndim).tolist():
        free = [j for j in range(b.ndim) if j not in ax_b and b.shape[j] == a.shape[i]]
        if free and rng.random() < 0.6:
            ax_a.append(i)
            ax_b.append(int(rng.choice(free)))
    k = len(ax_a)
    if ax_a == list(range(a.ndim - k, a.ndim)) and ax_b == list(range(k)) and rng.random() < 0.6:
        return {"axes": k}
    ax_a = [_maybe_negative(rng, i, a.ndim) for i in ax_a]
    ax_b = [_maybe_negative(rng, j, b.ndim) for j in ax_b]
    if k == 1 and rng.random() < 0.5:
        return {"axes": (ax_a[0], ax_b[0])}
    return {"axes": (ax_a, ax_b)}


def torch_tensordot_axes(axes: Any, ndim: int) -> Any:
    """numpy's tensordot `axes` as PyTorch's `dims` (an int, or two lists)."""
    if isinstance(axes, int):
        return axes
    first, second = axes
    return ([first] if isinstance(first, int) else list(first), [second] if isinstance(second, int) else list(second))


def any_pair(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim + b.ndim <= 5


def shares_last(rng: np.random.Generator, shape: tuple) -> tuple:
    """A shape that ends (or starts) with `shape`'s last length."""
    k = shape[-1] if shape else 2
    return [(k,), (2, k), (k, 2)][int(rng.integers(3))]


def dot_fits(a: np.ndarray, b: np.ndarray) -> bool:
    if a.ndim == 0 or b.ndim == 0:
        return True
    return a.ndim + b.ndim <= 5 and a.shape[-1] == b.shape[0 if b.ndim == 1 else -2]


def dot_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    k = shape[-1] if shape else 2
    n = int(rng.integers(1, 4))
    return [(k,), (k, n), (2, k, n)][int(rng.integers(3))]


def torch_dot(torch: Any, a: Any, b: Any) -> Any:
    """np.dot in PyTorch."""
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.ndim <= 2 and b.ndim <= 2:
        return a @ b
    return torch.tensordot(a, b, dims=([a.ndim - 1], [0 if b.ndim == 1 else b.ndim - 2]))


def same_size(a: np.ndarray, b: np.ndarray) -> bool:
    return a.size == b.size


def same_size_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    return shape[::-1] if rng.random() < 0.5 else (int(np.prod(shape)),)


def last_axis_fits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim == 0 or b.ndim == 0 or (a.ndim + b.ndim <= 5 and a.shape[-1] == b.shape[-1])


def small_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    return tuple(int(n) for n in rng.integers(1, 4, size=int(rng.integers(0, 3))))


def kron_fits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.size * b.size <= 64 and max(a.ndim, b.ndim) <= 3


def _vector_axes(a: np.ndarray, b: np.ndarray) -> list[tuple[int, int]]:
    """The (axisa, axisb) pairs of 3-vectors whose other axes broadcast."""
    out = []
    for i in (i for i in range(a.ndim) if a.shape[i] == 3):
        for j in (j for j in range(b.ndim) if b.shape[j] == 3):
            if _broadcasts(a.shape[:i] + a.shape[i + 1 :], b.shape[:j] + b.shape[j + 1 :]):
                out.append((i, j))
    return out


def cross_axes(rng, arrays, margin):
    """cross: an axis of 3 components in each input (the others broadcast) and where the result's goes."""
    a, b = arrays
    pairs = _vector_axes(a, b)
    if not pairs:
        return None
    i, j = pairs[int(rng.integers(len(pairs)))]
    lead = np.broadcast_shapes(a.shape[:i] + a.shape[i + 1 :], b.shape[:j] + b.shape[j + 1 :])
    c = int(rng.integers(len(lead) + 1))
    return {
        "axisa": _maybe_negative(rng, i, a.ndim),
        "axisb": _maybe_negative(rng, j, b.ndim),
        "axisc": _maybe_negative(rng, c, len(lead) + 1),
    }


def cross_fits(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(_vector_axes(a, b))


def cross_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    return (3,) if rng.random() < 0.5 or 3 not in shape else shape


def torch_cross(torch: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1, axisc: int = -1) -> Any:
    """np.cross of 3-vectors in PyTorch."""
    a, b = torch.movedim(a, axisa, -1), torch.movedim(b, axisb, -1)
    shape = torch.broadcast_shapes(a.shape, b.shape)
    out = torch.linalg.cross(a.expand(shape), b.expand(shape), dim=-1)
    return torch.movedim(out, -1, axisc)


# ----- array plumbing -------------------------------------------------------------------------------


def two_axes(rng, arrays, margin):
    """swapaxes: two axes (maybe the same, maybe negative); none for a scalar."""
    nd = arrays[0].ndim
    if nd == 0:
        return None
    i, j = (int(x) for x in rng.integers(nd, size=2))
    return {"axis1": _maybe_negative(rng, i, nd), "axis2": _maybe_negative(rng, j, nd)}


def move_axes(rng, arrays, margin):
    """moveaxis: one axis to another place, or several (two lists of distinct axes)."""
    nd = arrays[0].ndim
    if nd == 0:
        return None
    if rng.random() < 0.5:
        return {"source": int(rng.integers(-nd, nd)), "destination": int(rng.integers(-nd, nd))}
    k = int(rng.integers(1, nd + 1))
    src = [_maybe_negative(rng, i, nd) for i in rng.choice(nd, size=k, replace=False).tolist()]
    dst = [_maybe_negative(rng, i, nd) for i in rng.choice(nd, size=k, replace=False).tolist()]
    return {"source": src, "destination": dst}


def flip_axes(rng, arrays, margin):
    """flip: None (every axis), one axis or a tuple of distinct axes."""
    nd = arrays[0].ndim
    if nd == 0 or rng.random() < 0.25:
        return {"axis": None}
    if rng.random() < 0.6:
        return {"axis": int(rng.integers(-nd, nd))}
    k = int(rng.integers(1, nd + 1))
    return {"axis": tuple(int(i) for i in rng.choice(nd, size=k, replace=False))}


def rot90_params(rng, arrays, margin):
    """rot90: a number of turns (any int) and two distinct axes (maybe negative)."""
    nd = arrays[0].ndim
    if nd < 2:
        return None
    i, j = (int(x) for x in rng.choice(nd, size=2, replace=False))
    return {"k": int(rng.integers(-3, 6)), "axes": (_maybe_negative(rng, i, nd), _maybe_negative(rng, j, nd))}


def repeat_params(rng, arrays, margin):
    """repeat: an int, or a count per element (some 0) along an axis (or of the flattened input)."""
    x = arrays[0]
    axis = None if x.ndim == 0 or rng.random() < 0.3 else int(rng.integers(-x.ndim, x.ndim))
    n = x.size if axis is None else x.shape[axis]
    if rng.random() < 0.5:
        return {"repeats": int(rng.integers(1, 4)), "axis": axis}
    counts = [int(c) for c in rng.integers(0, 3, size=n)]
    return {"repeats": counts, "axis": axis} if sum(counts) else None


def tile_reps(rng, arrays, margin):
    """tile: an int, or a tuple of up to three small counts."""
    if rng.random() < 0.3:
        return {"reps": int(rng.integers(1, 3))}
    return {"reps": tuple(int(r) for r in rng.integers(1, 3, size=int(rng.integers(1, 4))))}


def roll_params(rng, arrays, margin):
    """roll: a shift (any int) of the flattened input, or shifts along axes (maybe repeated)."""
    nd = arrays[0].ndim
    if nd == 0 or rng.random() < 0.3:
        return {"shift": int(rng.integers(-5, 6)), "axis": None}
    if rng.random() < 0.5:
        return {"shift": int(rng.integers(-5, 6)), "axis": int(rng.integers(-nd, nd))}
    k = int(rng.integers(1, 3))
    return {
        "shift": tuple(int(s) for s in rng.integers(-4, 5, size=k)),
        "axis": tuple(int(a) for a in rng.integers(-nd, nd, size=k)),
    }


def diag_offset(rng, arrays, margin):
    """diag: an offset; for a matrix one whose diagonal is not empty."""
    x = arrays[0]
    if x.ndim == 1:
        return {"k": int(rng.integers(-2, 3))}
    if x.ndim != 2 or x.size == 0:
        return None
    return {"k": int(rng.integers(-x.shape[0] + 1, x.shape[1]))}


def diagonal_params(rng, arrays, margin):
    """diagonal: two distinct axes and an offset whose diagonal is not empty."""
    x = arrays[0]
    if x.ndim < 2:
        return None
    i, j = (int(v) for v in rng.choice(x.ndim, size=2, replace=False))
    offset = int(rng.integers(-x.shape[i] + 1, x.shape[j])) if rng.random() < 0.6 else 0
    return {"offset": offset, "axis1": _maybe_negative(rng, i, x.ndim), "axis2": _maybe_negative(rng, j, x.ndim)}


def tri_offset(rng, arrays, margin):
    """triu and tril: an offset; none for a scalar."""
    return {"k": int(rng.integers(-2, 3))} if arrays[0].ndim else None


def _piece(rng, pieces: list) -> int | None:
    full = [i for i, p in enumerate(pieces) if p.size]
    return int(rng.choice(full)) if full else None


def split_params(equal: bool, axis: int | None):
    """split (`equal` sections) or array_split, along `axis` (None: any): sections or split points, and
    which piece to return; hsplit, vsplit, dsplit give their axis (hsplit: 1, or 0 for a vector)."""

    def params(rng, arrays, margin):
        x = arrays[0]
        if axis is None:
            if x.ndim == 0:
                return None
            ax = int(rng.integers(-x.ndim, x.ndim))
        else:
            if x.ndim < {0: 2, 1: 1, 2: 3}[axis]:  # vsplit, hsplit, dsplit
                return None
            ax = 0 if axis == 1 and x.ndim == 1 else axis
        n = x.shape[ax]
        if rng.random() < 0.5:
            divisors = [d for d in range(1, n + 1) if n % d == 0] if equal else list(range(1, n + 2))
            sections: Any = int(rng.choice(divisors))
        else:
            sections = sorted(int(i) for i in rng.integers(-1, n + 2, size=int(rng.integers(1, 4))))
        pieces = np.array_split(x, sections, axis=ax)
        piece = _piece(rng, pieces)
        if piece is None:
            return None
        p = {"indices_or_sections": sections, "piece": piece}
        if axis is None:
            p["axis"] = ax
        return p

    return params


def atleast_none(rng, arrays, margin):
    return {}


def pad_params(rng, arrays, margin):
    """pad: pad widths (an int, a pair, or a pair per axis), a mode, and a constant for "constant"."""
    x = arrays[0]
    mode = str(rng.choice(["constant", "edge", "reflect", "symmetric", "wrap"]))
    if mode != "constant" and 0 in x.shape:
        return None
    form = int(rng.integers(3))
    if form == 0:
        width: Any = int(rng.integers(0, 3))
    elif form == 1:
        width = tuple(int(w) for w in rng.integers(0, 3, size=2))
    else:
        width = tuple(tuple(int(w) for w in rng.integers(0, 4, size=2)) for _ in range(x.ndim))
    p = {"pad_width": width, "mode": mode}
    if mode == "constant" and rng.random() < 0.5:
        p["constant_values"] = float(np.round(rng.uniform(-2, 2), 2))
    return p


def torch_pad(torch: Any, a: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0) -> Any:
    """np.pad in PyTorch: constant by torch.nn.functional.pad; the others gather along each axis the
    positions ``np.pad(np.arange(n), ...)`` names."""
    if a.ndim == 0:  # numpy pads a scalar with nothing
        return a.clone()
    widths = np.broadcast_to(np.asarray(pad_width, dtype=int), (a.ndim, 2)).tolist()
    if mode == "constant":
        flat = [w for pair in reversed(widths) for w in pair]
        return torch.nn.functional.pad(a, flat, value=constant_values) if flat else a.clone()
    for ax, (before, after) in enumerate(widths):
        idx = np.pad(np.arange(a.shape[ax]), (before, after), mode=mode)
        a = torch.index_select(a, ax, torch.as_tensor(idx))
    return a


def take_params(rng, arrays, margin):
    """take: indices (a scalar, a vector or a matrix, repeats and negatives) into an axis or the flattened input."""
    x = arrays[0]
    if x.size == 0:
        return None
    axis = None if x.ndim == 0 or rng.random() < 0.3 else int(rng.integers(-x.ndim, x.ndim))
    n = x.size if axis is None else x.shape[axis]
    kind = int(rng.integers(3))
    shape = () if kind == 0 else (int(rng.integers(1, 5)),) if kind == 1 else (2, int(rng.integers(1, 3)))
    idx = rng.integers(-n, n, size=shape)
    return {"indices": int(idx) if kind == 0 else idx, "axis": axis}


def torch_take(torch: Any, a: Any, indices: Any, axis: Any) -> Any:
    idx = torch.as_tensor(np.asarray(indices))
    if axis is None:
        return a.reshape(-1)[idx]
    return a[(slice(None),) * (axis % a.ndim) + (idx,)]


def along_axis(rng, arrays, margin):
    """take_along_axis: non-negative indices (repeats too) with the input's axes, the axis's of any
    length, the others of its length or 1."""
    x = arrays[0]
    if x.ndim == 0 or x.size == 0:
        return None
    ax = int(rng.integers(x.ndim))
    shape = [1 if rng.random() < 0.2 else n for n in x.shape]
    shape[ax] = int(rng.integers(1, 4))
    return {"indices": rng.integers(0, x.shape[ax], size=shape), "axis": _maybe_negative(rng, ax, x.ndim)}


def put_along(rng, arrays, margin):
    """put_along_axis: an axis and distinct indices along it (their shape broadcasting the values)."""
    x, v = arrays
    if x.ndim == 0 or v.ndim > x.ndim:
        return None
    ax = int(rng.integers(x.ndim))
    vs = (1,) * (x.ndim - v.ndim) + v.shape
    m = vs[ax] if vs[ax] <= x.shape[ax] else None
    if m is None:
        return None
    shape = list(x.shape)
    shape[ax] = m if m > 1 else int(rng.integers(1, x.shape[ax] + 1))
    if not _broadcasts(v.shape, tuple(shape)) or np.broadcast_shapes(v.shape, tuple(shape)) != tuple(shape):
        return None
    moved = np.moveaxis(np.zeros(shape, dtype=int), ax, -1)
    for pos in np.ndindex(moved.shape[:-1]):
        moved[pos] = rng.permutation(x.shape[ax])[: shape[ax]]
    return {"indices": np.moveaxis(moved, -1, ax), "axis": _maybe_negative(rng, ax, x.ndim)}


def torch_put_along(torch: Any, a: Any, v: Any, indices: Any, axis: int) -> Any:
    idx = torch.as_tensor(indices)
    return a.scatter(axis % a.ndim, idx, v.expand(idx.shape))


def put_fits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.ndim > 0 and b.ndim <= a.ndim and _broadcasts(a.shape, b.shape)


def put_partner(rng: np.random.Generator, shape: tuple) -> tuple:
    return tuple(1 if rng.random() < 0.5 else n for n in shape)


def append_axis(rng, arrays, margin):
    """append: None (both flattened), or an axis along which only the lengths differ."""
    a, b = arrays
    axes = []
    if a.ndim and a.ndim == b.ndim:
        axes = [ax for ax in range(a.ndim) if all(a.shape[i] == b.shape[i] for i in range(a.ndim) if i != ax)]
    if not axes or rng.random() < 0.3:
        return {"axis": None}
    return {"axis": _maybe_negative(rng, int(rng.choice(axes)), a.ndim)}


def stacks_with(numpy_fn):
    """fits for hstack, vstack, dstack, column_stack: numpy joins arrays of these shapes."""

    def fits(a: np.ndarray, b: np.ndarray) -> bool:
        try:
            numpy_fn([np.empty(a.shape), np.empty(b.shape)])
        except ValueError:
            return False
        return True

    return fits


# ----- input shapes of the plumbing's descriptions ------------------------------------------------------

NOT_SCALAR = (((4,),), ((3, 4),), ((1, 4),), ((3, 1),), ((2, 3, 4),))
MATRICES = (((3, 4),), ((4, 3),), ((1, 4),), ((3, 1),), ((2, 3, 4),))
