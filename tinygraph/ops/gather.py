"""Padding and gathers along an axis with numpy's names and rules: pad, take, take_along_axis,
put_along_axis.

Each is a `getitem` with integer arrays (or a scatter into zeros, `IndexAdd`) and `where`, so a
position gathered several times (``take`` with repeated indices, ``pad`` in "edge" mode) sums
the gradients of its copies. Each function's ``description`` says how to call, sample and
cross-check it (`tinygraph.ops.describe`).

>>> import tinygraph as tg
>>> x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> tg.take(x, [0, 0, 2]).sum().backward()
>>> x.grad.tolist()
[2.0, 0.0, 1.0]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.ops import vocab_samplers as vs
from tinygraph.ops._common import pair, to_tensor, value
from tinygraph.ops.describe import Description, describes
from tinygraph.ops.elementwise import astype, where
from tinygraph.ops.plumbing import along, axis_index, check_in_range, int_indices, ravel
from tinygraph.ops.shape import IndexAdd, broadcast_to, getitem, reshape

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
            a = getitem(a, along(ax, np.pad(np.arange(a.shape[ax]), (b, e), mode=mode)))
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
        ax = axis_index(axis, a.ndim, "take", a.shape)
    idx = int_indices(indices, "take")
    n = a.shape[ax]
    if mode == "wrap":
        idx = idx % n if n else idx
    elif mode == "clip":
        idx = np.clip(idx, 0, max(n - 1, 0))
    elif mode != "raise":
        raise ValueError(f"take: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    check_in_range(idx, n, "take", ax, a.shape)
    return getitem(a, along(ax, int(idx) if idx.ndim == 0 else idx))


def _along_axis_index(arr: Any, indices: Any, axis: int, op: str) -> tuple:
    """numpy's fancy index of take_along_axis: the indices on `axis`, aranges on the other axes."""
    idx = int_indices(indices, op)
    if idx.ndim != arr.ndim:
        raise ValueError(f"{op}: indices of shape {idx.shape} need as many axes as arr of shape {arr.shape}")
    try:
        np.broadcast_shapes(tuple(1 if i == axis else n for i, n in enumerate(arr.shape)), idx.shape)
    except ValueError:
        raise ValueError(
            f"{op}: indices of shape {idx.shape} do not broadcast against arr of shape {arr.shape}"
        ) from None
    check_in_range(idx, arr.shape[axis], op, axis, arr.shape)
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
        shapes=vs.NOT_SCALAR,
    )
)
def take_along_axis(arr: Any, indices: Any, axis: int | None = -1) -> Any:
    """Pick values along `axis` at `indices` (as many axes as arr, the others broadcasting), as
    ``np.take_along_axis``; `axis` None works on the flattened arr. Repeats sum their gradients."""
    arr = to_tensor(arr, "take_along_axis")
    if axis is None:
        arr, ax = ravel(arr), 0
    else:
        ax = axis_index(axis, arr.ndim, "take_along_axis", arr.shape)
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
    ax = axis_index(axis, a.ndim, "put_along_axis", a.shape)
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
