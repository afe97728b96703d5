"""Reductions, and the composites built on them (mean, var, logsumexp, softmax, log_softmax).

Each op's ``description`` (on its class, or from `describes` on a composite's function) says how
to call, sample and cross-check it (`tinygraph.ops.describe`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.ops import samplers
from tinygraph.ops._common import Op, norm_axis, to_tensor, value
from tinygraph.ops.describe import ONE_INPUT_SHAPES, Description, described, describes
from tinygraph.ops.elementwise import exp, log
from tinygraph.ops.shape import BroadcastTo, reshape


def _torch_reduce(fn: Any, x: Any, axis: Any, keepdims: bool) -> Any:
    """PyTorch's reduction `fn` over numpy's `axis` (a scalar reduced over no axis is itself)."""
    if x.ndim == 0:
        return x * 1.0
    return fn(x, dim=samplers.norm_axes(axis, x.ndim), keepdim=keepdims)


def _keepdims_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


@described
class Sum(Op):
    name = "sum"
    description = Description(
        args=("axis", "keepdims"),
        params=samplers.reduce_axes,
        call=lambda a, **p: sum(a, **p),
        numpy=lambda a, axis, keepdims: np.sum(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.sum, a, axis, keepdims),
    )

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        return a.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g, a, axes, keepdims):
        if not keepdims:
            g = g.reshape(_keepdims_shape(a.shape, axes))
        return BroadcastTo.apply(g, a.shape), None, None


class _Extreme(Op):
    """max / min over axes; the gradient is shared evenly among tied extremes."""

    reads = ((0,),)
    saves_output = True

    @staticmethod
    def backward(ctx, g, a, axes, keepdims):
        kshape = _keepdims_shape(a.shape, axes)
        hit = value(a) == value(ctx.output).reshape(kshape)
        share = (hit / hit.sum(axis=axes, keepdims=True)).astype(value(g).dtype, copy=False)
        if not keepdims:
            g = g.reshape(kshape)
        return g * share, None, None


@described
class Max(_Extreme):
    name = "max"
    description = Description(  # kinks where the maximum is tied
        args=("axis", "keepdims"),
        params=samplers.extreme_axes(largest=True),
        call=lambda a, **p: max(a, **p),
        numpy=lambda a, axis, keepdims: np.max(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.amax, a, axis, keepdims),
    )

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        return a.max(axis=axes, keepdims=keepdims)


@described
class Min(_Extreme):
    name = "min"
    description = Description(  # kinks where the minimum is tied
        args=("axis", "keepdims"),
        params=samplers.extreme_axes(largest=False),
        call=lambda a, **p: min(a, **p),
        numpy=lambda a, axis, keepdims: np.min(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.amin, a, axis, keepdims),
    )

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        return a.min(axis=axes, keepdims=keepdims)


def _reduce(cls: type, name: str, x: Any, axis: Any, keepdims: bool) -> Any:
    x = to_tensor(x, name)
    axes = norm_axis(axis, x.ndim, name, x.shape)
    if cls is not Sum and x.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
    return cls.apply(x, axes, bool(keepdims))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001 - numpy's name
    """Sum over `axis` (int, tuple or None for all), as ``np.sum``."""
    return _reduce(Sum, "sum", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Maximum over `axis`, as ``np.max``; tied maxima share the gradient evenly."""
    return _reduce(Max, "max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A001
    """Minimum over `axis`, as ``np.min``; tied minima share the gradient evenly."""
    return _reduce(Min, "min", x, axis, keepdims)


def _count(shape: tuple, axes: tuple | None) -> int:
    return math.prod(shape) if axes is None else math.prod(shape[i] for i in axes)


@describes(
    Description(
        "mean",
        args=("axis", "keepdims"),
        params=samplers.reduce_axes,
        numpy=lambda a, axis, keepdims: np.mean(a, axis=axis, keepdims=keepdims),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.mean, a, axis, keepdims),
    )
)
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over `axis`, as ``np.mean``."""
    x = to_tensor(x, "mean")
    axes = norm_axis(axis, x.ndim, "mean", x.shape)
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    return sum(x, axes, keepdims) * (1.0 / n)


@describes(
    Description(
        "var",
        args=("axis", "keepdims", "ddof"),
        params=samplers.variance_axes,
        numpy=lambda a, axis, keepdims, ddof: np.var(a, axis=axis, keepdims=keepdims, ddof=ddof),
        torch=lambda t, a, axis, keepdims, ddof: (
            a * 0.0
            if a.ndim == 0
            else t.var(a, dim=samplers.norm_axes(axis, a.ndim), correction=ddof, keepdim=keepdims)
        ),
    )
)
def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
    """Variance over `axis`, as ``np.var`` (divides by n - ddof)."""
    x = to_tensor(x, "var")
    axes = norm_axis(axis, x.ndim, "var", x.shape)
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} values with ddof={ddof} leave no degrees of freedom (shape {x.shape})")
    d = x - mean(x, axes, keepdims=True)
    return sum(d * d, axes, keepdims) * (1.0 / (n - ddof))


def _shift(x: np.ndarray, axes: tuple | None) -> np.ndarray:
    """The max over `axes` as a constant, so exp never overflows; infinities become 0."""
    m = x.max(axis=axes, keepdims=True)
    return np.where(np.isfinite(m), m, 0)


@describes(
    Description(
        "logsumexp",
        args=("axis", "keepdims"),
        params=samplers.reduce_axes,
        numpy=lambda a, axis, keepdims: np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)),
        torch=lambda t, a, axis, keepdims: _torch_reduce(t.logsumexp, a, axis, keepdims),
    )
)
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) over `axis`, finite for inputs as large as +-1e4 (and beyond)."""
    x = to_tensor(x, "logsumexp")
    axes = norm_axis(axis, x.ndim, "logsumexp", x.shape)
    if x.size == 0:
        raise ValueError(f"logsumexp: cannot reduce an empty tensor of shape {x.shape}")
    m = _shift(value(x), axes).astype(x.dtype, copy=False)
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    return out if keepdims else reshape(out, np.squeeze(m, axis=axes).shape)


@describes(
    Description(
        "softmax",
        args=("axis",),
        params=samplers.one_axis,
        numpy=lambda a, axis: np.exp(a) / np.sum(np.exp(a), axis=axis, keepdims=True),
        torch=lambda t, a, axis: t.softmax(a, axis),
        shapes=ONE_INPUT_SHAPES[1:],  # not a scalar
    )
)
def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, computed with the max subtracted (exact for large inputs)."""
    x = to_tensor(x, "softmax")
    if x.ndim == 0 and axis in (None, 0, -1):  # one value: its softmax is 1 (gradient 0), as in scipy and PyTorch
        return exp(x - x)
    axes = norm_axis(axis, x.ndim, "softmax", x.shape)
    e = exp(x - _shift(value(x), axes).astype(x.dtype, copy=False))
    return e / sum(e, axes, keepdims=True)


@described
class LogSoftmax(Op):
    """log_softmax as one op (one node instead of five, and two passes fewer each way).

    Forward: s - log(sum(exp(s))) with s = x - max(x). Gradient: g - softmax(x) * sum(g), with
    softmax(x) = exp(output); written with the op's own output, so it is differentiable again.
    """

    name = "log_softmax"
    saves_output = True
    description = Description(
        args=("axis",),
        params=samplers.one_axis,
        call=lambda a, **p: log_softmax(a, **p),
        numpy=lambda a, axis: a - np.log(np.sum(np.exp(a), axis=axis, keepdims=True)),
        torch=lambda t, a, axis: t.log_softmax(a, axis),
        shapes=ONE_INPUT_SHAPES[1:],  # not a scalar
    )

    @staticmethod
    def forward(ctx, a, axes):
        s = a - _shift(a, axes)
        return s - np.log(np.exp(s).sum(axis=axes, keepdims=True))

    @staticmethod
    def backward(ctx, g, a, axes):
        return g - exp(ctx.output) * g.sum(axis=axes, keepdims=True), None


def log_softmax(x: Any, axis: int = -1) -> Any:
    """x - logsumexp(x) along `axis`, finite and exact for inputs as large as +-1e4.

    Computed as s - log(sum(exp(s))) with s = x - max(x): subtracting the large
    logsumexp from x directly would cancel away the small result's digits.
    """
    x = to_tensor(x, "log_softmax")
    if x.ndim == 0 and axis in (None, 0, -1):  # one value: its log_softmax is 0 (gradient 0)
        return x - x
    axes = norm_axis(axis, x.ndim, "log_softmax", x.shape)
    return LogSoftmax.apply(x, axes)
