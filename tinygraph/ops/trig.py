"""Trigonometric and hyperbolic functions and their inverses: each op's forward and one vjp, side by side.

Each vjp is written in tinygraph's functions (sin's is cos's forward, cos's is sin's), so every
derivative is differentiable again. The inverse functions' derivatives are infinite at the ends
of their domains (arcsin at +-1, arccosh at 1, arctanh at +-1): there they give inf, as numpy.

>>> import numpy as np, tinygraph as tg
>>> x = tg.tensor([0.0, 0.5], requires_grad=True)
>>> tg.sin(x).sum().backward()
>>> np.allclose(x.grad.data, np.cos([0.0, 0.5]))
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import domains
from tinygraph.ops._common import Op, pair, to_tensor
from tinygraph.ops.describe import Description, described
from tinygraph.ops.elementwise import sqrt
from tinygraph.ops.shape import sum_to


@described
class Sin(Op):
    name = "sin"
    reads = ((0,),)
    description = Description(call=lambda a: sin(a), numpy=np.sin, torch=lambda t, a: t.sin(a))

    @staticmethod
    def forward(ctx, a):
        return np.sin(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * cos(a)


@described
class Cos(Op):
    name = "cos"
    reads = ((0,),)
    description = Description(call=lambda a: cos(a), numpy=np.cos, torch=lambda t, a: t.cos(a))

    @staticmethod
    def forward(ctx, a):
        return np.cos(a)

    @staticmethod
    def backward(ctx, g, a):
        return -g * sin(a)


@described
class Tan(Op):
    name = "tan"
    saves_output = True
    description = Description(
        params=domains.tan_domain, call=lambda a: tan(a), numpy=np.tan, torch=lambda t, a: t.tan(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.tan(a)

    @staticmethod
    def backward(ctx, g, a):
        y = ctx.output
        return g * (1 + y * y)


@described
class Arcsin(Op):
    name = "arcsin"
    reads = ((0,),)
    description = Description(
        draw=domains.unit_interval,
        params=domains.inside_unit,
        call=lambda a: arcsin(a),
        numpy=np.arcsin,
        torch=lambda t, a: t.asin(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.arcsin(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / sqrt(1 - a * a)


@described
class Arccos(Op):
    name = "arccos"
    reads = ((0,),)
    description = Description(
        draw=domains.unit_interval,
        params=domains.inside_unit,
        call=lambda a: arccos(a),
        numpy=np.arccos,
        torch=lambda t, a: t.acos(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.arccos(a)

    @staticmethod
    def backward(ctx, g, a):
        return -g / sqrt(1 - a * a)


@described
class Arctan(Op):
    name = "arctan"
    reads = ((0,),)
    description = Description(call=lambda a: arctan(a), numpy=np.arctan, torch=lambda t, a: t.atan(a))

    @staticmethod
    def forward(ctx, a):
        return np.arctan(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / (1 + a * a)


@described
class Arctan2(Op):
    """The angle of the point (x, y): d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2).

    At (0, 0) the angle is not differentiable and the gradient is NaN (0 / 0); across the cut
    x < 0, y = 0 the angle jumps by 2 pi.
    """

    name = "arctan2"
    reads = ((0, 1), (0, 1))
    description = Description(
        inputs=2,
        params=domains.arctan2_domain,
        call=lambda a, b: arctan2(a, b),
        numpy=np.arctan2,
        torch=lambda t, a, b: t.atan2(a, b),
    )

    @staticmethod
    def forward(ctx, y, x):
        return np.arctan2(y, x)

    @staticmethod
    def backward(ctx, g, y, x):
        ny, nx = ctx.needs_input_grad
        r2 = x * x + y * y
        return (sum_to(g * x / r2, y.shape) if ny else None, sum_to(-g * y / r2, x.shape) if nx else None)


@described
class Sinh(Op):
    name = "sinh"
    reads = ((0,),)
    description = Description(
        params=domains.below_3_in_size, call=lambda a: sinh(a), numpy=np.sinh, torch=lambda t, a: t.sinh(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.sinh(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * cosh(a)


@described
class Cosh(Op):
    name = "cosh"
    reads = ((0,),)
    description = Description(
        params=domains.below_3_in_size, call=lambda a: cosh(a), numpy=np.cosh, torch=lambda t, a: t.cosh(a)
    )

    @staticmethod
    def forward(ctx, a):
        return np.cosh(a)

    @staticmethod
    def backward(ctx, g, a):
        return g * sinh(a)


@described
class Arcsinh(Op):
    name = "arcsinh"
    reads = ((0,),)
    description = Description(call=lambda a: arcsinh(a), numpy=np.arcsinh, torch=lambda t, a: t.asinh(a))

    @staticmethod
    def forward(ctx, a):
        return np.arcsinh(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / sqrt(a * a + 1)


@described
class Arccosh(Op):
    name = "arccosh"
    reads = ((0,),)
    description = Description(
        draw=domains.above_one,
        params=domains.above_1,
        call=lambda a: arccosh(a),
        numpy=np.arccosh,
        torch=lambda t, a: t.acosh(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.arccosh(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / sqrt(a * a - 1)


@described
class Arctanh(Op):
    name = "arctanh"
    reads = ((0,),)
    description = Description(
        draw=domains.unit_interval,
        params=domains.inside_unit,
        call=lambda a: arctanh(a),
        numpy=np.arctanh,
        torch=lambda t, a: t.atanh(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.arctanh(a)

    @staticmethod
    def backward(ctx, g, a):
        return g / (1 - a * a)


# ----- public functions --------------------------------------------------------------------


def sin(x: Any) -> Any:
    """Sine, elementwise (radians)."""
    return Sin.apply(to_tensor(x, "sin"))


def cos(x: Any) -> Any:
    """Cosine, elementwise (radians)."""
    return Cos.apply(to_tensor(x, "cos"))


def tan(x: Any) -> Any:
    """Tangent, elementwise; its derivative is 1 + tan(x)^2."""
    return Tan.apply(to_tensor(x, "tan"))


def arcsin(x: Any) -> Any:
    """Inverse sine on [-1, 1] (NaN outside, as numpy)."""
    return Arcsin.apply(to_tensor(x, "arcsin"))


def arccos(x: Any) -> Any:
    """Inverse cosine on [-1, 1] (NaN outside, as numpy)."""
    return Arccos.apply(to_tensor(x, "arccos"))


def arctan(x: Any) -> Any:
    """Inverse tangent."""
    return Arctan.apply(to_tensor(x, "arctan"))


def arctan2(y: Any, x: Any) -> Any:
    """The angle of (x, y) in (-pi, pi], broadcasting as numpy does (``np.arctan2(y, x)``)."""
    return Arctan2.apply(*pair(y, x, "arctan2"))


def sinh(x: Any) -> Any:
    """Hyperbolic sine."""
    return Sinh.apply(to_tensor(x, "sinh"))


def cosh(x: Any) -> Any:
    """Hyperbolic cosine."""
    return Cosh.apply(to_tensor(x, "cosh"))


def arcsinh(x: Any) -> Any:
    """Inverse hyperbolic sine."""
    return Arcsinh.apply(to_tensor(x, "arcsinh"))


def arccosh(x: Any) -> Any:
    """Inverse hyperbolic cosine on [1, inf) (NaN below 1, as numpy)."""
    return Arccosh.apply(to_tensor(x, "arccosh"))


def arctanh(x: Any) -> Any:
    """Inverse hyperbolic tangent on (-1, 1)."""
    return Arctanh.apply(to_tensor(x, "arctanh"))
