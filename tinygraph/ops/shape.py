"""Shape and indexing ops, and `sum_to`, the one helper that undoes broadcasting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygraph.function import Function
from tinygraph.ops._common import norm_axis, to_tensor
from tinygraph.tensor import Tensor


class Reshape(Function):
    name = "reshape"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, shape):
        return a._data.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return Reshape.apply(g, ctx.inputs[0].shape), None

    @staticmethod
    def numpy_backward(ctx, g):
        return g.reshape(ctx.inputs[0]._data.shape), None


class Transpose(Function):
    name = "transpose"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, axes):
        return a._data.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        axes = ctx.inputs[1]
        return transpose(g, None if axes is None else tuple(np.argsort(axes))), None

    @staticmethod
    def numpy_backward(ctx, g):
        axes = ctx.inputs[1]
        return g.transpose(None if axes is None else np.argsort(axes)), None


class BroadcastTo(Function):
    name = "broadcast_to"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a._data, shape)

    @staticmethod
    def backward(ctx, g):
        return sum_to(g, ctx.inputs[0].shape), None

    @staticmethod
    def numpy_backward(ctx, g):
        return np_sum_to(g, ctx.inputs[0]._data.shape), None


class SumTo(Function):
    """Sum a broadcast gradient back to `shape` (the inverse of broadcast_to)."""

    name = "sum_to"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, shape):
        return np_sum_to(a._data, shape)

    @staticmethod
    def backward(ctx, g):
        return BroadcastTo.apply(g, ctx.inputs[0].shape), None

    @staticmethod
    def numpy_backward(ctx, g):
        return np_expand(g, ctx.inputs[0]._data.shape), None


def np_sum_to(x: np.ndarray, shape: tuple) -> np.ndarray:
    """`sum_to` on a raw array (the op's forward, and the numpy vjps' helper)."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and x.shape[lead + i] != 1)
    if stretched:
        x = x.sum(axis=stretched, keepdims=True)
    if lead:
        x = x.sum(axis=tuple(range(lead)))
    # a fresh array, not a view: the engine then need not copy it when it becomes a leaf's .grad
    return x if type(x) is np.ndarray else np.asarray(x)


def np_expand(g: np.ndarray, shape: tuple) -> np.ndarray:
    """`g` broadcast to `shape`, for the numpy vjps of reductions: a read-only view, or for small
    shapes a filled array, which numpy makes in a third of the time its ``broadcast_to`` takes."""
    if math.prod(shape) <= 4096:
        out = np.empty(shape, g.dtype)
        out[...] = g
        return out
    return np.broadcast_to(g, shape)


def sum_to(g: Tensor, shape: tuple) -> Tensor:
    """Sum `g` over the axes that broadcasting added or stretched, so it has `shape`.

    Every op's gradient goes through this one helper; it costs nothing when the
    shapes already match.
    """
    if g._data.shape == shape:
        return g
    return SumTo.apply(g, tuple(shape))


class Concatenate(Function):
    name = "concatenate"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, axis, *tensors):
        return np.concatenate([t._data for t in tensors], axis=axis)

    @staticmethod
    def backward(ctx, g):
        return (None, *[None if i is None else getitem(g, i) for i in _pieces(ctx)])

    @staticmethod
    def numpy_backward(ctx, g):
        return (None, *[None if i is None else g[i] for i in _pieces(ctx)])


def _pieces(ctx) -> list:
    """Where each concatenated input sits in the output, as an index (None if it needs no gradient)."""
    axis, *tensors = ctx.inputs
    pieces = []
    start = 0
    for t, need in zip(tensors, ctx.needs_input_grad[1:]):
        stop = start + t._data.shape[axis]
        pieces.append((slice(None),) * axis + (slice(start, stop),) if need else None)
        start = stop
    return pieces


def _basic(index: tuple) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in index)


class GetItem(Function):
    name = "getitem"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, index):
        return a._data[index]

    @staticmethod
    def backward(ctx, g):
        a, index = ctx.inputs
        return IndexAdd.apply(g, a.shape, index), None

    @staticmethod
    def numpy_backward(ctx, g):
        a, index = ctx.inputs
        return _scatter(g, a._data.shape, index), None


class IndexAdd(Function):
    """Scatter `g` into zeros of `shape` at `index`, summing repeated indices (getitem's gradient)."""

    name = "index_add"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, g, shape, index):
        return _scatter(g._data, shape, index)

    @staticmethod
    def backward(ctx, gg):
        return GetItem.apply(gg, ctx.inputs[2]), None, None

    @staticmethod
    def numpy_backward(ctx, gg):
        return gg[ctx.inputs[2]], None, None


def _scatter(g: np.ndarray, shape: tuple, index: tuple) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if _basic(index):
        out[index] = g
    else:
        np.add.at(out, index, g)
    return out


# ----- public functions --------------------------------------------------------------------


def reshape(a: Any, shape: Any) -> Tensor:
    """A tensor with the same data and a new shape (one dimension may be -1), as ``np.reshape``."""
    a = to_tensor(a, "reshape")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if shape == a._data.shape:
        return a
    known = int(np.prod([n for n in shape if n != -1]))
    if (
        shape.count(-1) > 1
        or any(n < -1 for n in shape)
        or (known != a.size if -1 not in shape else (known == 0 or a.size % known))
    ):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} ({a.size} elements) into {shape}")
    return Reshape.apply(a, shape)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Tensor:
    """Permute the axes (reverse them when `axes` is None), as ``np.transpose``."""
    a = to_tensor(a, "transpose")
    if axes is not None:
        axes = tuple(int(i) for i in axes)
        if sorted(i % a.ndim if -a.ndim <= i < a.ndim else -1 for i in axes) != list(range(a.ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the axes of a tensor of shape {a.shape}")
        axes = tuple(i % a.ndim for i in axes)
    if a.ndim < 2 and axes in (None, (0,), ()):
        return a
    return Transpose.apply(a, axes)


def expand_dims(a: Any, axis: Any) -> Tensor:
    """Insert axes of length 1 at `axis` (int or tuple), as ``np.expand_dims``."""
    a = to_tensor(a, "expand_dims")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = a.ndim + len(axes)
    axes = norm_axis(axes, out_ndim, "expand_dims", a.shape)
    dims = iter(a.shape)
    return reshape(a, tuple(1 if i in axes else next(dims) for i in range(out_ndim)))


def squeeze(a: Any, axis: Any = None) -> Tensor:
    """Remove axes of length 1 (all of them when `axis` is None), as ``np.squeeze``."""
    a = to_tensor(a, "squeeze")
    axes = norm_axis(axis, a.ndim, "squeeze", a.shape)
    if axes is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    for i in axes:
        if a.shape[i] != 1:
            raise ValueError(f"squeeze: axis {i} of a tensor of shape {a.shape} has length {a.shape[i]}, not 1")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


def flatten(a: Any) -> Tensor:
    """A 1-D tensor of all the elements, as ``ndarray.flatten``."""
    a = to_tensor(a, "flatten")
    return reshape(a, (a.size,))


def broadcast_to(a: Any, shape: Any) -> Tensor:
    """Repeat `a` along broadcast axes to `shape`, as ``np.broadcast_to``."""
    a = to_tensor(a, "broadcast_to")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if shape == a._data.shape:
        return a
    try:
        if np.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: a tensor of shape {a.shape} cannot be broadcast to {shape}") from None
    return BroadcastTo.apply(a, shape)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis, as ``np.concatenate``."""
    ts = [to_tensor(t, "concatenate") for t in tensors]
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    ndim = ts[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    (ax,) = norm_axis(axis, ndim, "concatenate", ts[0].shape)
    for t in ts:
        if t.ndim != ndim or any(n != m for i, (n, m) in enumerate(zip(t.shape, ts[0].shape)) if i != ax):
            shapes = ", ".join(str(t.shape) for t in ts)
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {ax}")
    return Concatenate.apply(ax, *ts)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis, as ``np.stack``."""
    ts = [to_tensor(t, "stack") for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: all tensors need the same shape, got {', '.join(str(t.shape) for t in ts)}")
    (ax,) = norm_axis(axis, ts[0].ndim + 1, "stack", ts[0].shape)
    return concatenate([expand_dims(t, ax) for t in ts], ax)


def _index_part(i: Any) -> Any:
    if isinstance(i, Tensor):
        i = i._data
    if isinstance(i, list):
        i = np.asarray(i)
    if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
        raise IndexError(f"getitem: arrays used as indices must be of integer or boolean type, got {i.dtype}")
    return i


def getitem(a: Any, index: Any) -> Tensor:
    """``a[index]`` with numpy's basic slicing, integer arrays and boolean masks.

    In the gradient, repeated indices accumulate.
    """
    a = to_tensor(a, "getitem")
    index = tuple(_index_part(i) for i in index) if isinstance(index, tuple) else (_index_part(index),)
    return GetItem.apply(a, index)
