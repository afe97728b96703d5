"""Array plumbing with numpy's names and rules: axes, flips and rotations, repeats, tiles and rolls,
diagonals and triangles (splits and stacks are in `joins`, padding and gathers in `gather`).

Each is written with the primitive shape ops (reshape, transpose, broadcast_to, concatenate,
getitem and its scatter `IndexAdd`) and `where`, so its gradient, and the gradient of that, come
from theirs: an element repeated (``repeat``, ``tile``) sums the gradients of its copies. Each
function's ``description`` says how to call, sample and cross-check it (`tinygraph.ops.describe`).

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> tg.repeat(x, [2, 0, 1]).sum().backward()
>>> x.grad.tolist()
[2.0, 0.0, 1.0]
>>> tg.rot90(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()  # plain arrays in, a plain array out
[[2.0, 4.0], [1.0, 3.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygraph.ops import vocab_samplers as vs
from tinygraph.ops._common import norm_axis, to_tensor, value
from tinygraph.ops.describe import Description, describes
from tinygraph.ops.elementwise import where
from tinygraph.ops.shape import IndexAdd, broadcast_to, concatenate, getitem, reshape, transpose


def axis_index(axis: Any, ndim: int, op: str, shape: tuple) -> int:
    """One axis (an int, maybe negative) as a non-negative one; errors name `op` and `shape`."""
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    (ax,) = norm_axis(axis, ndim, op, shape)
    return ax


def along(ax: int, index: Any) -> tuple:
    """The index that applies `index` to axis `ax` (``x[along(1, i)]`` is ``x[:, i]``)."""
    return (slice(None),) * ax + (index,)


def int_indices(x: Any, op: str) -> np.ndarray:
    """Indices (ints, lists, arrays or a Tensor of ints) as an intp array."""
    idx = np.asarray(value(x))
    if idx.dtype.kind not in "iu" and not (idx.dtype.kind == "b" and idx.ndim == 0) and idx.size:
        raise IndexError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    return idx.astype(np.intp, copy=False)


def check_in_range(idx: np.ndarray, n: int, op: str, ax: int, shape: tuple) -> None:
    """Raise numpy's IndexError, naming `op`, if an index is outside [-n, n)."""
    if idx.size and (idx.max() >= n or idx.min() < -n):
        bad = idx.max() if idx.max() >= n else idx.min()
        raise IndexError(f"{op}: index {bad} is out of bounds for axis {ax} with size {n} (shape {shape})")


# ----- axes: ravel, swapaxes, moveaxis, flips, rot90 ----------------------------------------------------


@describes(Description("ravel", numpy=np.ravel, torch=lambda t, a: a.reshape(-1)))
def ravel(a: Any) -> Any:
    """The elements as a 1-D tensor, in C order (``np.ravel``)."""
    a = to_tensor(a, "ravel")
    return reshape(a, (a.size,))


@describes(
    Description(
        "swapaxes",
        args=("axis1", "axis2"),
        params=vs.two_axes,
        numpy=np.swapaxes,
        torch=lambda t, a, axis1, axis2: t.swapaxes(a, axis1, axis2),
        shapes=vs.NOT_SCALAR,
    )
)
def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Interchange two axes (``np.swapaxes``)."""
    a = to_tensor(a, "swapaxes")
    i, j = axis_index(axis1, a.ndim, "swapaxes", a.shape), axis_index(axis2, a.ndim, "swapaxes", a.shape)
    if i == j:
        return a
    perm = list(range(a.ndim))
    perm[i], perm[j] = j, i
    return transpose(a, perm)


@describes(
    Description(
        "moveaxis",
        args=("source", "destination"),
        params=vs.move_axes,
        numpy=np.moveaxis,
        torch=lambda t, a, source, destination: t.movedim(a, source, destination),
        shapes=vs.NOT_SCALAR,
    )
)
def moveaxis(a: Any, source: Any, destination: Any) -> Any:
    """Move axes to new places, the others keeping their order (``np.moveaxis``)."""
    a = to_tensor(a, "moveaxis")
    src = norm_axis(source, a.ndim, "moveaxis", a.shape)
    dst = norm_axis(destination, a.ndim, "moveaxis", a.shape)
    single = isinstance(source, (int, np.integer)), isinstance(destination, (int, np.integer))
    src = (src[0],) if single[0] else tuple(int(s) % a.ndim for s in source)  # in the order given
    dst = (dst[0],) if single[1] else tuple(int(d) % a.ndim for d in destination)
    if len(src) != len(dst):
        raise ValueError(f"moveaxis: {len(src)} source axes but {len(dst)} destinations (shape {a.shape})")
    order = [n for n in range(a.ndim) if n not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return a if order == list(range(a.ndim)) else transpose(a, order)


@describes(
    Description(
        "flip",
        args=("axis",),
        params=vs.flip_axes,
        numpy=lambda a, axis: np.flip(a, axis),
        torch=lambda t, a, axis: t.flip(
            a, tuple(range(a.ndim)) if axis is None else (axis,) if isinstance(axis, int) else axis
        ),
    )
)
def flip(m: Any, axis: Any = None) -> Any:
    """Reverse the order of elements along `axis` (None: every axis), as ``np.flip``."""
    m = to_tensor(m, "flip")
    axes = norm_axis(axis, m.ndim, "flip", m.shape) if axis is not None or m.ndim else ()
    axes = range(m.ndim) if axes is None else axes
    if not axes:
        return m
    return getitem(m, tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(m.ndim)))


@describes(Description("fliplr", numpy=np.fliplr, torch=lambda t, a: t.fliplr(a), shapes=vs.MATRICES))
def fliplr(m: Any) -> Any:
    """Reverse axis 1 (left to right), as ``np.fliplr``; needs at least 2 axes."""
    m = to_tensor(m, "fliplr")
    if m.ndim < 2:
        raise ValueError(f"fliplr: needs at least 2 axes, got shape {m.shape}")
    return flip(m, 1)


@describes(Description("flipud", numpy=np.flipud, torch=lambda t, a: t.flipud(a), shapes=vs.NOT_SCALAR))
def flipud(m: Any) -> Any:
    """Reverse axis 0 (up to down), as ``np.flipud``; needs at least 1 axis."""
    m = to_tensor(m, "flipud")
    if m.ndim < 1:
        raise ValueError(f"flipud: needs at least 1 axis, got shape {m.shape}")
    return flip(m, 0)


@describes(
    Description(
        "rot90",
        args=("k", "axes"),
        params=vs.rot90_params,
        numpy=lambda a, k, axes: np.rot90(a, k, axes),
        torch=lambda t, a, k, axes: t.rot90(a, k, axes),
        shapes=vs.MATRICES,
    )
)
def rot90(m: Any, k: int = 1, axes: Sequence[int] = (0, 1)) -> Any:
    """Rotate by 90 degrees `k` times in the plane of `axes`, from the first towards the second
    (``np.rot90``)."""
    m = to_tensor(m, "rot90")
    axes = tuple(axes)
    if len(axes) != 2:
        raise ValueError(f"rot90: axes must be two axes, got {axes}")
    if m.ndim < 2:
        raise ValueError(f"rot90: needs at least 2 axes, got shape {m.shape}")
    i, j = norm_axis(axes[0], m.ndim, "rot90", m.shape)[0], norm_axis(axes[1], m.ndim, "rot90", m.shape)[0]
    if i == j:
        raise ValueError(f"rot90: axes {axes} must be different (shape {m.shape})")
    k = int(k) % 4
    if k == 0:
        return m
    if k == 2:
        return flip(m, (i, j))
    perm = list(range(m.ndim))
    perm[i], perm[j] = j, i
    return transpose(flip(m, j), perm) if k == 1 else flip(transpose(m, perm), j)


# ----- copies: repeat, tile, roll -------------------------------------------------------------------


@describes(
    Description(
        "repeat",
        args=("repeats", "axis"),
        params=vs.repeat_params,
        numpy=lambda a, repeats, axis: np.repeat(a, repeats, axis),
        torch=lambda t, a, repeats, axis: t.repeat_interleave(
            a, t.as_tensor(repeats) if isinstance(repeats, list) else repeats, dim=axis
        ),
    )
)
def repeat(a: Any, repeats: Any, axis: int | None = None) -> Any:
    """Repeat each element `repeats` times (an int, or one count per element) along `axis`
    (None: of the flattened input), as ``np.repeat``. The gradient sums over the copies."""
    a = to_tensor(a, "repeat")
    if axis is None:
        a, ax = ravel(a), 0
    else:
        ax = axis_index(axis, a.ndim, "repeat", a.shape)
    counts = int_indices(repeats, "repeat")
    try:
        idx = np.repeat(np.arange(a.shape[ax]), counts)
    except ValueError as e:
        raise ValueError(f"repeat: repeats {repeats!r} for axis {ax} of shape {a.shape}: {e}") from None
    return getitem(a, along(ax, idx))


@describes(
    Description(
        "tile",
        args=("reps",),
        params=vs.tile_reps,
        numpy=lambda a, reps: np.tile(a, reps),
        torch=lambda t, a, reps: t.tile(a, (reps,) if isinstance(reps, int) else reps),
    )
)
def tile(A: Any, reps: Any) -> Any:  # noqa: N803 - numpy's name
    """`A` repeated `reps` times along each axis (``np.tile``): the shorter of A's shape and reps is
    padded with leading ones. One broadcast of interleaved axes, reshaped."""
    a = to_tensor(A, "tile")
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    if any(not isinstance(r, (int, np.integer)) or r < 0 for r in reps):
        raise ValueError(f"tile: reps must be non-negative ints, got {reps} (shape {a.shape})")
    nd = max(len(reps), a.ndim)
    shape = (1,) * (nd - a.ndim) + a.shape
    reps = (1,) * (nd - len(reps)) + tuple(int(r) for r in reps)
    x = reshape(a, tuple(n for s in shape for n in (1, s)))
    x = broadcast_to(x, tuple(n for r, s in zip(reps, shape) for n in (r, s)))
    return reshape(x, tuple(r * s for r, s in zip(reps, shape)))


@describes(
    Description(
        "roll",
        args=("shift", "axis"),
        params=vs.roll_params,
        numpy=lambda a, shift, axis: np.roll(a, shift, axis),
        torch=lambda t, a, shift, axis: t.roll(a, shift, axis) if axis is not None else t.roll(a, shift),
    )
)
def roll(a: Any, shift: Any, axis: Any = None) -> Any:
    """Shift elements along axes, those falling off one end coming back at the other (``np.roll``;
    `axis` None rolls the flattened input; shifts on one axis add up)."""
    a = to_tensor(a, "roll")
    if axis is None:
        return reshape(roll(ravel(a), shift, 0), a.shape)
    try:
        pairs = np.broadcast(np.asarray(shift), np.asarray(axis))
    except ValueError:
        raise ValueError(f"roll: shift {shift!r} and axis {axis!r} do not match (shape {a.shape})") from None
    total: dict[int, int] = {}
    for s, ax in pairs:
        ax = axis_index(int(ax), a.ndim, "roll", a.shape)
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        n = a.shape[ax]
        s = s % n if n else 0
        if s:
            a = concatenate([getitem(a, along(ax, slice(n - s, None))), getitem(a, along(ax, slice(None, n - s)))], ax)
    return a


# ----- diagonals and triangles ------------------------------------------------------------------------


def _diagonal_positions(n1: int, n2: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    if offset >= 0:
        rows = np.arange(max(0, min(n1, n2 - offset)))
        return rows, rows + offset
    cols = np.arange(max(0, min(n1 + offset, n2)))
    return cols - offset, cols


@describes(
    Description(
        "diagonal",
        args=("offset", "axis1", "axis2"),
        params=vs.diagonal_params,
        numpy=lambda a, **p: np.diagonal(a, **p),
        torch=lambda t, a, offset, axis1, axis2: t.diagonal(a, offset, axis1, axis2),
        shapes=vs.MATRICES + (((3, 3),),),
    )
)
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal `offset` above the main one of the planes of `axis1` and `axis2`, as
    ``np.diagonal``: those axes are removed and the diagonal is the last axis."""
    a = to_tensor(a, "diagonal")
    if a.ndim < 2:
        raise ValueError(f"diagonal: needs at least 2 axes, got shape {a.shape}")
    i, j = axis_index(axis1, a.ndim, "diagonal", a.shape), axis_index(axis2, a.ndim, "diagonal", a.shape)
    if i == j:
        raise ValueError(f"diagonal: axis1 and axis2 are both axis {i} (shape {a.shape})")
    rows, cols = _diagonal_positions(a.shape[i], a.shape[j], int(offset))
    perm = [n for n in range(a.ndim) if n not in (i, j)] + [i, j]
    b = a if perm == list(range(a.ndim)) else transpose(a, perm)
    return getitem(b, (Ellipsis, rows, cols))


@describes(
    Description(
        "diag",
        args=("k",),
        params=vs.diag_offset,
        numpy=lambda a, k: np.diag(a, k),
        torch=lambda t, a, k: t.diag(a, k),
        shapes=(((3,),), ((1,),), ((3, 4),), ((3, 3),), ((4, 1),)),
    )
)
def diag(v: Any, k: int = 0) -> Any:
    """A 1-D `v` as the `k`-th diagonal of a square matrix of zeros, or a 2-D `v`'s `k`-th
    diagonal (``np.diag``)."""
    v = to_tensor(v, "diag")
    if v.ndim == 2:
        return diagonal(v, k)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1-D or 2-D, got shape {v.shape}")
    n = v.shape[0] + abs(int(k))
    rows, cols = _diagonal_positions(n, n, int(k))
    return IndexAdd.apply(v, (n, n), (rows, cols))


def _triangle(m: Any, k: int, op: str, upper: bool) -> Any:
    m = to_tensor(m, op)
    if m.ndim == 0:
        raise ValueError(f"{op}: needs at least 1 axis, got shape {m.shape}")
    below = np.tri(*m.shape[-2:], k=int(k) - 1 if upper else int(k), dtype=bool)
    return where(below, 0, m) if upper else where(below, m, 0)


@describes(
    Description(
        "triu",
        args=("k",),
        params=vs.tri_offset,
        numpy=lambda a, k: np.triu(a, k),
        torch=lambda t, a, k: t.triu(a if a.ndim > 1 else a.expand(a.shape[0], a.shape[0]), k),
        shapes=vs.NOT_SCALAR,
    )
)
def triu(m: Any, k: int = 0) -> Any:
    """The upper triangle (on and above diagonal `k`) of the last two axes, zeros below (``np.triu``;
    a 1-D input is taken as the rows of a square matrix)."""
    return _triangle(m, k, "triu", upper=True)


@describes(
    Description(
        "tril",
        args=("k",),
        params=vs.tri_offset,
        numpy=lambda a, k: np.tril(a, k),
        torch=lambda t, a, k: t.tril(a if a.ndim > 1 else a.expand(a.shape[0], a.shape[0]), k),
        shapes=vs.NOT_SCALAR,
    )
)
def tril(m: Any, k: int = 0) -> Any:
    """The lower triangle (on and below diagonal `k`) of the last two axes, zeros above (``np.tril``)."""
    return _triangle(m, k, "tril", upper=False)
