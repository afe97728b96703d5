"""Activation functions: forward in numpy (numerically stable), gradient in tinygraph ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.function import Function
from tinygraph.ops._common import ONE, ZERO, to_tensor
from tinygraph.ops.elementwise import _const
from tinygraph.tensor import Tensor


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    # exp of -|x| never overflows; both branches are exact to float precision:
    # 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0 (constants in x's dtype)
    e = np.exp(-np.abs(x))
    one = ONE[e.dtype]
    r = one / (one + e)
    return np.where(x >= ZERO[x.dtype], r, e * r)


def _sigmoid_vjp(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g * y * (1 - y): sigmoid's vjp from its output y (the constant in y's dtype)."""
    return g * (y * (ONE[y.dtype] - y))


def _tanh_vjp(y: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g * (1 - y^2): tanh's vjp from its output y (the constant in y's dtype)."""
    return g * (ONE[y.dtype] - y * y)


class Sigmoid(Function):
    name = "sigmoid"
    _numpy_forward = True
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        return _stable_sigmoid(a._data)

    @staticmethod
    def backward(ctx, g):
        return SigmoidGrad.apply(ctx.output, g)

    @staticmethod
    def numpy_backward(ctx, g):
        return _sigmoid_vjp(ctx.output._data, g)


class SigmoidGrad(Function):
    """sigmoid's vjp g * y * (1 - y) from its output y, as one op (one node, not three, in a backward).

    Differentiable in both y and g, so second derivatives through sigmoid work.
    """

    name = "sigmoid_grad"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, y, g):
        ctx.save_for_backward(y, g)
        return _sigmoid_vjp(y._data, g._data)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        ny, ng = ctx.needs_input_grad
        return (gg * g * (1 - 2 * y) if ny else None, SigmoidGrad.apply(y, gg) if ng else None)

    @staticmethod
    def numpy_backward(ctx, gg):
        y, g = (t._data for t in ctx._saved)
        ny, ng = ctx.needs_input_grad
        return (gg * g * (1 - 2 * y) if ny else None, _sigmoid_vjp(y, gg) if ng else None)


class Tanh(Function):
    name = "tanh"
    _numpy_forward = True
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        return np.tanh(a._data)

    @staticmethod
    def backward(ctx, g):
        return TanhGrad.apply(ctx.output, g)

    @staticmethod
    def numpy_backward(ctx, g):
        return _tanh_vjp(ctx.output._data, g)


class TanhGrad(Function):
    """tanh's vjp g * (1 - y^2) from its output y, as one op (one node, not three, in a backward).

    Differentiable in both y and g, so second derivatives through tanh work.
    """

    name = "tanh_grad"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, y, g):
        ctx.save_for_backward(y, g)
        return _tanh_vjp(y._data, g._data)

    @staticmethod
    def backward(ctx, gg):
        y, g = ctx.saved_tensors
        ny, ng = ctx.needs_input_grad
        return (gg * g * y * -2 if ny else None, TanhGrad.apply(y, gg) if ng else None)

    @staticmethod
    def numpy_backward(ctx, gg):
        y, g = (t._data for t in ctx._saved)
        ny, ng = ctx.needs_input_grad
        return (gg * g * y * -2 if ny else None, _tanh_vjp(y, gg) if ng else None)


class Relu(Function):
    name = "relu"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        x = a._data
        return np.maximum(x, ZERO[x.dtype])

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _const(a._data > 0)

    @staticmethod
    def numpy_backward(ctx, g):
        x = ctx._saved[0]._data
        return g * (x > ZERO[x.dtype])


class LeakyRelu(Function):
    name = "leaky_relu"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, slope):
        ctx.save_for_backward(a)
        x = a._data
        return np.where(x > 0, x, x * slope).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        slope = ctx.inputs[1]
        return g * _const(np.where(a._data > 0, 1, slope).astype(g.dtype)), None

    @staticmethod
    def numpy_backward(ctx, g):
        x = ctx._saved[0]._data
        return g * np.where(x > 0, 1, ctx.inputs[1]).astype(g.dtype, copy=False), None


class Softplus(Function):
    name = "softplus"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        x = a._data
        # log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large |x|
        return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * sigmoid(a)

    @staticmethod
    def numpy_backward(ctx, g):
        return g * _stable_sigmoid(ctx._saved[0]._data)


def sigmoid(x: Any) -> Tensor:
    """1 / (1 + e^-x), finite and exact for any x."""
    return Sigmoid.apply(to_tensor(x, "sigmoid"))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent."""
    return Tanh.apply(to_tensor(x, "tanh"))


def relu(x: Any) -> Tensor:
    """max(x, 0); the gradient at 0 is 0."""
    return Relu.apply(to_tensor(x, "relu"))


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    return LeakyRelu.apply(to_tensor(x, "leaky_relu"), float(negative_slope))


def softplus(x: Any) -> Tensor:
    """log(1 + e^x), finite for any x; its derivative is sigmoid(x)."""
    return Softplus.apply(to_tensor(x, "softplus"))
