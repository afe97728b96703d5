"""Activation functions: forward in numpy (numerically stable), one vjp each, side by side.

Each op's ``description`` says how to call, sample and cross-check it (`tinygraph.ops.describe`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import samplers
from tinygraph.ops._common import ONE, ZERO, Op, to_tensor, value
from tinygraph.ops.describe import Description, away_from_zero, described


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of -|x| never overflows; both branches are exact to float precision:
    # 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (constants in x's dtype)
    e = np.exp(-np.abs(x))
    one = ONE[e.dtype]
    r = one / (one + e)
    return np.where(x >= ZERO[x.dtype], r, e * r)


@described
class Sigmoid(Op):
    name = "sigmoid"
    saves_output = True
    description = Description(
        call=lambda a: sigmoid(a), numpy=lambda a: 1 / (1 + np.exp(-a)), torch=lambda t, a: t.sigmoid(a)
    )

    @staticmethod
    def forward(ctx, a):
        return _stable_sigmoid(a)

    @staticmethod
    def backward(ctx, g, a):
        y = ctx.output
        return g * (y * (ONE[y.dtype] - y))


@described
class Tanh(Op):
    name = "tanh"
    saves_output = True
    description = Description(call=lambda a: tanh(a), numpy=np.tanh, torch=lambda t, a: t.tanh(a))

    @staticmethod
    def forward(ctx, a):
        return np.tanh(a)

    @staticmethod
    def backward(ctx, g, a):
        y = ctx.output
        return g * (ONE[y.dtype] - y * y)


@described
class Relu(Op):
    name = "relu"
    reads = ((0,),)
    description = Description(
        kink="at 0",
        draw=away_from_zero,
        params=samplers.kink_at_zero,
        call=lambda a: relu(a),
        numpy=lambda a: np.maximum(a, 0.0),
        torch=lambda t, a: t.relu(a),
    )

    @staticmethod
    def forward(ctx, a):
        return np.maximum(a, ZERO[a.dtype])

    @staticmethod
    def backward(ctx, g, a):
        x = value(a)
        return g * (x > ZERO[x.dtype])


@described
class LeakyRelu(Op):
    name = "leaky_relu"
    reads = ((0,),)
    description = Description(
        kink="at 0",
        args=("slope",),
        draw=away_from_zero,
        params=samplers.leaky_slope,
        call=lambda a, **p: leaky_relu(a, **p),
        numpy=lambda a, negative_slope: np.where(a > 0, a, a * negative_slope),
        torch=lambda t, a, negative_slope: t.nn.functional.leaky_relu(a, negative_slope),
    )

    @staticmethod
    def forward(ctx, a, slope):
        return np.where(a > 0, a, a * slope).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g, a, slope):
        return g * np.where(value(a) > 0, 1, slope).astype(value(g).dtype, copy=False), None


@described
class Softplus(Op):
    name = "softplus"
    reads = ((0,),)
    description = Description(
        call=lambda a: softplus(a), numpy=lambda a: np.log1p(np.exp(a)), torch=lambda t, a: t.nn.functional.softplus(a)
    )

    @staticmethod
    def forward(ctx, a):
        # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|
        return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))

    @staticmethod
    def backward(ctx, g, a):
        return g * sigmoid(a)


# The hidden layers' activations, bound once (a classmethod binds on every read: 450 instructions),
# as tinygraph.ops.methods binds the operators' ops.
_sigmoid, _tanh, _relu = Sigmoid.apply, Tanh.apply, Relu.apply


def sigmoid(x: Any) -> Any:
    """1 / (1 + e^-x), finite and exact for any x."""
    return _sigmoid(to_tensor(x, "sigmoid"))


def tanh(x: Any) -> Any:
    """Hyperbolic tangent."""
    return _tanh(to_tensor(x, "tanh"))


def relu(x: Any) -> Any:
    """max(x, 0); the gradient at 0 is 0."""
    return _relu(to_tensor(x, "relu"))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x where x > 0, else negative_slope * x."""
    return LeakyRelu.apply(to_tensor(x, "leaky_relu"), float(negative_slope))


def softplus(x: Any) -> Any:
    """log(1 + e^x), finite for any x; its derivative is sigmoid(x)."""
    return Softplus.apply(to_tensor(x, "softplus"))
