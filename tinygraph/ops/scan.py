"""Products, running sums and products, differences and traces: prod, cumsum, cumprod, diff, trace.

prod's and cumprod's gradients are products of the *other* factors, computed without dividing
by a factor that is 0: they are exact at zeros, and so are their second derivatives, with any
number of zeros in a slice (third derivatives at three or more zeros are not).

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([2.0, 0.0, 3.0], requires_grad=True)
>>> tg.prod(x).backward()
>>> x.grad.tolist()  # the product of the others, also for the 0
[0.0, 6.0, 0.0]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import domains, samplers
from tinygraph.ops._common import Op, norm_axis, to_tensor, value
from tinygraph.ops.describe import Description, described, describes
from tinygraph.ops.elementwise import where
from tinygraph.ops.reduce import sum
from tinygraph.ops.shape import concatenate, getitem, reshape


def _keepdims_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _torch_prod(t: Any, a: Any, axis: Any, keepdims: bool) -> Any:
    """PyTorch's prod over numpy's `axis` (PyTorch reduces one dim at a time)."""
    if a.ndim == 0:
        return a * 1.0
    axes = samplers.norm_axes(axis, a.ndim)
    out = a
    for ax in sorted(axes, reverse=True):
        out = out.prod(dim=ax, keepdim=True)
    return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in axes])


@described
class Prod(Op):
    """The product over axes. Its gradient at x_i is the product of the other factors:

    out / x_i where x_i != 0; where x_i == 0, the product of the non-zero factors if x_i is the
    slice's only zero, the other zero times it if there are two, and 0 if there are more (each
    written so that its own derivatives are the true second derivatives).
    """

    name = "prod"
    reads = ((0,),)
    saves_output = True
    description = Description(
        args=("axis", "keepdims"),
        params=samplers.reduce_axes,
        call=lambda a, **p: prod(a, **p),
        numpy=lambda a, axis, keepdims: np.prod(a, axis=axis, keepdims=keepdims),
        torch=_torch_prod,
    )

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        return np.prod(a, axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g, a, axes, keepdims):
        kshape = _keepdims_shape(a.shape, axes)
        g = g.reshape(kshape)
        out = ctx.output.reshape(kshape)
        z = value(a) == 0
        if not z.any():
            return g * out / a, None, None
        count = z.sum(axis=axes, keepdims=True)
        nonzero = prod(where(z, 1, a), axes, keepdims=True)  # the product of the non-zero factors
        other_zero = sum(where(z, a, 0), axes, keepdims=True) - a  # (values 0: there for the gradient)
        at_zero = where(count == 1, nonzero, where(count == 2, other_zero * nonzero, 0))
        return g * where(z, at_zero, out / where(z, 1, a)), None, None


def _flip(x: Any, axis: int) -> Any:
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


def _reverse_cumsum(x: Any, axis: int) -> Any:
    """Sums from the end: out_k = sum over i >= k of x_i along `axis`."""
    return _flip(cumsum(_flip(x, axis), axis), axis)


@described
class Cumsum(Op):
    name = "cumsum"
    description = Description(
        args=("axis",),
        params=domains.scan_axis,
        call=lambda a, **p: cumsum(a, **p),
        numpy=lambda a, axis: np.cumsum(a, axis=axis),
        torch=lambda t, a, axis: t.cumsum(a.reshape(-1), 0) if axis is None else t.cumsum(a, axis),
    )

    @staticmethod
    def forward(ctx, a, axis):
        return np.cumsum(a, axis=axis)

    @staticmethod
    def backward(ctx, g, a, axis):
        return _reverse_cumsum(g, axis), None


@described
class Cumprod(Op):
    """Running products. The gradient at x_k is sum over i >= k of g_i * prod(x_j, j <= i, j != k):
    reverse-cumsum(g * out) / x_k where x_k != 0; at the first zero of a slice, the same with
    the running products taken with that zero as 1; at later zeros 0 (an earlier factor is 0),
    written at the second zero as the first zero times a product, so that second derivatives
    are exact with any number of zeros."""

    name = "cumprod"
    reads = ((0,),)
    saves_output = True
    description = Description(
        args=("axis",),
        params=domains.scan_axis,
        call=lambda a, **p: cumprod(a, **p),
        numpy=lambda a, axis: np.cumprod(a, axis=axis),
        torch=lambda t, a, axis: t.cumprod(a.reshape(-1), 0) if axis is None else t.cumprod(a, axis),
    )

    @staticmethod
    def forward(ctx, a, axis):
        return np.cumprod(a, axis=axis)

    @staticmethod
    def backward(ctx, g, a, axis):
        z = value(a) == 0
        from_out = _reverse_cumsum(g * ctx.output, axis)
        if not z.any():
            return from_out / a, None
        seen = np.cumsum(z, axis=axis)
        first, second = z & (seen == 1), z & (seen == 2)
        at_first = _reverse_cumsum(g * cumprod(where(first, 1, a), axis), axis)
        rest = where(z, 0, from_out / where(z, 1, a))
        if second.any():  # (values 0, the first zero times a product: there for the second derivative)
            first_value = sum(where(first, a, 0), axis, keepdims=True)
            at_second = first_value * _reverse_cumsum(g * cumprod(where(first | second, 1, a), axis), axis)
            rest = where(second, at_second, rest)
        return where(first, at_first, rest), None


@described
class Trace(Op):
    """The sum of a diagonal (``np.trace``); the gradient is g on that diagonal, 0 elsewhere."""

    name = "trace"
    description = Description(
        args=("offset", "axis1", "axis2"),
        params=domains.trace_axes,
        call=lambda a, **p: trace(a, **p),
        numpy=lambda a, offset, axis1, axis2: np.trace(a, offset, axis1, axis2),
        torch=lambda t, a, offset, axis1, axis2: t.diagonal(a, offset, axis1, axis2).sum(-1),
        shapes=(((3, 4),), ((4, 4),), ((4, 1),), ((2, 3, 4),)),
    )

    @staticmethod
    def forward(ctx, a, offset, axis1, axis2):
        return np.trace(a, offset, axis1, axis2)

    @staticmethod
    def backward(ctx, g, a, offset, axis1, axis2):
        shape = a.shape
        eye = np.eye(shape[axis1], shape[axis2], k=offset, dtype=value(g).dtype)
        if axis1 > axis2:
            eye = eye.T
        mask = eye.reshape([n if i in (axis1, axis2) else 1 for i, n in enumerate(shape)])
        g = g.reshape([1 if i in (axis1, axis2) else n for i, n in enumerate(shape)])
        return g * mask, None, None, None


# ----- public functions --------------------------------------------------------------------


def prod(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """The product over `axis` (int, tuple or None for all), as ``np.prod``; 1 over an empty axis."""
    x = to_tensor(x, "prod")
    return Prod.apply(x, norm_axis(axis, x.ndim, "prod", x.shape), bool(keepdims))


def _scan_axis(x: Any, axis: Any, op: str) -> tuple:
    if axis is None:  # numpy scans the flattened array
        return reshape(x, (x.size,)), 0
    (ax,) = norm_axis(axis, x.ndim, op, x.shape)
    return x, ax


def cumsum(x: Any, axis: int | None = None) -> Any:
    """Running sums along `axis` (of the flattened array when None), as ``np.cumsum``."""
    x, ax = _scan_axis(to_tensor(x, "cumsum"), axis, "cumsum")
    return Cumsum.apply(x, ax)


def cumprod(x: Any, axis: int | None = None) -> Any:
    """Running products along `axis` (of the flattened array when None), as ``np.cumprod``."""
    x, ax = _scan_axis(to_tensor(x, "cumprod"), axis, "cumprod")
    return Cumprod.apply(x, ax)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
    """The sum along a diagonal of the 2-D planes given by `axis1` and `axis2`, as ``np.trace``."""
    x = to_tensor(x, "trace")
    if x.ndim < 2:
        raise ValueError(f"trace: needs at least 2 dimensions, got a tensor of shape {x.shape}")
    a1, a2 = (norm_axis(a, x.ndim, "trace", x.shape)[0] for a in (axis1, axis2))
    if a1 == a2:
        raise ValueError(f"trace: axis1 and axis2 are both {a1} (shape {x.shape})")
    return Trace.apply(x, int(offset), a1, a2)


def _edge(v: Any, x: Any, axis: int, op: str) -> Any:
    """`prepend`/`append` of diff: broadcast to x's shape with length 1 along `axis` unless it has x's ndim."""
    v = to_tensor(v, op, like=x)
    if v.ndim == 0:
        from tinygraph.ops.shape import broadcast_to

        return broadcast_to(v, tuple(1 if i == axis else n for i, n in enumerate(x.shape)))
    return v


@describes(
    Description(
        "diff",
        args=("n", "axis"),
        params=domains.diff_order,
        numpy=lambda a, n, axis: np.diff(a, n, axis),
        torch=lambda t, a, n, axis: t.diff(a, n, axis),
        shapes=(((4,),), ((3, 4),), ((1, 4),), ((3, 1),), ((2, 3, 4),)),
    )
)
def diff(x: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Any:
    """The n-th differences along `axis`, as ``np.diff`` (with `prepend` and `append`)."""
    x = to_tensor(x, "diff")
    if x.ndim == 0:
        raise ValueError("diff: needs at least 1 dimension, got a 0-d tensor")
    if n < 0:
        raise ValueError(f"diff: order n must be non-negative, got {n}")
    (ax,) = norm_axis(axis, x.ndim, "diff", x.shape)
    if prepend is not None or append is not None:
        parts = [_edge(prepend, x, ax, "diff")] if prepend is not None else []
        parts.append(x)
        if append is not None:
            parts.append(_edge(append, x, ax, "diff"))
        x = concatenate(parts, ax)
    lead = (slice(None),) * ax
    for _ in range(n):
        x = getitem(x, lead + (slice(1, None),)) - getitem(x, lead + (slice(None, -1),))
    return x
