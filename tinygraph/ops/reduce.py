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
from tinygraph.ops.spellings import torch_keywords


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
    description = Description(
        kink="where the maximum is tied",
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
    description = Description(
        kink="where the minimum is tied",
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
    if cls is not Sum and _count(x.shape, axes) == 0:  # numpy's rule: an empty result is fine, no values are not
        raise ValueError(_no_values(name, x.shape, axes))
    return cls.apply(x, axes, bool(keepdims))


def _no_values(name: str, shape: tuple, axes: tuple | None) -> str:
    where = "all axes" if axes is None else f"axis {axes[0] if len(axes) == 1 else axes}"
    return (
        f"{name}: cannot reduce a tensor of shape {shape} over {where}: an axis of length 0 leaves no values, "
        "and the result is undefined (numpy raises too)"
    )


def sum(x: Any, axis: Any = None, keepdims: bool = False, **torch_style: Any) -> Any:  # noqa: A001 - numpy's name
    """Sum over `axis` (int, tuple or None for all), as ``np.sum``."""
    if torch_style:  # dim=, keepdim=: an error naming numpy's spelling
        raise torch_keywords("sum", torch_style)
    return _reduce(Sum, "sum", x, axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False, **torch_style: Any) -> Any:  # noqa: A001
    """Maximum over `axis`, as ``np.max``; tied maxima share the gradient evenly."""
    if torch_style:
        raise torch_keywords("max", torch_style)
    return _reduce(Max, "max", x, axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False, **torch_style: Any) -> Any:  # noqa: A001
    """Minimum over `axis`, as ``np.min``; tied minima share the gradient evenly."""
    if torch_style:
        raise torch_keywords("min", torch_style)
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
def mean(x: Any, axis: Any = None, keepdims: bool = False, **torch_style: Any) -> Any:
    """Mean over `axis`, as ``np.mean``."""
    if torch_style:
        raise torch_keywords("mean", torch_style)
    x = to_tensor(x, "mean")
    axes = norm_axis(axis, x.ndim, "mean", x.shape)
    n = _count(x.shape, axes)
    if n == 0:
        raise ValueError(f"mean: cannot average over an empty axis of a tensor of shape {x.shape}")
    return sum(x, axes, keepdims) * (1.0 / n)


@described
class Var(Op):
    """Variance, two-pass: the mean first, then the centred squares (as numpy).

    Its gradient is 2 (x - mean(x)) / (n - ddof), with the mean recomputed: the chain rule
    through the mean adds a term that is zero exactly but not in rounding, where a large
    element's rounding swamps a small one's gradient ([1e4, -1e4, 0.5] in float32).
    """

    name = "var"
    reads = ((0,),)
    description = Description(
        args=("axis", "keepdims", "ddof"),
        params=samplers.variance_axes,
        call=lambda a, **p: var(a, **p),
        numpy=lambda a, axis, keepdims, ddof: np.var(a, axis=axis, keepdims=keepdims, ddof=ddof),
        torch=lambda t, a, axis, keepdims, ddof: (
            a * 0.0
            if a.ndim == 0
            else t.var(a, dim=samplers.norm_axes(axis, a.ndim), correction=ddof, keepdim=keepdims)
        ),
    )

    @staticmethod
    def forward(ctx, a, axes, keepdims, ddof):
        d = a - a.mean(axis=axes, keepdims=True)
        return (d * d).sum(axis=axes, keepdims=keepdims) / (_count(a.shape, axes) - ddof)

    @staticmethod
    def backward(ctx, g, a, axes, keepdims, ddof):
        if not keepdims:
            g = g.reshape(_keepdims_shape(a.shape, axes))
        d = a - mean(a, axes, keepdims=True)
        return g * d * (2.0 / (_count(a.shape, axes) - ddof)), None, None, None


def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0, **torch_style: Any) -> Any:
    """Variance over `axis`, as ``np.var`` (divides by n - ddof); two-pass, and so is its gradient."""
    if torch_style:
        raise torch_keywords("var", torch_style)
    x = to_tensor(x, "var")
    axes = norm_axis(axis, x.ndim, "var", x.shape)
    n = _count(x.shape, axes)
    if n - ddof <= 0:
        raise ValueError(f"var: {n} values with ddof={ddof} leave no degrees of freedom (shape {x.shape})")
    return Var.apply(x, axes, bool(keepdims), int(ddof))


def _shift(x: np.ndarray, axes: tuple | None) -> np.ndarray:
    """The max over `axes` as a constant, so exp never overflows; infinities become 0."""
    if x.size == 0:  # (an empty axis, or an empty tensor: nothing to shift)
        return np.zeros(_keepdims_shape(x.shape, axes), x.dtype)
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
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, **torch_style: Any) -> Any:
    """log(sum(exp(x))) over `axis`, finite for inputs as large as +-1e4 (and beyond)."""
    if torch_style:
        raise torch_keywords("logsumexp", torch_style)
    x = to_tensor(x, "logsumexp")
    axes = norm_axis(axis, x.ndim, "logsumexp", x.shape)
    if _count(x.shape, axes) == 0:  # the log of an empty sum: -inf, as numpy's formula and PyTorch give
        return sum(x, axes, keepdims) + np.array(-np.inf, np.result_type(x.dtype, 1.0))
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
def softmax(x: Any, axis: int = -1, **torch_style: Any) -> Any:
    """exp(x) / sum(exp(x)) along `axis`, computed with the max subtracted (exact for large inputs)."""
    if torch_style:
        raise torch_keywords("softmax", torch_style)
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
        if s.size == 0:
            return s
        return s - np.log(np.exp(s).sum(axis=axes, keepdims=True))

    @staticmethod
    def backward(ctx, g, a, axes):
        return g - exp(ctx.output) * g.sum(axis=axes, keepdims=True), None


def log_softmax(x: Any, axis: int = -1, **torch_style: Any) -> Any:
    """x - logsumexp(x) along `axis`, finite and exact for inputs as large as +-1e4.

    Computed as s - log(sum(exp(s))) with s = x - max(x): subtracting the large
    logsumexp from x directly would cancel away the small result's digits.
    """
    if torch_style:
        raise torch_keywords("log_softmax", torch_style)
    x = to_tensor(x, "log_softmax")
    if x.ndim == 0 and axis in (None, 0, -1):  # one value: its log_softmax is 0 (gradient 0)
        return x - x
    axes = norm_axis(axis, x.ndim, "log_softmax", x.shape)
    return LogSoftmax.apply(x, axes)
