"""Exponentials, logarithms and powers beyond exp/log/sqrt: each op's forward and one vjp, side by side.

log1p, expm1, log2, log10, exp2, square, cbrt, reciprocal, sinc; and the binary hypot, logaddexp
and logaddexp2, which broadcast as numpy does (`sum_to` folds their gradients back).

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([1.0, 8.0], requires_grad=True)
>>> tg.cbrt(x).sum().backward()
>>> x.grad.tolist()  # 1 / (3 x^(2/3))
[0.3333333333333333, 0.08333333333333333]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygraph.ops import domains, samplers
from tinygraph.ops._common import Op, pair, to_tensor, value
from tinygraph.ops.describe import Description, away_from_zero, described, positive
from tinygraph.ops.elementwise import exp, where
from tinygraph.ops.shape import sum_to
from tinygraph.ops.trig import cos

LN2, LN10, PI = math.log(2.0), math.log(10.0), math.pi  # Python floats: they keep float32 float32


@described
class Log1p(Op):
    name = "log1p"
    reads = ((0,),)
    description = Description(
        draw=domains.above_minus_0_8,
        params=domains.above_minus_0_9,
        call=lambda a: log1p(a),
        numpy=np.log1p,
        torch=lambda t, a: t.log1p(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.log1p(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / (1 + a)


@described
class Expm1(Op):
    name = "expm1"
    saves_output = True
    description = Description(
        params=samplers.below_4, call=lambda a: expm1(a), numpy=np.expm1, torch=lambda t, a: t.expm1(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.expm1(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * (ctx.output + 1)


@described
class Log2(Op):
    name = "log2"
    reads = ((0,),)
    description = Description(
        draw=positive, params=samplers.above_0_1, call=lambda a: log2(a), numpy=np.log2, torch=lambda t, a: t.log2(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.log2(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / (a * LN2)


@described
class Log10(Op):
    name = "log10"
    reads = ((0,),)
    description = Description(
        draw=positive,
        params=samplers.above_0_1,
        call=lambda a: log10(a),
        numpy=np.log10,
        torch=lambda t, a: t.log10(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.log10(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / (a * LN10)


@described
class Exp2(Op):
    name = "exp2"
    saves_output = True
    description = Description(
        params=samplers.below_4, call=lambda a: exp2(a), numpy=np.exp2, torch=lambda t, a: t.exp2(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.exp2(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * ctx.output * LN2


@described
class Square(Op):
    name = "square"
    reads = ((0,),)
    description = Description(call=lambda a: square(a), numpy=np.square, torch=lambda t, a: t.square(a))

    @staticmethod
    def forward(ctx, a):
        return np.square(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * (a + a)


@described
class Cbrt(Op):
    """The real cube root; its derivative 1 / (3 cbrt(x)^2) is infinite at 0."""

    name = "cbrt"
    saves_output = True
    description = Description(
        draw=away_from_zero,
        params=domains.cbrt_domain,
        call=lambda a: cbrt(a),
        numpy=np.cbrt,
        torch=lambda t, a: t.sign(a) * t.exp(t.log(t.abs(a)) / 3),  # (PyTorch has no cbrt)
    )

    @staticmethod
    def forward(ctx, a):
        return np.cbrt(a)

    @staticmethod
    def backward(ctx, g, a):
        y = ctx.output
        return g / (3 * y * y)


@described
class Reciprocal(Op):
    name = "reciprocal"
    saves_output = True
    description = Description(
        draw=away_from_zero,
        params=domains.reciprocal_domain,
        call=lambda a: reciprocal(a),
        numpy=np.reciprocal,
        torch=lambda t, a: t.reciprocal(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.reciprocal(a)

    @staticmethod
    def backward(ctx, g, a):
        y = ctx.output
        return -g * y * y


@described
class Sinc(Op):
    """sin(pi x) / (pi x), 1 at 0. Its derivative (cos(pi x) - sinc(x)) / x is taken from its
    Taylor series for |x| < 1e-2, where the two terms would cancel (exact there to 1e-13)."""

    name = "sinc"
    reads = ((0,),)
    description = Description(
        params=domains.sinc_domain, call=lambda a: sinc(a), numpy=np.sinc, torch=lambda t, a: t.sinc(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.sinc(a)

    @staticmethod
    def backward(ctx, g, a):
        small = np.abs(value(a)) < 1e-2
        safe = where(small, 1, a)
        exact = (cos(PI * safe) - sinc(safe)) / safe
        a2 = a * a
        series = a * (-(PI**2) / 3 + a2 * (PI**4 / 30 - a2 * (PI**6 / 840)))
        return g * where(small, series, exact)


@described
class Hypot(Op):
    """sqrt(a^2 + b^2) without overflow; at (0, 0), a kink, the gradient is NaN (0 / 0)."""

    name = "hypot"
    reads = ((0,), (1,))
    saves_output = True
    description = Description(
        inputs=2,
        params=domains.off_origin,
        call=lambda a, b: hypot(a, b),
        numpy=np.hypot,
        torch=lambda t, a, b: t.hypot(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        return np.hypot(a, b)

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        gy = g / ctx.output
        return (sum_to(gy * a, a.shape) if na else None, sum_to(gy * b, b.shape) if nb else None)


@described
class LogAddExp(Op):
    """log(e^a + e^b), finite for any a and b; each gradient is a softmax weight, exp(a - out)."""

    name = "logaddexp"
    reads = ((0,), (1,))
    saves_output = True
    description = Description(
        inputs=2,
        call=lambda a, b: logaddexp(a, b),
        numpy=np.logaddexp,
        torch=lambda t, a, b: t.logaddexp(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        return np.logaddexp(a, b)

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        y = ctx.output
        return (sum_to(g * exp(a - y), a.shape) if na else None, sum_to(g * exp(b - y), b.shape) if nb else None)


@described
class LogAddExp2(Op):
    """log2(2^a + 2^b); each gradient is 2^(a - out)."""

    name = "logaddexp2"
    reads = ((0,), (1,))
    saves_output = True
    description = Description(
        inputs=2,
        call=lambda a, b: logaddexp2(a, b),
        numpy=np.logaddexp2,
        torch=lambda t, a, b: t.logaddexp2(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        return np.logaddexp2(a, b)

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        y = ctx.output
        return (sum_to(g * exp2(a - y), a.shape) if na else None, sum_to(g * exp2(b - y), b.shape) if nb else None)


# ----- public functions --------------------------------------------------------------------


def log1p(x: Any) -> Any:
    """log(1 + x), exact for small x."""
    return Log1p.apply(to_tensor(x, "log1p"))


def expm1(x: Any) -> Any:
    """exp(x) - 1, exact for small x."""
    return Expm1.apply(to_tensor(x, "expm1"))


def log2(x: Any) -> Any:
    """Base-2 logarithm."""
    return Log2.apply(to_tensor(x, "log2"))


def log10(x: Any) -> Any:
    """Base-10 logarithm."""
    return Log10.apply(to_tensor(x, "log10"))


def exp2(x: Any) -> Any:
    """2 ** x."""
    return Exp2.apply(to_tensor(x, "exp2"))


def square(x: Any) -> Any:
    """x * x."""
    return Square.apply(to_tensor(x, "square"))


def cbrt(x: Any) -> Any:
    """The real cube root (negative for negative x)."""
    return Cbrt.apply(to_tensor(x, "cbrt"))


def reciprocal(x: Any) -> Any:
    """1 / x (for integer arrays numpy's integer reciprocal)."""
    return Reciprocal.apply(to_tensor(x, "reciprocal"))


def sinc(x: Any) -> Any:
    """The normalized sinc, sin(pi x) / (pi x), as ``np.sinc``."""
    return Sinc.apply(to_tensor(x, "sinc"))


def hypot(a: Any, b: Any) -> Any:
    """sqrt(a^2 + b^2), broadcasting as numpy does."""
    return Hypot.apply(*pair(a, b, "hypot"))


def logaddexp(a: Any, b: Any) -> Any:
    """log(exp(a) + exp(b)), finite for any a and b, broadcasting as numpy does."""
    return LogAddExp.apply(*pair(a, b, "logaddexp"))


def logaddexp2(a: Any, b: Any) -> Any:
    """log2(2^a + 2^b), broadcasting as numpy does."""
    return LogAddExp2.apply(*pair(a, b, "logaddexp2"))
