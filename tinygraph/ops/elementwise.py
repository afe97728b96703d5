"""Elementwise arithmetic: each op's forward on arrays and its one vjp, side by side.

Binary ops broadcast as numpy does; `sum_to` folds each gradient back to its input's shape.
``reads[i]`` lists the inputs that input i's gradient reads (those are guarded against writes).
Each op's ``description`` says how to call, sample and cross-check it (`tinygraph.ops.describe`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph import strict
from tinygraph.ops import samplers
from tinygraph.ops._common import ZERO, Op, kept, pair, to_tensor, value
from tinygraph.ops.describe import Description, away_from_zero, described, describes, normal, positive
from tinygraph.ops.shape import sum_to
from tinygraph.tensor import Tensor


@described
class Add(Op):
    name = "add"
    description = Description(
        inputs=2, call=lambda a, b: a + b, numpy=np.add, torch=lambda t, a, b: a + b, source="{0} + {1}"
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("add", a, b)
        return a + b

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        return (sum_to(g, a.shape) if na else None, sum_to(g, b.shape) if nb else None)


@described
class Sub(Op):
    name = "sub"
    description = Description(
        inputs=2, call=lambda a, b: a - b, numpy=np.subtract, torch=lambda t, a, b: a - b, source="{0} - {1}"
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("sub", a, b)
        return a - b

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        return (sum_to(g, a.shape) if na else None, sum_to(-g, b.shape) if nb else None)


@described
class Mul(Op):
    name = "mul"
    reads = ((1,), (0,))  # each gradient needs only the other operand
    description = Description(
        inputs=2, call=lambda a, b: a * b, numpy=np.multiply, torch=lambda t, a, b: a * b, source="{0} * {1}"
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("mul", a, b)
        return a * b

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        return (sum_to(g * b, a.shape) if na else None, sum_to(g * a, b.shape) if nb else None)


@described
class Div(Op):
    name = "div"
    reads = ((1,), (0, 1))
    description = Description(
        inputs=2,
        draw=(normal, away_from_zero),
        params=samplers.divisor_away_from_zero,
        call=lambda a, b: a / b,
        numpy=np.divide,
        torch=lambda t, a, b: a / b,
        source="{0} / {1}",
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("div", a, b)
        return a / b

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        return (sum_to(g / b, a.shape) if na else None, sum_to(-g * a / (b * b), b.shape) if nb else None)


@described
class Neg(Op):
    name = "neg"
    description = Description(call=lambda a: -a, numpy=np.negative, torch=lambda t, a: -a, source="-{0}")

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g, a):
        return -g


@described
class Pow(Op):
    """a ** b; d/da = b * a**(b-1), 0 where b = 0 (a**0 is 1, also at a = 0); d/db = a**b * log(a),
    taken as 0 where a <= 0 (where it is 0 or undefined)."""

    name = "pow"
    reads = ((0, 1), (0,))
    saves_output = True
    description = Description(
        inputs=2,
        draw=(positive, normal),
        params=samplers.positive_base,
        call=lambda a, b: a**b,
        numpy=np.power,
        # (not a**b: PyTorch masks the base's gradient where the exponent is 0, so its derivative of that
        # gradient by the exponent is 0 there instead of a**(b-1); exp(b log a) has PyTorch's exact
        # derivatives for the positive bases drawn here: tests/test_fuzz.py, seed 9595)
        torch=lambda t, a, b: t.exp(b * t.log(a)),
        source="{0} ** {1}",
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("pow", a, b)
        return a**b

    @staticmethod
    def backward(ctx, g, a, b):
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:  # where a = b = 0, b * a**(b-1) would be 0 * inf: there a is taken as 1 (so the product is 0)
            at_zero = (value(a) == 0) & (value(b) == 0)
            ga = sum_to(g * b * where(at_zero, 1, a) ** (b - 1), a.shape)
        if nb:
            positive = value(a) > 0
            gb = sum_to(where(positive, g * ctx.output * log(where(positive, a, 1)), 0), b.shape)
        return ga, gb


@described
class Exp(Op):
    name = "exp"
    saves_output = True
    description = Description(params=samplers.below_4, call=lambda a: exp(a), numpy=np.exp, torch=lambda t, a: t.exp(a))

    @staticmethod
    def forward(ctx, a):
        return np.exp(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * ctx.output


@described
class Log(Op):
    name = "log"
    reads = ((0,),)
    description = Description(
        draw=positive, params=samplers.above_0_1, call=lambda a: log(a), numpy=np.log, torch=lambda t, a: t.log(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.log(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / a


@described
class Sqrt(Op):
    name = "sqrt"
    saves_output = True
    description = Description(
        draw=positive, params=samplers.above_0_1, call=lambda a: sqrt(a), numpy=np.sqrt, torch=lambda t, a: t.sqrt(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.sqrt(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / (ctx.output * 2)


@described
class Abs(Op):
    name = "abs"
    reads = ((0,),)
    description = Description(
        kink="at 0",
        draw=away_from_zero,
        params=samplers.kink_at_zero,
        call=lambda a: abs(a),
        numpy=np.abs,
        torch=lambda t, a: t.abs(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.abs(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * np.sign(value(a))


def _shares(x: Any, y: Any, dtype: np.dtype, low: bool) -> np.ndarray:
    """Each operand's share of the gradient of max (min if `low`): 1 where it wins, 1/2 at ties."""
    x, y = value(x), value(y)
    wins = x < y if low else x > y
    return (wins + 0.5 * (x == y)).astype(dtype, copy=False)


@described
class Maximum(Op):
    """Elementwise max; at ties each operand gets half the gradient."""

    name = "maximum"
    reads = ((0, 1), (0, 1))
    description = Description(
        kink="where a == b",
        inputs=2,
        params=samplers.apart,
        call=lambda a, b: maximum(a, b),
        numpy=np.maximum,
        torch=lambda t, a, b: t.maximum(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("maximum", a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g, a, b):
        return _split(ctx, g, a, b, _shares(a, b, value(g).dtype, low=False))


@described
class Minimum(Op):
    """Elementwise min; at ties each operand gets half the gradient."""

    name = "minimum"
    reads = ((0, 1), (0, 1))
    description = Description(
        kink="where a == b",
        inputs=2,
        params=samplers.apart,
        call=lambda a, b: minimum(a, b),
        numpy=np.minimum,
        torch=lambda t, a, b: t.minimum(a, b),
    )

    @staticmethod
    def forward(ctx, a, b):
        if strict.active:  # tg.strict_shapes() is on in some thread
            strict.check("minimum", a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g, a, b):
        return _split(ctx, g, a, b, _shares(a, b, value(g).dtype, low=True))


def _split(ctx, g: Any, a: Any, b: Any, w: np.ndarray) -> tuple:
    na, nb = ctx.needs_input_grad
    return (sum_to(g * w, a.shape) if na else None, sum_to(g * (1 - w), b.shape) if nb else None)


@described
class Clip(Op):
    """Clip to [a_min, a_max]: ``minimum(maximum(a, a_min), a_max)``. The gradient passes to the input
    where it is inside (bounds included), to a bound that is a Tensor where it clips (PyTorch's clamp)."""

    name = "clip"
    reads = ((0, 1, 2), (0, 1, 2), (0, 1, 2))
    description = Description(
        kink="at the bounds",
        args=("min", "max"),
        params=samplers.clip_bounds,
        call=lambda a, **p: clip(a, **p),
        numpy=lambda a, a_min, a_max: np.clip(a, a_min, a_max),
        torch=lambda t, a, a_min, a_max: t.clamp(a, a_min, a_max),
    )

    @staticmethod
    def forward(ctx, a, a_min, a_max):
        return np.clip(a, a_min, a_max)

    @staticmethod
    def backward(ctx, g, a, a_min, a_max):
        x, lo, hi = value(a), value(a_min), value(a_max)
        na, nlo, nhi = ctx.needs_input_grad
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        g_lo = g_hi = None
        if nlo:  # the lower bound is the result where x is below it (and it is not above the upper one)
            below = (x < lo) & (True if hi is None else lo <= hi)
            g_lo = sum_to(g * below.astype(x.dtype), np.shape(lo))
        if nhi:  # the upper bound is the result where max(x, lo) is above it
            g_hi = sum_to(g * ((x if lo is None else np.maximum(x, lo)) > hi).astype(x.dtype), np.shape(hi))
        return g * inside if na else None, g_lo, g_hi


@described
class Where(Op):
    name = "where"
    description = Description(
        args=("condition",),
        inputs=2,
        params=samplers.where_mask,
        call=lambda a, b, mask: where(mask, a, b),
        numpy=lambda a, b, mask: np.where(mask, a, b),
        torch=lambda t, a, b, mask: t.where(t.as_tensor(mask), a, b),
        source="tg.where({mask}, {0}, {1})",
    )

    @staticmethod
    def forward(ctx, cond, a, b):
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g, cond, a, b):
        na, nb = ctx.needs_input_grad[1:]
        zero = ZERO[value(g).dtype]
        return (
            None,
            sum_to(where(cond, g, zero), a.shape) if na else None,
            sum_to(where(cond, zero, g), b.shape) if nb else None,
        )


@described
class AsType(Op):
    name = "astype"
    description = Description(
        args=("",),
        call=lambda a: astype(a, np.float64),
        numpy=lambda a: a.astype(np.float64),
        torch=lambda t, a: a.to(t.float64),
        source="tg.astype({0}, np.float64)",
    )

    @staticmethod
    def forward(ctx, a, dtype):
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g, a, dtype):
        return astype(g, a.dtype), None


# ----- public functions --------------------------------------------------------------------


def add(a: Any, b: Any) -> Any:
    """a + b, broadcasting as numpy does."""
    return Add.apply(*pair(a, b, "add"))


def subtract(a: Any, b: Any) -> Any:
    """a - b, broadcasting as numpy does."""
    return Sub.apply(*pair(a, b, "sub"))


def multiply(a: Any, b: Any) -> Any:
    """a * b, broadcasting as numpy does."""
    return Mul.apply(*pair(a, b, "mul"))


def divide(a: Any, b: Any) -> Any:
    """a / b, broadcasting as numpy does."""
    return Div.apply(*pair(a, b, "div"))


# a power with a number for exponent (x ** 3): `Pow` with a constant b, described on its own
@describes(
    Description(
        "pow_const",
        args=("p",),
        draw=positive,
        params=samplers.constant_exponent,
        call=lambda a, p: a**p,
        numpy=lambda a, p: a**p,
        torch=lambda t, a, p: a**p,
        source="{0} ** {p}",
    )
)
def power(a: Any, b: Any) -> Any:
    """a ** b; differentiable in both (in b where a > 0)."""
    return Pow.apply(*pair(a, b, "pow"))


def negative(a: Any) -> Any:
    """-a."""
    return Neg.apply(to_tensor(a, "neg"))


sub, mul, div, neg = subtract, multiply, divide, negative


def exp(a: Any) -> Any:
    """e ** a."""
    return Exp.apply(to_tensor(a, "exp"))


def log(a: Any) -> Any:
    """Natural logarithm."""
    return Log.apply(to_tensor(a, "log"))


def sqrt(a: Any) -> Any:
    """Square root."""
    return Sqrt.apply(to_tensor(a, "sqrt"))


def abs(a: Any) -> Any:  # noqa: A001 - numpy's name
    """|a|; its gradient at 0 is 0."""
    return Abs.apply(to_tensor(a, "abs"))


def maximum(a: Any, b: Any) -> Any:
    """Elementwise maximum of a and b (ties split the gradient evenly)."""
    return Maximum.apply(*pair(a, b, "maximum"))


def minimum(a: Any, b: Any) -> Any:
    """Elementwise minimum of a and b (ties split the gradient evenly)."""
    return Minimum.apply(*pair(a, b, "minimum"))


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Any:
    """Limit a to [a_min, a_max] (either or both may be None), as ``np.clip``.

    numpy's rule where a_min > a_max: the result is a_max everywhere (``minimum(maximum(a, a_min),
    a_max)``), with a zero gradient.
    """
    a = to_tensor(a, "clip")
    bounds = [b if isinstance(b, Tensor) and b.requires_grad else kept(b, a) for b in (a_min, a_max)]
    return Clip.apply(a, *bounds)


def where(cond: Any, a: Any, b: Any) -> Any:
    """Elements of a where cond is true, else of b (``np.where``); cond gets no gradient."""
    a, b = pair(a, b, "where")
    cond = value(cond)
    if not isinstance(cond, np.ndarray):  # (an ndarray is kept as it is: tg.compile's trace follows it)
        cond = np.asarray(cond, dtype=bool)
    else:  # a mask of its own: the caller's bool array copied when a graph is recorded, another one cast
        cond = kept(cond, a, b) if cond.dtype == bool else cond.astype(bool)
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: condition {cond.shape}, x {a.shape} and y {b.shape} do not broadcast together"
        ) from None
    return Where.apply(cond, a, b)


def astype(a: Any, dtype: Any) -> Any:
    """Cast to `dtype`; the gradient is cast back to the input's dtype."""
    a = to_tensor(a, "astype")
    try:
        dtype = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"astype: {tuple(a.shape)}: {e}") from None
    if isinstance(a, Tensor) and a.requires_grad and dtype.kind != "f":
        raise TypeError(
            f"astype: casting a tensor that requires grad to {dtype} would cut the graph; use detach() first"
        )
    return AsType.apply(a, dtype)
