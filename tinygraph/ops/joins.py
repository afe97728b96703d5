"""Splits, stacks and appends with numpy's names and rules.

The split family returns a list of basic slices of the input, each its own differentiable
``getitem`` node (views, as numpy's pieces are); the stacks and `append` are one `concatenate`
of their inputs, reshaped first as numpy reshapes them. Each function's ``description`` says how
to call, sample and cross-check it (`tinygraph.ops.describe`); a split's picks one piece.

>>> import numpy as np, tinygraph as tg
>>> [p.tolist() for p in tg.split(np.arange(4.0), 2)]  # plain arrays in, plain arrays out
[[0.0, 1.0], [2.0, 3.0]]
>>> tg.vstack([[1.0, 2.0], tg.tensor([3.0, 4.0])]).shape
(2, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygraph.ops import samplers
from tinygraph.ops import vocab_samplers as vs
from tinygraph.ops._common import pair, to_tensor
from tinygraph.ops.describe import Description, describes
from tinygraph.ops.plumbing import along, axis_index, ravel
from tinygraph.ops.shape import concatenate, getitem, reshape

# ----- splits: lists of slices, each its own differentiable node ----------------------------------------


def _torch_split(t: Any, a: Any, sections: Any, axis: int) -> list:
    """numpy's array_split in PyTorch: int sections by tensor_split, split points by slicing."""
    if isinstance(sections, int):
        return t.tensor_split(a, sections, dim=axis)
    points = [0, *sections, a.shape[axis]]
    return [a[(slice(None),) * (axis % a.ndim) + (slice(s, e),)] for s, e in zip(points[:-1], points[1:])]


def _split(a: Any, sections: Any, axis: int, op: str, equal: bool) -> list:
    ax = axis_index(axis, a.ndim, op, a.shape) if a.ndim else None
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
    return [getitem(a, along(ax, slice(s, e))) for s, e in zip(points[:-1], points[1:])]


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
        shapes={None: vs.NOT_SCALAR, 1: vs.NOT_SCALAR, 0: vs.MATRICES}.get(axis, (((2, 3, 4),), ((1, 2, 2),))),
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
