"""Array plumbing with numpy's names and rules: flips, rolls, repeats, tiles, diagonals, triangles,
splits, stacks, padding and gathers along an axis.

Each is written with the primitive shape ops (reshape, transpose, broadcast_to, concatenate,
getitem and its scatter `IndexAdd`) and `where`, so its gradient, and the gradient of that, come
from theirs: a gather with repeated positions (``repeat``, ``take``, ``pad`` with "edge") sums
the gradients of the copies. The split family returns a list of basic slices of the input, each
its own differentiable ``getitem`` node (views, as numpy's pieces are). Each function's
``description`` says how to call, sample and cross-check it (`tinygraph.ops.describe`).

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> y = tg.take(x, [0, 0, 2])
>>> y.sum().backward()
>>> x.grad.tolist()
[2.0, 0.0, 1.0]
>>> [p.tolist() for p in tg.split(np.arange(4.0), 2)]  # plain arrays in, plain arrays out
[[0.0, 1.0], [2.0, 3.0]]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygraph.ops import samplers
from tinygraph.ops import vocab_samplers as vs
from tinygraph.ops._common import norm_axis, pair, to_tensor, value
from tinygraph.ops.describe import ONE_INPUT_SHAPES, Description, describes
from tinygraph.ops.elementwise import astype, where
from tinygraph.ops.shape import IndexAdd, broadcast_to, concatenate, getitem, reshape, transpose

_NOT_SCALAR = ONE_INPUT_SHAPES[1:]
_MATRICES = (((3, 4),), ((4, 3),), ((1, 4),), ((3, 1),), ((2, 3, 4),))


def _axis(axis: Any, ndim: int, op: str, shape: tuple) -> int:
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    (ax,) = norm_axis(axis, ndim, op, shape)
    return ax


def _along(ax: int, index: Any) -> tuple:
    return (slice(None),) * ax + (index,)


def _int_array(x: Any, op: str) -> np.ndarray:
    idx = np.asarray(value(x))
    if idx.dtype.kind not in "iu" and not (idx.dtype.kind == "b" and idx.ndim == 0) and idx.size:
        raise IndexError(f"{op}: indices must be integers, got dtype {idx.dtype}")
    return idx.astype(np.intp, copy=False)


def _in_range(idx: np.ndarray, n: int, op: str, ax: int, shape: tuple) -> None:
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
        shapes=_NOT_SCALAR,
    )
)
def swapaxes(a: Any, axis1: int, axis2: int) -> Any:
    """Interchange two axes (``np.swapaxes``)."""
    a = to_tensor(a, "swapaxes")
    i, j = _axis(axis1, a.ndim, "swapaxes", a.shape), _axis(axis2, a.ndim, "swapaxes", a.shape)
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
        shapes=_NOT_SCALAR,
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


@describes(Description("fliplr", numpy=np.fliplr, torch=lambda t, a: t.fliplr(a), shapes=_MATRICES))
def fliplr(m: Any) -> Any:
    """Reverse axis 1 (left to right), as ``np.fliplr``; needs at least 2 axes."""
    m = to_tensor(m, "fliplr")
    if m.ndim < 2:
        raise ValueError(f"fliplr: needs at least 2 axes, got shape {m.shape}")
    return flip(m, 1)


@describes(Description("flipud", numpy=np.flipud, torch=lambda t, a: t.flipud(a), shapes=_NOT_SCALAR))
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
        shapes=_MATRICES,
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
        ax = _axis(axis, a.ndim, "repeat", a.shape)
    counts = _int_array(repeats, "repeat")
    try:
        idx = np.repeat(np.arange(a.shape[ax]), counts)
    except ValueError as e:
        raise ValueError(f"repeat: repeats {repeats!r} for axis {ax} of shape {a.shape}: {e}") from None
    return getitem(a, _along(ax, idx))


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
        ax = _axis(int(ax), a.ndim, "roll", a.shape)
        total[ax] = total.get(ax, 0) + int(s)
    for ax, s in total.items():
        n = a.shape[ax]
        s = s % n if n else 0
        if s:
            a = concatenate(
                [getitem(a, _along(ax, slice(n - s, None))), getitem(a, _along(ax, slice(None, n - s)))], ax
            )
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
        shapes=_MATRICES + (((3, 3),),),
    )
)
def diagonal(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The diagonal `offset` above the main one of the planes of `axis1` and `axis2`, as
    ``np.diagonal``: those axes are removed and the diagonal is the last axis."""
    a = to_tensor(a, "diagonal")
    if a.ndim < 2:
        raise ValueError(f"diagonal: needs at least 2 axes, got shape {a.shape}")
    i, j = _axis(axis1, a.ndim, "diagonal", a.shape), _axis(axis2, a.ndim, "diagonal", a.shape)
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
        shapes=_NOT_SCALAR,
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
        shapes=_NOT_SCALAR,
    )
)
def tril(m: Any, k: int = 0) -> Any:
    """The lower triangle (on and below diagonal `k`) of the last two axes, zeros above (``np.tril``)."""
    return _triangle(m, k, "tril", upper=False)


# ----- splits: lists of slices, each its own differentiable node ----------------------------------------


def _torch_split(t: Any, a: Any, sections: Any, axis: int) -> list:
    """numpy's array_split in PyTorch: int sections by tensor_split, split points by slicing."""
    if isinstance(sections, int):
        return t.tensor_split(a, sections, dim=axis)
    points = [0, *sections, a.shape[axis]]
    return [a[(slice(None),) * (axis % a.ndim) + (slice(s, e),)] for s, e in zip(points[:-1], points[1:])]


def _split(a: Any, sections: Any, axis: int, op: str, equal: bool) -> list:
    ax = _axis(axis, a.ndim, op, a.shape) if a.ndim else None
    if ax is None:
        raise ValueError(f"{op}: cannot split a scalar (shape {a.shape})")
    n = a.shape[ax]
    if isinstance(sections, (int, np.integer)):
        count = int(sections)
        if count <= 0:
            raise ValueError(f"{op}: number of sections must be larger than 0, got {count}")
        if equal and n % count:
            raise ValueError(f"{op}: axis {ax} of shape {a.shape} does not split into {count} equal sections")
        each, extra = divmod(n, count)
        points = np.cumsum([0] + extra * [each + 1] + (count - extra) * [each]).tolist()
    else:
        points = [0, *(int(i) for i in sections), n]
    return [getitem(a, _along(ax, slice(s, e))) for s, e in zip(points[:-1], points[1:])]


def _split_description(name: str, numpy_fn: Any, torch_fn: Any, equal: bool, axis: int | None) -> Description:
    args = ("indices_or_sections", "axis") if axis is None else ("indices_or_sections",)
    where_axis = ", axis={axis}" if axis is None else ""
    return Description(
        name,
        args=args,
        params=vs.split_params(equal, axis),
        call=lambda a, indices_or_sections, piece, **p: globals()[name](a, indices_or_sections, **p)[piece],
        numpy=lambda a, indices_or_sections, piece, **p: numpy_fn(a, indices_or_sections, **p)[piece],
        torch=lambda t, a, indices_or_sections, piece, **p: torch_fn(t, a, indices_or_sections, **p)[piece],
        source=f"tg.{name}({{0}}, {{indices_or_sections}}{where_axis})[{{piece}}]",
        shapes={None: _NOT_SCALAR, 1: _NOT_SCALAR, 0: _MATRICES}.get(axis, (((2, 3, 4),), ((1, 2, 2),))),
    )


def _torch_axis_split(axis: int) -> Any:
    def split(t: Any, a: Any, sections: Any) -> list:
        return _torch_split(t, a, sections, 0 if axis == 1 and a.ndim == 1 else axis)

    return split


@describes(_split_description("split", np.split, lambda t, a, s, axis=0: _torch_split(t, a, s, axis), True, None))
def split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """Split into equal sections (an int) or at the given indices along `axis`, as ``np.split``: a
    list of views (each a differentiable slice of `ary`)."""
    return _split(to_tensor(ary, "split"), indices_or_sections, axis, "split", equal=True)


@describes(
    _split_description("array_split", np.array_split, lambda t, a, s, axis=0: _torch_split(t, a, s, axis), False, None)
)
def array_split(ary: Any, indices_or_sections: Any, axis: int = 0) -> list:
    """`split` that allows sections of unequal length (the first ones one longer), as ``np.array_split``."""
    return _split(to_tensor(ary, "array_split"), indices_or_sections, axis, "array_split", equal=False)


@describes(_split_description("hsplit", np.hsplit, _torch_axis_split(1), True, 1))
def hsplit(ary: Any, indices_or_sections: Any) -> list:
    """`split` along axis 1 (axis 0 for a 1-D input), as ``np.hsplit``."""
    a = to_tensor(ary, "hsplit")
    if a.ndim == 0:
        raise ValueError("hsplit: needs at least 1 axis, got shape ()")
    return _split(a, indices_or_sections, 1 if a.ndim > 1 else 0, "hsplit", equal=True)


@describes(_split_description("vsplit", np.vsplit, _torch_axis_split(0), True, 0))
def vsplit(ary: Any, indices_or_sections: Any) -> list:
    """`split` along axis 0 of an input with at least 2 axes, as ``np.vsplit``."""
    a = to_tensor(ary, "vsplit")
    if a.ndim < 2:
        raise ValueError(f"vsplit: needs at least 2 axes, got shape {a.shape}")
    return _split(a, indices_or_sections, 0, "vsplit", equal=True)


@describes(_split_description("dsplit", np.dsplit, _torch_axis_split(2), True, 2))
def dsplit(ary: Any, indices_or_sections: Any) -> list:
    """`split` along axis 2 of an input with at least 3 axes, as ``np.dsplit``."""
    a = to_tensor(ary, "dsplit")
    if a.ndim < 3:
        raise ValueError(f"dsplit: needs at least 3 axes, got shape {a.shape}")
    return _split(a, indices_or_sections, 2, "dsplit", equal=True)


# ----- at least n axes, and the stacks --------------------------------------------------------------


def _atleast(arys: tuple, op: str, shape_of: Any) -> Any:
    out = []
    for x in arys:
        x = to_tensor(x, op)
        out.append(reshape(x, shape_of(x.shape)))
    return out[0] if len(out) == 1 else tuple(out)


@describes(Description("atleast_1d", numpy=np.atleast_1d, torch=lambda t, a: t.atleast_1d(a)))
def atleast_1d(*arys: Any) -> Any:
    """Each input with at least 1 axis (a scalar becomes shape (1,)); one input gives one tensor,
    several a tuple (``np.atleast_1d``)."""
    return _atleast(arys, "atleast_1d", lambda s: s if s else (1,))


@describes(Description("atleast_2d", numpy=np.atleast_2d, torch=lambda t, a: t.atleast_2d(a)))
def atleast_2d(*arys: Any) -> Any:
    """Each input with at least 2 axes: () becomes (1, 1), (n,) becomes (1, n) (``np.atleast_2d``)."""
    return _atleast(arys, "atleast_2d", lambda s: s if len(s) >= 2 else (1,) * (2 - len(s)) + s)


@describes(Description("atleast_3d", numpy=np.atleast_3d, torch=lambda t, a: t.atleast_3d(a)))
def atleast_3d(*arys: Any) -> Any:
    """Each input with at least 3 axes: () becomes (1, 1, 1), (n,) (1, n, 1), (m, n) (m, n, 1)
    (``np.atleast_3d``)."""
    return _atleast(
        arys, "atleast_3d", lambda s: s if len(s) >= 3 else {0: (1, 1, 1), 1: (1, *s, 1), 2: (*s, 1)}[len(s)]
    )


def _stack_description(name: str, numpy_fn: Any, shapes: tuple) -> Description:
    return Description(
        name,
        inputs=2,
        call=lambda a, b: globals()[name]([a, b]),
        numpy=lambda a, b: numpy_fn([a, b]),
        torch=lambda t, a, b: getattr(t, name)([a, b]),
        source=f"tg.{name}([{{0}}, {{1}}])",
        shapes=shapes,
        fits=vs.stacks_with(numpy_fn),
        partner=samplers.same_partner,
    )


def _join(tup: Sequence[Any], op: str) -> list:
    if isinstance(tup, (np.ndarray,)) or not isinstance(tup, (list, tuple)):
        raise TypeError(f"{op}: needs a list or tuple of tensors, got {type(tup).__name__}")
    if not tup:
        raise ValueError(f"{op}: needs at least one tensor")
    return [to_tensor(x, op) for x in tup]


def _concatenate(ts: list, axis: int, op: str) -> Any:
    try:
        return concatenate(ts, axis)
    except ValueError:
        raise ValueError(f"{op}: shapes {', '.join(str(t.shape) for t in ts)} cannot be joined") from None


@describes(_stack_description("hstack", np.hstack, (((3,), (2,)), ((2, 3), (2, 1)), ((), ()), ((2, 1, 3), (2, 2, 3)))))
def hstack(tup: Sequence[Any]) -> Any:
    """Join along axis 1 (axis 0 for 1-D inputs; scalars become 1-D), as ``np.hstack``."""
    ts = [atleast_1d(t) for t in _join(tup, "hstack")]
    return _concatenate(ts, 0 if ts[0].ndim == 1 else 1, "hstack")


@describes(_stack_description("vstack", np.vstack, (((3,), (3,)), ((2, 3), (1, 3)), ((), ()), ((2, 3), (3,)))))
def vstack(tup: Sequence[Any]) -> Any:
    """Join along axis 0 after `atleast_2d` (1-D inputs are rows), as ``np.vstack``."""
    return _concatenate([atleast_2d(t) for t in _join(tup, "vstack")], 0, "vstack")


@describes(_stack_description("dstack", np.dstack, (((3,), (3,)), ((2, 3), (2, 3)), ((), ()), ((2, 3, 1), (2, 3, 2)))))
def dstack(tup: Sequence[Any]) -> Any:
    """Join along axis 2 after `atleast_3d`, as ``np.dstack``."""
    return _concatenate([atleast_3d(t) for t in _join(tup, "dstack")], 2, "dstack")


@describes(
    _stack_description("column_stack", np.column_stack, (((3,), (3,)), ((3, 2), (3,)), ((), ()), ((2, 3), (2, 1))))
)
def column_stack(tup: Sequence[Any]) -> Any:
    """Join 1-D inputs as columns (and 2-D ones as they are) along axis 1, as ``np.column_stack``."""
    ts = [t if t.ndim >= 2 else reshape(t, (t.size, 1)) for t in _join(tup, "column_stack")]
    return _concatenate(ts, 1, "column_stack")


@describes(
    Description(
        "append",
        args=("axis",),
        inputs=2,
        params=vs.append_axis,
        numpy=lambda a, b, axis: np.append(a, b, axis),
        torch=lambda t, a, b, axis: t.cat([a.reshape(-1), b.reshape(-1)]) if axis is None else t.cat([a, b], axis),
        shapes=(((2, 3), (4, 3)), ((3,), (2,)), ((2, 3), (2, 1)), ((), (3,)), ((2, 1, 3), (2, 2, 3))),
        fits=vs.any_pair,
        partner=samplers.join_partner,
    )
)
def append(arr: Any, values: Any, axis: int | None = None) -> Any:
    """`values` joined after `arr` along `axis` (None: both flattened), as ``np.append``."""
    a, b = pair(arr, values, "append")
    if axis is None:
        return concatenate([ravel(a), ravel(b)], 0)
    if a.ndim != b.ndim:
        raise ValueError(f"append: shapes {a.shape} and {b.shape} have different numbers of axes (axis={axis})")
    return _concatenate([a, b], axis, "append")


# ----- padding ----------------------------------------------------------------------------------


def _pairs(width: Any, ndim: int, shape: tuple, what: str) -> list[tuple]:
    w = np.asarray(value(width))
    if w.size and w.dtype.kind not in "iu":
        raise TypeError(f"pad: {what} must be ints, got {width!r}")
    if ndim == 0:  # numpy pads a scalar with nothing, whatever the widths
        return []
    try:
        pairs = np.broadcast_to(w, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: {what} {width!r} does not fit a tensor of shape {shape}") from None
    if (pairs < 0).any():
        raise ValueError(f"pad: {what} {width!r} has negative widths")
    return [(int(b), int(a)) for b, a in pairs]


@describes(
    Description(
        "pad",
        args=("pad_width", "mode", "constant_values"),
        params=vs.pad_params,
        numpy=lambda a, pad_width, mode, **kw: np.pad(a, pad_width, mode, **kw),
        torch=vs.torch_pad,
    )
)
def pad(
    array: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0, reflect_type: str = "even"
) -> Any:
    """Pad with `pad_width` (an int, a (before, after) pair, or a pair per axis), as ``np.pad``.

    Modes: "constant" (`constant_values`: a number, or pairs as pad_width), "edge", "reflect"
    (mirrored without the edge), "symmetric" (with it) and "wrap". The padded positions of the
    last four are copies, and their gradients add up onto the input.
    """
    a = to_tensor(array, "pad")
    widths = _pairs(pad_width, a.ndim, a.shape, "pad_width")
    if mode == "constant":
        if not any(b or e for b, e in widths):
            return a
        shape = tuple(n + b + e for n, (b, e) in zip(a.shape, widths))
        inside = tuple(slice(b, b + n) for n, (b, _) in zip(a.shape, widths))
        out = IndexAdd.apply(a, shape, inside)
        frame = np.pad(np.zeros(a.shape, a.dtype), widths, constant_values=np.asarray(value(constant_values)))
        return out + frame if frame.any() else out
    if mode not in ("edge", "reflect", "symmetric", "wrap"):
        raise ValueError(f"pad: mode {mode!r} is not supported; use constant, edge, reflect, symmetric or wrap")
    if reflect_type != "even":
        raise ValueError(f"pad: reflect_type {reflect_type!r} is not supported (only 'even', numpy's default)")
    for ax, (b, e) in enumerate(widths):
        if b or e:
            if a.shape[ax] == 0:
                raise ValueError(f"pad: cannot extend the empty axis {ax} of shape {a.shape} in mode {mode!r}")
            a = getitem(a, _along(ax, np.pad(np.arange(a.shape[ax]), (b, e), mode=mode)))
    return a


# ----- gathers and scatters ------------------------------------------------------------------------


@describes(
    Description(
        "take",
        args=("indices", "axis"),
        params=vs.take_params,
        numpy=lambda a, indices, axis: np.take(a, indices, axis),
        torch=vs.torch_take,
    )
)
def take(a: Any, indices: Any, axis: int | None = None, mode: str = "raise") -> Any:
    """Elements at `indices` along `axis` (None: of the flattened input), as ``np.take``; the result
    has the indices' shape in place of that axis. `mode` "raise" (out of range is an error), "wrap"
    or "clip". Repeated indices sum their gradients."""
    a = to_tensor(a, "take")
    if axis is None:
        a, ax = ravel(a), 0
    else:
        ax = _axis(axis, a.ndim, "take", a.shape)
    idx = _int_array(indices, "take")
    n = a.shape[ax]
    if mode == "wrap":
        idx = idx % n if n else idx
    elif mode == "clip":
        idx = np.clip(idx, 0, max(n - 1, 0))
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    _in_range(idx, n, "take", ax, a.shape)
    return getitem(a, _along(ax, int(idx) if idx.ndim == 0 else idx))


def _along_axis_index(arr: Any, indices: Any, axis: int, op: str) -> tuple:
    """numpy's fancy index of take_along_axis: the indices on `axis`, aranges on the other axes."""
    idx = _int_array(indices, op)
    if idx.ndim != arr.ndim:
        raise ValueError(f"{op}: indices of shape {idx.shape} need as many axes as arr of shape {arr.shape}")
    try:
        np.broadcast_shapes(tuple(1 if i == axis else n for i, n in enumerate(arr.shape)), idx.shape)
    except ValueError:
        raise ValueError(
            f"{op}: indices of shape {idx.shape} do not broadcast against arr of shape {arr.shape}"
        ) from None
    _in_range(idx, arr.shape[axis], op, axis, arr.shape)
    return tuple(
        idx if i == axis else np.arange(n).reshape((1,) * i + (n,) + (1,) * (arr.ndim - i - 1))
        for i, n in enumerate(arr.shape)
    )


@describes(
    Description(
        "take_along_axis",
        args=("indices", "axis"),
        params=vs.along_axis,
        numpy=lambda a, indices, axis: np.take_along_axis(a, indices, axis),
        torch=lambda t, a, indices, axis: t.take_along_dim(a, t.as_tensor(indices), axis),
        shapes=_NOT_SCALAR,
    )
)
def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Any:
    """Pick values along `axis` at `indices` (as many axes as arr, the others broadcasting), as
    ``np.take_along_axis``; `axis` None works on the flattened arr. Repeats sum their gradients."""
    arr = to_tensor(arr, "take_along_axis")
    if axis is None:
        arr, ax = ravel(arr), 0
    else:
        ax = _axis(axis, arr.ndim, "take_along_axis", arr.shape)
    return getitem(arr, _along_axis_index(arr, indices, ax, "take_along_axis"))


@describes(
    Description(
        "put_along_axis",
        args=("indices", "axis"),
        inputs=2,
        params=vs.put_along,
        call=lambda a, b, indices, axis: put_along_axis(a, indices, b, axis),
        source="tg.put_along_axis({0}, {indices}, {1}, {axis})",
        numpy=lambda a, b, indices, axis: _numpy_put(a, indices, b, axis),
        torch=lambda t, a, b, indices, axis: vs.torch_put_along(t, a, b, indices, axis),
        shapes=(((3, 4), (3, 1)), ((4,), (2,)), ((3, 4), (2, 4)), ((2, 3, 4), (1,)), ((3, 4), ())),
        fits=vs.put_fits,
        partner=vs.put_partner,
    )
)
def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None) -> Any:
    """A new tensor: `arr` with `values` (broadcast to the indices' shape) put at `indices` along
    `axis`, as ``np.put_along_axis`` does in place (`axis` None: into the flattened arr, the shape
    kept). Where an index repeats, the value written last is kept, as numpy keeps it, and only that
    value gets a gradient; arr's gradient is zero where it was written over."""
    a, v = pair(arr, values, "put_along_axis")
    if axis is None:
        flat = put_along_axis(ravel(a), indices, v, 0)
        return reshape(flat, a.shape)
    ax = _axis(axis, a.ndim, "put_along_axis", a.shape)
    index = _along_axis_index(a, indices, ax, "put_along_axis")
    target = np.broadcast_shapes(*(i.shape for i in index))
    try:
        if np.broadcast_shapes(v.shape, target) != target:
            raise ValueError
    except ValueError:
        raise ValueError(
            f"put_along_axis: values of shape {v.shape} do not broadcast to the indices' shape {target} (arr {a.shape})"
        ) from None
    ids = np.arange(math.prod(target)).reshape(target)
    last = np.full(a.shape, -1)
    last[index] = ids
    written = last >= 0
    kept = last[index] == ids
    if v.dtype != a.dtype:
        v = astype(v, a.dtype)
    v = broadcast_to(v, target)
    if not kept.all():
        v = where(kept, v, 0)
    return where(written, IndexAdd.apply(v, a.shape, index), a)


def _numpy_put(a: np.ndarray, indices: np.ndarray, values: np.ndarray, axis: int) -> np.ndarray:
    out = a.copy()
    np.put_along_axis(out, indices, values, axis)
    return out
