"""Reductions, and the composites built on them (mean, var, logsumexp, softmax, log_softmax)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.function import Function
from tinygraph.ops._common import norm_axis, to_tensor
from tinygraph.ops.elementwise import _const, exp, log
from tinygraph.ops.shape import BroadcastTo, Reshape, broadcast_to, np_expand, reshape
from tinygraph.tensor import Tensor


def _keepdims_shape(shape: tuple, axes: tuple | None) -> tuple:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    name = "sum"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        return a._data.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        a, axes, keepdims = ctx.inputs
        # vjps know their shapes are valid, so they call the op classes, not the checking functions
        if not keepdims:
            g = Reshape.apply(g, _keepdims_shape(a.shape, axes))
        return BroadcastTo.apply(g, a.shape), None, None

    @staticmethod
    def numpy_backward(ctx, g):
        a, axes, keepdims = ctx.inputs
        shape = a._data.shape
        if not keepdims:
            g = g.reshape(_keepdims_shape(shape, axes))
        return np_expand(g, shape), None, None


class _Extreme(Function):
    """max / min over axes; the gradient is shared evenly among tied extremes."""

    _numpy_forward = True
    saves_output = True

    @staticmethod
    def backward(ctx, g):
        a, axes, keepdims = ctx.inputs
        (x,) = ctx.saved_tensors
        kshape = _keepdims_shape(a.shape, axes)
        hit = x._data == ctx.output._data.reshape(kshape)
        share = hit / hit.sum(axis=axes, keepdims=True)
        if not keepdims:
            g = reshape(g, kshape)
        return broadcast_to(g, a.shape) * _const(share.astype(g.dtype, copy=False)), None, None

    @staticmethod
    def numpy_backward(ctx, g):
        a, axes, keepdims = ctx.inputs
        (x,) = ctx._saved
        kshape = _keepdims_shape(x._data.shape, axes)
        hit = x._data == ctx.output._data.reshape(kshape)
        share = (hit / hit.sum(axis=axes, keepdims=True)).astype(g.dtype, copy=False)
        return g.reshape(kshape) * share, None, None


class Max(_Extreme):
    name = "max"

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.save_for_backward(a)
        return a._data.max(axis=axes, keepdims=keepdims)


class Min(_Extreme):
    name = "min"

    @staticmethod
    def forward(ctx, a, axes, keepdims):
        ctx.save_for_backward(a)
        return a._data.min(axis=axes, keepdims=keepdims)


def _reduce(cls: type, name: str, x: Any, axis: Any, keepdims: bool) -> Tensor:
    x = to_tensor(x, name)
    axes = norm_axis(axis, x.ndim, name, x.shape)
    if cls is not Sum and x.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {x.shape}")
    return cls.apply(x, axes, bool(keepdims))


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001 - numpy's name
    """Sum over `axis` (int, tuple or None for all), as ``np.sum``."""
    return _reduce(Sum, "sum", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over `axis`, as ``np.max``; tied maxima share the gradient evenly."""
    return _reduce(Max, "max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over `axis`, as ``np.min``; tied minima share the gradient evenly."""
    return _reduce(Min, "min", x, axis, keepdims)


def _count(shape: tuple, axes: tuple | None) -> int:
    return math.prod(shape) if axes is None else math.prod(shape[i] for i in axes)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """Mean over `axis`, as ``np.mean``."""
    x = to_tensor(x, "mean")
    axes = norm_axis(axis, x.ndim, "mean", x.shape)
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    return sum(x, axes, keepdims) * (1.0 / n)


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
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


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis`, finite for inputs as large as +-1e4 (and beyond)."""
    x = to_tensor(x, "logsumexp")
    axes = norm_axis(axis, x.ndim, "logsumexp", x.shape)
    if x.size == 0:
        raise ValueError(f"logsumexp: cannot reduce an empty tensor of shape {x.shape}")
    m = _shift(x._data, axes)
    out = log(sum(exp(x - _const(m)), axes, keepdims=True)) + _const(m)
    return out if keepdims else reshape(out, np.squeeze(m, axis=axes).shape)


def softmax(x: Any, axis: int = -1) -> Tensor:
    """exp(x) / sum(exp(x)) along `axis`, computed with the max subtracted (exact for large inputs)."""
    x = to_tensor(x, "softmax")
    axes = norm_axis(axis, x.ndim, "softmax", x.shape)
    e = exp(x - _const(_shift(x._data, axes)))
    return e / sum(e, axes, keepdims=True)


def np_log_softmax(x: np.ndarray, axes: tuple) -> np.ndarray:
    """log_softmax of an array as s - log(sum(exp(s))) with s = x - max(x) (LogSoftmax's forward)."""
    s = x - _shift(x, axes)
    return s - np.log(np.exp(s).sum(axis=axes, keepdims=True))


class LogSoftmax(Function):
    """log_softmax as one op (one node instead of five, and two passes fewer each way).

    Forward: s - log(sum(exp(s))) with s = x - max(x). Gradient: g - softmax(x) * sum(g), with
    softmax(x) = exp(output); written with the op's own output, so it is differentiable again.
    """

    name = "log_softmax"
    _numpy_forward = True
    saves_output = True

    @staticmethod
    def forward(ctx, a, axes):
        return np_log_softmax(a._data, axes)

    @staticmethod
    def backward(ctx, g):
        axes = ctx.inputs[1]
        return g - exp(ctx.output) * sum(g, axes, keepdims=True), None

    @staticmethod
    def numpy_backward(ctx, g):
        axes = ctx.inputs[1]
        return g - np.exp(ctx.output._data) * g.sum(axis=axes, keepdims=True), None


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    """x - logsumexp(x) along `axis`, finite and exact for inputs as large as +-1e4.

    Computed as s - log(sum(exp(s))) with s = x - max(x): subtracting the large
    logsumexp from x directly would cancel away the small result's digits.
    """
    x = to_tensor(x, "log_softmax")
    axes = norm_axis(axis, x.ndim, "log_softmax", x.shape)
    return LogSoftmax.apply(x, axes)
