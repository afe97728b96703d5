"""Shape and indexing ops, and `sum_to`, the one helper that undoes broadcasting.

Each op's ``description`` (on its class, or from `describes` on a composite's function) says how
to call, sample and cross-check it (`tinygraph.ops.describe`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygraph.ops import samplers
from tinygraph.ops._common import Op, kept, norm_axis, to_tensor
from tinygraph.ops.describe import ONE_INPUT_SHAPES, Description, described, describes


@described
class Reshape(Op):
    name = "reshape"
    shares_memory = True
    description = Description(
        args=("shape",),
        params=samplers.new_shape,
        call=lambda a, **p: reshape(a, **p),
        numpy=lambda a, shape: np.reshape(a, shape),
        torch=lambda t, a, shape: a.reshape(shape),
    )

    @staticmethod
    def forward(ctx, a, shape):
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g, a, shape):
        return g.reshape(a.shape), None


@described
class Transpose(Op):
    name = "transpose"
    shares_memory = True
    description = Description(
        args=("axes",),
        params=samplers.permutation,
        call=lambda a, **p: transpose(a, **p),
        numpy=lambda a, axes: np.transpose(a, axes),
        torch=lambda t, a, axes: a.permute(tuple(range(a.ndim - 1, -1, -1)) if axes is None else axes),
    )

    @staticmethod
    def forward(ctx, a, axes):
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g, a, axes):
        return g.transpose(None if axes is None else tuple(np.argsort(axes))), None


@described
class BroadcastTo(Op):
    """`a` repeated along broadcast axes; small results are filled arrays, which numpy makes in a
    third of the time its read-only ``broadcast_to`` view takes (benchmarks/NOTES.md)."""

    name = "broadcast_to"
    shares_memory = True
    description = Description(
        args=("shape",),
        params=samplers.larger_shape,
        call=lambda a, **p: broadcast_to(a, **p),
        numpy=lambda a, shape: np.broadcast_to(a, shape),
        torch=lambda t, a, shape: t.broadcast_to(a, shape),
        shapes=ONE_INPUT_SHAPES[:-1],  # (2, 3, 4) has no axis of length 1 to stretch
    )

    @staticmethod
    def forward(ctx, a, shape):
        if math.prod(shape) <= 4096:
            out = np.empty(shape, a.dtype)
            out[...] = a
            return out
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g, a, shape):
        return sum_to(g, a.shape), None


@described
class SumTo(Op):
    """Sum a broadcast gradient back to `shape` (the inverse of broadcast_to)."""

    name = "sum_to"
    description = Description(
        args=("shape",),
        params=samplers.smaller_shape,
        call=lambda a, **p: sum_to(a, **p),
        numpy=lambda a, shape: _sum_to_reference(a, shape, lambda x, axes: x.sum(axis=axes, keepdims=True)),
        torch=lambda t, a, shape: _sum_to_reference(a, shape, lambda x, axes: x.sum(dim=axes, keepdim=True)),
    )

    @staticmethod
    def forward(ctx, a, shape):
        lead = a.ndim - len(shape)
        stretched = tuple(lead + i for i, n in enumerate(shape) if n == 1 and a.shape[lead + i] != 1)
        if stretched:
            a = a.sum(axis=stretched, keepdims=True)
        if lead:
            a = a.sum(axis=tuple(range(lead)))
        return a

    @staticmethod
    def backward(ctx, g, a, shape):
        return BroadcastTo.apply(g, a.shape), None


def sum_to(g: Any, shape: tuple) -> Any:
    """Sum `g` over the axes that broadcasting added or stretched, so it has `shape`.

    Every op's gradient goes through this one helper; it costs nothing when the
    shapes already match. An ndarray in gives an ndarray out.
    """
    try:
        gs = g.shape
    except AttributeError:  # a list or a number, given to tg.sum_to
        g = to_tensor(g, "sum_to")
        gs = g.shape
    if gs == shape:
        return g
    if type(g) is np.ndarray and gs[1:] == shape:  # one leading axis added (a bias's gradient): SumTo's forward
        return np.add.reduce(g)
    shape = tuple(shape)
    lead = len(gs) - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, gs[lead:])):
        raise ValueError(
            f"sum_to: a tensor of shape {gs} cannot be summed to shape {shape} (it must broadcast to {gs})"
        )
    return SumTo.apply(g, shape)


@described
class Concatenate(Op):
    name = "concatenate"
    description = Description(
        args=("axis",),
        inputs=2,
        params=samplers.join_axis,
        call=lambda a, b, axis: concatenate([a, b], axis),
        numpy=lambda a, b, axis: np.concatenate([a, b], axis),
        torch=lambda t, a, b, axis: t.cat([a, b], axis),
        source="tg.concatenate([{0}, {1}], {axis})",
        shapes=(((2, 3), (4, 3)), ((3,), (2,)), ((2, 3), (2, 1)), ((2, 1, 3), (2, 2, 3))),
        fits=samplers.join_fits,
        partner=samplers.join_partner,
    )

    @staticmethod
    def forward(ctx, axis, *arrays):
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g, axis, *tensors):
        pieces = []
        start = 0
        for t, need in zip(tensors, ctx.needs_input_grad[1:]):
            stop = start + t.shape[axis]
            pieces.append(g[(slice(None),) * axis + (slice(start, stop),)] if need else None)
            start = stop
        return (None, *pieces)


def _basic(index: tuple) -> bool:
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer)) for i in index)


@described
class GetItem(Op):
    name = "getitem"
    shares_memory = True  # basic slicing gives a view
    description = Description(
        args=("",),
        params=samplers.index,
        call=lambda a, index: a[index],
        numpy=lambda a, index: a[index],
        torch=lambda t, a, index: a[_torch_index(t, index)],
        source="{0}[{index}]",
        shapes=ONE_INPUT_SHAPES[1:],  # not a scalar
    )

    @staticmethod
    def forward(ctx, a, index):
        return a[index]

    @staticmethod
    def backward(ctx, g, a, index):
        return IndexAdd.apply(g, a.shape, index), None


@described
class IndexAdd(Op):
    """Scatter `g` into zeros of `shape` at `index`, summing repeated indices (getitem's gradient)."""

    name = "index_add"
    description = Description(args=("shape", ""))  # internal: getitem's gradient

    @staticmethod
    def forward(ctx, g, shape, index):
        out = np.zeros(shape, dtype=g.dtype)
        if _basic(index):
            out[index] = g
        else:
            np.add.at(out, index, g)
        return out

    @staticmethod
    def backward(ctx, gg, g, shape, index):
        return gg[index], None, None


# ----- public functions --------------------------------------------------------------------


@functools.cache
def _max_ndim() -> int:
    """The most dimensions an ndarray may have (64 in numpy 2, 32 before)."""
    try:
        np.empty((1,) * 64)
    except ValueError:
        return 32
    return 64


def _check_ndim(op: str, shape: tuple, ndim: int) -> None:
    if ndim > 32 and ndim > _max_ndim():
        raise ValueError(
            f"{op}: a tensor of shape {shape} would become {ndim}-dimensional; "
            f"numpy allows at most {_max_ndim()} dimensions"
        )


def reshape(a: Any, shape: Any) -> Any:
    """A tensor with the same data and a new shape (one dimension may be -1), as ``np.reshape``."""
    a = to_tensor(a, "reshape")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if shape == a.shape:
        return a
    size = math.prod(a.shape)
    known = math.prod(n for n in shape if n != -1)
    if (
        shape.count(-1) > 1
        or any(n < -1 for n in shape)
        or (known != size if -1 not in shape else (known == 0 or size % known))
    ):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} ({size} elements) into {shape}")
    _check_ndim("reshape", a.shape, len(shape))
    return Reshape.apply(a, shape)


def transpose(a: Any, axes: Sequence[int] | None = None) -> Any:
    """Permute the axes (reverse them when `axes` is None), as ``np.transpose``."""
    a = to_tensor(a, "transpose")
    ndim = a.ndim
    if axes is not None:
        axes = tuple(int(i) for i in axes)
        if sorted(i % ndim if -ndim <= i < ndim else -1 for i in axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the axes of a tensor of shape {a.shape}")
        axes = tuple(i % ndim for i in axes)
    if ndim < 2 and axes in (None, (0,), ()):
        return a
    return Transpose.apply(a, axes)


@describes(
    Description(
        "expand_dims",
        args=("axis",),
        params=samplers.new_axis,
        numpy=lambda a, axis: np.expand_dims(a, axis),
        torch=lambda t, a, axis: a.unsqueeze(axis),
    )
)
def expand_dims(a: Any, axis: Any) -> Any:
    """Insert axes of length 1 at `axis` (int or tuple), as ``np.expand_dims``."""
    a = to_tensor(a, "expand_dims")
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out_ndim = a.ndim + len(axes)
    _check_ndim("expand_dims", a.shape, out_ndim)
    axes = norm_axis(axes, out_ndim, "expand_dims", a.shape)
    dims = iter(a.shape)
    return reshape(a, tuple(1 if i in axes else next(dims) for i in range(out_ndim)))


@describes(
    Description(
        "squeeze",
        args=("axis",),
        params=samplers.unit_axis,
        numpy=lambda a, axis: np.squeeze(a, axis),
        torch=lambda t, a, axis: a.squeeze() if axis is None else a.squeeze(axis),
        shapes=(((1,),), ((1, 4),), ((3, 1),), ((3, 1, 4, 1),)),
    )
)
def squeeze(a: Any, axis: Any = None) -> Any:
    """Remove axes of length 1 (all of them when `axis` is None), as ``np.squeeze``."""
    a = to_tensor(a, "squeeze")
    axes = norm_axis(axis, a.ndim, "squeeze", a.shape)
    if axes is None:
        axes = tuple(i for i, n in enumerate(a.shape) if n == 1)
    for i in axes:
        if a.shape[i] != 1:
            raise ValueError(f"squeeze: axis {i} of a tensor of shape {a.shape} has length {a.shape[i]}, not 1")
    return reshape(a, tuple(n for i, n in enumerate(a.shape) if i not in axes))


@describes(Description("flatten", numpy=lambda a: a.reshape(-1), torch=lambda t, a: a.reshape(-1)))
def flatten(a: Any) -> Any:
    """A 1-D tensor of all the elements, as ``ndarray.flatten``."""
    a = to_tensor(a, "flatten")
    return reshape(a, (math.prod(a.shape),))


def broadcast_to(a: Any, shape: Any) -> Any:
    """Repeat `a` along broadcast axes to `shape`, as ``np.broadcast_to``."""
    a = to_tensor(a, "broadcast_to")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(n) for n in shape)
    if shape == a.shape:
        return a
    try:
        if np.broadcast_shapes(a.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise ValueError(f"broadcast_to: a tensor of shape {a.shape} cannot be broadcast to {shape}") from None
    return BroadcastTo.apply(a, shape)


def _joined(tensors: Any, where: str) -> list:
    """The tensors a join is given (any iterable of them, as numpy takes), each as a Tensor."""
    try:
        items = list(tensors)
    except TypeError:
        raise TypeError(
            f"{where}: expected a sequence of tensors (a list or tuple), got {type(tensors).__name__}"
        ) from None
    return [to_tensor(t, where) for t in items]


def concatenate(tensors: Sequence[Any], axis: int | None = 0) -> Any:
    """Join tensors along an existing axis, as ``np.concatenate`` (`axis` None: each flattened first)."""
    ts = _joined(tensors, "concatenate")
    if not ts:
        raise ValueError("concatenate: need at least one tensor")
    if axis is None:
        ts, axis = [reshape(t, -1) for t in ts], 0
    ndim = ts[0].ndim
    if ndim == 0:
        raise ValueError("concatenate: zero-dimensional tensors cannot be concatenated; use stack")
    (ax,) = norm_axis(axis, ndim, "concatenate", ts[0].shape)
    for t in ts:
        if t.ndim != ndim or any(n != m for i, (n, m) in enumerate(zip(t.shape, ts[0].shape)) if i != ax):
            shapes = ", ".join(str(t.shape) for t in ts)
            raise ValueError(f"concatenate: shapes {shapes} differ outside axis {ax}")
    return Concatenate.apply(ax, *ts)


@describes(
    Description(
        "stack",
        args=("axis",),
        inputs=2,
        params=samplers.stack_axis,
        call=lambda a, b, axis: stack([a, b], axis),
        numpy=lambda a, b, axis: np.stack([a, b], axis),
        torch=lambda t, a, b, axis: t.stack([a, b], axis),
        source="tg.stack([{0}, {1}], {axis})",
        shapes=(((), ()), ((3,), (3,)), ((2, 3), (2, 3))),
        fits=samplers.same_shape,
        partner=samplers.same_partner,
    )
)
def stack(tensors: Sequence[Any], axis: int = 0) -> Any:
    """Join tensors of one shape along a new axis, as ``np.stack``."""
    ts = _joined(tensors, "stack")
    if not ts:
        raise ValueError("stack: need at least one tensor")
    if any(t.shape != ts[0].shape for t in ts):
        raise ValueError(f"stack: all tensors need the same shape, got {', '.join(str(t.shape) for t in ts)}")
    (ax,) = norm_axis(axis, ts[0].ndim + 1, "stack", ts[0].shape)
    return concatenate([expand_dims(t, ax) for t in ts], ax)


def _index_part(i: Any, a: Any) -> Any:
    i = kept(i, a)
    if isinstance(i, list):
        i = np.asarray(i)
    if isinstance(i, np.ndarray) and i.dtype.kind not in "iub":
        raise IndexError(f"getitem: arrays used as indices must be of integer or boolean type, got {i.dtype}")
    return i


def getitem(a: Any, index: Any) -> Any:
    """``a[index]`` with numpy's basic slicing, integer arrays and boolean masks.

    In the gradient, repeated indices accumulate.
    """
    a = to_tensor(a, "getitem")
    index = tuple(_index_part(i, a) for i in index) if isinstance(index, tuple) else (_index_part(index, a),)
    return GetItem.apply(a, index)


# ----- references for the descriptions ---------------------------------------------------------------


def _sum_to_reference(x: Any, shape: tuple, sum_keeping: Any) -> Any:
    """sum_to in numpy or PyTorch: sum the leading axes away, then (keeping them) the stretched ones."""
    lead = x.ndim - len(shape)
    if lead:
        x = x.sum(tuple(range(lead)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return sum_keeping(x, stretched) if stretched else x


def _torch_index(torch: Any, index: Any) -> Any:
    """A numpy index for a PyTorch tensor: its arrays as tensors."""

    def part(i: Any) -> Any:
        return torch.as_tensor(i) if isinstance(i, np.ndarray) else i

    return tuple(part(i) for i in index) if isinstance(index, tuple) else part(index)
