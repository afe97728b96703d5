"""Sorting and the results that are not differentiable: sort, argsort, argmax, argmin, any, all, count_nonzero.

sort's gradient goes back through the permutation: each input element receives the gradient of
the place it was sorted to. Tied elements are ordered as a stable sort orders them (by position),
which picks one of the equally valid subgradients at a tie.

argsort, argmax, argmin and count_nonzero return integers, any and all booleans: data, outside the
graph (as comparisons are). Given a Tensor they return a Tensor, given an ndarray an ndarray.

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([3.0, 1.0, 2.0], requires_grad=True)
>>> (tg.sort(x) * tg.tensor([1.0, 10.0, 100.0])).sum().backward()
>>> x.grad.tolist(), tg.argmax(x).item()
([100.0, 1.0, 10.0], 0)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import domains, samplers
from tinygraph.ops._common import Op, norm_axis, to_tensor, value
from tinygraph.ops.describe import ONE_INPUT_SHAPES, Description, described, describes
from tinygraph.ops.shape import reshape
from tinygraph.tensor import Tensor


@described
class Sort(Op):
    name = "sort"
    reads = ((0,),)
    description = Description(  # kinks where two values along the axis are tied
        args=("axis",),
        params=domains.sort_axis,
        call=lambda a, **p: sort(a, **p),
        numpy=lambda a, axis: np.sort(a, axis=axis),
        torch=lambda t, a, axis: t.sort(a.reshape(-1) if axis is None else a, dim=0 if axis is None else axis)[0],
    )

    @staticmethod
    def forward(ctx, a, axis):
        return np.sort(a, axis=axis, kind="stable")

    @staticmethod
    def backward(ctx, g, a, axis):
        x = value(a)
        place = np.argsort(np.argsort(x, axis=axis, kind="stable"), axis=axis)  # where each element went
        index = list(np.ogrid[tuple(slice(n) for n in x.shape)])
        index[axis] = place
        return g[tuple(index)], None


def sort(x: Any, axis: int | None = -1, kind: str | None = None) -> Any:
    """A sorted copy along `axis` (of the flattened array when None), as ``np.sort``.

    `kind` is accepted for numpy's signature; the values do not depend on it.
    """
    x = to_tensor(x, "sort")
    if axis is None:
        x, ax = reshape(x, (x.size,)), 0
    else:
        if x.ndim == 0:
            raise ValueError(f"sort: axis {axis} is out of range for a 0-d tensor (use axis=None)")
        (ax,) = norm_axis(axis, x.ndim, "sort", x.shape)
    return Sort.apply(x, ax)


def _data(x: Any, out: Any) -> Any:
    """An integer or boolean result: a Tensor outside the graph for a Tensor, else an ndarray."""
    return Tensor._make(np.asarray(out)) if isinstance(x, Tensor) else np.asarray(out)


def _one_axis(x: Any, axis: Any, op: str) -> int | None:
    if axis is None:
        return None
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int or None, got {axis!r}")
    return norm_axis(axis, x.ndim, op, x.shape)[0]


def _not_empty(x: Any, axis: int | None, op: str) -> None:
    if x.size == 0 and (axis is None or x.shape[axis] == 0):
        raise ValueError(f"{op}: attempt to get {op} of an empty sequence (shape {x.shape}, axis {axis})")


def _torch_arg(fn: Any, a: Any, axis: Any, keepdims: bool) -> Any:
    if axis is None:
        out = fn(a.reshape(-1))
        return out.reshape((1,) * a.ndim) if keepdims else out
    return fn(a, dim=axis, keepdim=keepdims)


def _torch_reduce(fn: Any, a: Any, axis: Any, keepdims: bool) -> Any:
    if a.ndim == 0:
        return fn(a)
    return fn(a, dim=samplers.norm_axes(axis, a.ndim), keepdim=keepdims)


@describes(
    Description(
        "argmax",
        args=("axis", "keepdims"),
        params=domains.arg_axis,
        numpy=lambda a, axis, keepdims: np.argmax(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_arg(t.argmax, a, axis, keepdims),
        differentiable=False,
    )
)
def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """The index of the largest value (the first one at ties) along `axis`, as ``np.argmax``; no gradient."""
    x = to_tensor(x, "argmax")
    ax = _one_axis(x, axis, "argmax")
    _not_empty(x, ax, "argmax")
    return _data(x, np.argmax(value(x), axis=ax, keepdims=bool(keepdims)))


@describes(
    Description(
        "argmin",
        args=("axis", "keepdims"),
        params=domains.arg_axis,
        numpy=lambda a, axis, keepdims: np.argmin(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_arg(t.argmin, a, axis, keepdims),
        differentiable=False,
    )
)
def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Any:
    """The index of the smallest value (the first one at ties) along `axis`, as ``np.argmin``; no gradient."""
    x = to_tensor(x, "argmin")
    ax = _one_axis(x, axis, "argmin")
    _not_empty(x, ax, "argmin")
    return _data(x, np.argmin(value(x), axis=ax, keepdims=bool(keepdims)))


@describes(
    Description(
        "argsort",
        args=("axis",),
        params=domains.sort_axis,
        numpy=lambda a, axis: np.argsort(a, axis=axis, kind="stable"),
        torch=lambda t, a, axis: t.argsort(
            a.reshape(-1) if axis is None else a, dim=0 if axis is None else axis, stable=True
        ),
        differentiable=False,
    )
)
def argsort(x: Any, axis: int | None = -1, kind: str | None = None) -> Any:
    """The indices that sort `x` along `axis` (flattened when None), as ``np.argsort``; no gradient."""
    x = to_tensor(x, "argsort")
    if axis is not None and x.ndim == 0:
        raise ValueError(f"argsort: axis {axis} is out of range for a 0-d tensor (use axis=None)")
    ax = _one_axis(x, axis, "argsort")
    return _data(x, np.argsort(value(x), axis=ax, kind=kind))


def _truth(name: str, fn: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    x = to_tensor(x, name)
    axes = norm_axis(axis, x.ndim, name, x.shape)
    return _data(x, fn(value(x), axis=axes, keepdims=bool(keepdims)))


@describes(
    Description(
        "any",
        args=("axis", "keepdims"),
        draw=domains.with_zeros,
        params=domains.truth_axes,
        numpy=lambda a, axis, keepdims: np.any(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.any, a, axis, keepdims),
        differentiable=False,
    )
)
def any(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - numpy's name
    """Whether any element along `axis` is non-zero, as ``np.any``; booleans, no gradient."""
    return _truth("any", np.any, x, axis, keepdims)


@describes(
    Description(
        "all",
        args=("axis", "keepdims"),
        draw=domains.with_zeros,
        params=domains.truth_axes,
        numpy=lambda a, axis, keepdims: np.all(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.all, a, axis, keepdims),
        differentiable=False,
    )
)
def all(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - numpy's name
    """Whether every element along `axis` is non-zero, as ``np.all``; booleans, no gradient."""
    return _truth("all", np.all, x, axis, keepdims)


@describes(
    Description(
        "count_nonzero",
        args=("axis", "keepdims"),
        draw=domains.with_zeros,
        params=domains.truth_axes,
        numpy=lambda a, axis, keepdims: np.count_nonzero(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(lambda x, **k: (x != 0).sum(**k), a, axis, keepdims),
        shapes=ONE_INPUT_SHAPES,
        differentiable=False,
    )
)
def count_nonzero(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The number of non-zero elements along `axis`, as ``np.count_nonzero``; integers, no gradient."""
    return _truth("count_nonzero", np.count_nonzero, x, axis, keepdims)
