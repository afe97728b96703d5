"""Reductions, and the composites built on them (mean, var, logsumexp, softmax, log_softmax)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.ops._common import Op, norm_axis, to_tensor, value
from tinygraph.ops.elementwise import exp, log
from tinygraph.ops.shape import BroadcastTo, reshape


def _keepdims_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Op):
    name = "sum"

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


class Max(_Extreme):
    name = "max"

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        return a.max(axis=axes, keepdims=keepdims)


class Min(_Extreme):
    name = "min"

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


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """Mean over `axis`, as ``np.mean``."""
    x = to_tensor(x, "mean")
    axes = norm_axis(axis, x.ndim, "mean", x.shape)
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    return sum(x, axes, keepdims) * (1.0 / n)


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


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
    """log(sum(exp(x))) over `axis`, finite for inputs as large as +-1e4 (and beyond)."""
    x = to_tensor(x, "logsumexp")
    axes = norm_axis(axis, x.ndim, "logsumexp", x.shape)
    if x.size == 0:
        raise ValueError(f"logsumexp: cannot reduce an empty tensor of shape {x.shape}")
    m = _shift(value(x), axes).astype(x.dtype, copy=False)
    out = log(sum(exp(x - m), axes, keepdims=True)) + m
    return out if keepdims else reshape(out, np.squeeze(m, axis=axes).shape)


def softmax(x: Any, axis: int = -1) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, computed with the max subtracted (exact for large inputs)."""
    x = to_tensor(x, "softmax")
    axes = norm_axis(axis, x.ndim, "softmax", x.shape)
    e = exp(x - _shift(value(x), axes).astype(x.dtype, copy=False))
    return e / sum(e, axes, keepdims=True)


class LogSoftmax(Op):
    """log_softmax as one op (one node instead of five, and two passes fewer each way).

    Forward: s - log(sum(exp(s))) with s = x - max(x). Gradient: g - softmax(x) * sum(g), with
    softmax(x) = exp(output); written with the op's own output, so it is differentiable again.
    """

    name = "log_softmax"
    saves_output = True

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
    axes = norm_axis(axis, x.ndim, "log_softmax", x.shape)
    return LogSoftmax.apply(x, axes)
