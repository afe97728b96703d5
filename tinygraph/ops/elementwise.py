"""Elementwise arithmetic: forward in numpy, gradient in tinygraph ops, side by side.

Binary ops broadcast as numpy does; `sum_to` folds each gradient back to its
input's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.function import Function
from tinygraph.ops._common import pair, to_tensor
from tinygraph.ops.shape import np_sum_to, sum_to
from tinygraph.tensor import Tensor


def _const(arr: Any) -> Tensor:
    return Tensor._make(np.asarray(arr))


class Add(Function):
    name = "add"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        return a._data + b._data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (sum_to(g, a.shape) if na else None, sum_to(g, b.shape) if nb else None)

    @staticmethod
    def numpy_backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (np_sum_to(g, a._data.shape) if na else None, np_sum_to(g, b._data.shape) if nb else None)


class Sub(Function):
    name = "sub"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        return a._data - b._data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (sum_to(g, a.shape) if na else None, sum_to(neg(g), b.shape) if nb else None)

    @staticmethod
    def numpy_backward(ctx, g):
        a, b = ctx.inputs
        na, nb = ctx.needs_input_grad
        return (np_sum_to(g, a._data.shape) if na else None, np_sum_to(-g, b._data.shape) if nb else None)


class Mul(Function):
    name = "mul"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        na, nb = ctx.needs_input_grad or (False, False)
        # each gradient needs only the other operand
        ctx.save_for_backward(b if na else None, a if nb else None)
        return a._data * b._data

    @staticmethod
    def backward(ctx, g):
        b, a = ctx.saved_tensors
        x, y = ctx.inputs
        return (sum_to(g * b, x.shape) if b is not None else None, sum_to(g * a, y.shape) if a is not None else None)

    @staticmethod
    def numpy_backward(ctx, g):
        b, a = ctx._saved
        x, y = ctx.inputs
        return (
            np_sum_to(g * b._data, x._data.shape) if b is not None else None,
            np_sum_to(g * a._data, y._data.shape) if a is not None else None,
        )


class Div(Function):
    name = "div"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a._data / b._data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (
            sum_to(g / b, a.shape) if na else None,
            sum_to(neg(g * a) / (b * b), b.shape) if nb else None,
        )

    @staticmethod
    def numpy_backward(ctx, g):
        a, b = ctx._saved
        na, nb = ctx.needs_input_grad
        x, y = a._data, b._data
        return (np_sum_to(g / y, x.shape) if na else None, np_sum_to(-g * x / (y * y), y.shape) if nb else None)


class Neg(Function):
    name = "neg"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a):
        return -a._data

    @staticmethod
    def backward(ctx, g):
        return neg(g)

    @staticmethod
    def numpy_backward(ctx, g):
        return -g


class Pow(Function):
    name = "pow"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a._data**b._data

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = sum_to(g * b * a ** (b - 1), a.shape)
        if nb:
            # d(a**b)/db = a**b * log(a); taken as 0 where a <= 0 (where it is 0 or undefined)
            positive = a._data > 0
            safe_a = where(positive, a, 1)
            gb = sum_to(where(positive, g * ctx.output * log(safe_a), 0), b.shape)
        return ga, gb

    @staticmethod
    def numpy_backward(ctx, g):
        a, b = ctx._saved
        na, nb = ctx.needs_input_grad
        x, y = a._data, b._data
        ga = np_sum_to(g * y * x ** (y - 1), x.shape) if na else None
        gb = None
        if nb:
            positive = x > 0
            gb = np_sum_to(np.where(positive, g * ctx.output._data * np.log(np.where(positive, x, 1)), 0), y.shape)
        return ga, gb


class Exp(Function):
    name = "exp"
    _numpy_forward = True
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        return np.exp(a._data)

    @staticmethod
    def backward(ctx, g):
        return g * ctx.output

    @staticmethod
    def numpy_backward(ctx, g):
        return g * ctx.output._data


class Log(Function):
    name = "log"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.log(a._data)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g / a

    @staticmethod
    def numpy_backward(ctx, g):
        return g / ctx._saved[0]._data


class Sqrt(Function):
    name = "sqrt"
    _numpy_forward = True
    saves_output = True

    @staticmethod
    def forward(ctx, a):
        return np.sqrt(a._data)

    @staticmethod
    def backward(ctx, g):
        return g / (ctx.output * 2)

    @staticmethod
    def numpy_backward(ctx, g):
        return g / (ctx.output._data * 2)


class Abs(Function):
    name = "abs"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.abs(a._data)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _const(np.sign(a._data))

    @staticmethod
    def numpy_backward(ctx, g):
        return g * np.sign(ctx._saved[0]._data)


class Maximum(Function):
    """Elementwise max; at ties each operand gets half the gradient."""

    name = "maximum"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        if ctx.needs_input_grad:
            ctx.save_for_backward((x > y) + 0.5 * (x == y))  # each operand's share of the gradient
        return np.maximum(x, y)

    @staticmethod
    def backward(ctx, g):
        return _split_by_weight(ctx, g)

    @staticmethod
    def numpy_backward(ctx, g):
        return _np_split_by_weight(ctx, g)


class Minimum(Function):
    """Elementwise min; at ties each operand gets half the gradient."""

    name = "minimum"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, b):
        x, y = a._data, b._data
        if ctx.needs_input_grad:
            ctx.save_for_backward((x < y) + 0.5 * (x == y))  # each operand's share of the gradient
        return np.minimum(x, y)

    @staticmethod
    def backward(ctx, g):
        return _split_by_weight(ctx, g)

    @staticmethod
    def numpy_backward(ctx, g):
        return _np_split_by_weight(ctx, g)


def _np_split_by_weight(ctx, g: np.ndarray) -> tuple:
    a, b = ctx.inputs
    na, nb = ctx.needs_input_grad
    w = ctx.saved_tensors[0].astype(g.dtype, copy=False)
    return (np_sum_to(g * w, a._data.shape) if na else None, np_sum_to(g * (1 - w), b._data.shape) if nb else None)


def _split_by_weight(ctx, g: Tensor) -> tuple:
    a, b = ctx.inputs
    na, nb = ctx.needs_input_grad
    w = ctx.saved_tensors[0].astype(g.dtype, copy=False)
    return (
        sum_to(g * _const(w), a.shape) if na else None,
        sum_to(g * _const(1 - w), b.shape) if nb else None,
    )


class Clip(Function):
    """Clip to [a_min, a_max]; the gradient passes where the input is inside (bounds included)."""

    name = "clip"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, a_min, a_max):
        x = a._data
        if ctx.needs_input_grad:
            inside = np.ones(x.shape, dtype=bool)
            if a_min is not None:
                inside &= x >= a_min
            if a_max is not None:
                inside &= x <= a_max
            ctx.save_for_backward(inside)
        return np.clip(x, a_min, a_max)

    @staticmethod
    def backward(ctx, g):
        return g * _const(ctx.saved_tensors[0]), None, None

    @staticmethod
    def numpy_backward(ctx, g):
        return g * ctx._saved[0], None, None


class Where(Function):
    name = "where"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, cond, a, b):
        return np.where(cond, a._data, b._data)

    @staticmethod
    def backward(ctx, g):
        cond, a, b = ctx.inputs
        na, nb = ctx.needs_input_grad[1:]
        zero = _const(np.zeros((), dtype=g.dtype))
        return (
            None,
            sum_to(where(cond, g, zero), a.shape) if na else None,
            sum_to(where(cond, zero, g), b.shape) if nb else None,
        )

    @staticmethod
    def numpy_backward(ctx, g):
        cond, a, b = ctx.inputs
        na, nb = ctx.needs_input_grad[1:]
        return (
            None,
            np_sum_to(np.where(cond, g, 0), a._data.shape) if na else None,
            np_sum_to(np.where(cond, 0, g), b._data.shape) if nb else None,
        )


class AsType(Function):
    name = "astype"
    _numpy_forward = True

    @staticmethod
    def forward(ctx, a, dtype):
        return a._data.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        (a, _) = ctx.inputs
        return astype(g, a.dtype), None

    @staticmethod
    def numpy_backward(ctx, g):
        return g.astype(ctx.inputs[0]._data.dtype), None


# ----- public functions --------------------------------------------------------------------


def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcasting as numpy does."""
    return Add.apply(*pair(a, b, "add"))


def subtract(a: Any, b: Any) -> Tensor:
    """a - b, broadcasting as numpy does."""
    return Sub.apply(*pair(a, b, "sub"))


def multiply(a: Any, b: Any) -> Tensor:
    """a * b, broadcasting as numpy does."""
    return Mul.apply(*pair(a, b, "mul"))


def divide(a: Any, b: Any) -> Tensor:
    """a / b, broadcasting as numpy does."""
    return Div.apply(*pair(a, b, "div"))


def power(a: Any, b: Any) -> Tensor:
    """a ** b; differentiable in both (in b where a > 0)."""
    return Pow.apply(*pair(a, b, "pow"))


def negative(a: Any) -> Tensor:
    """-a."""
    return Neg.apply(to_tensor(a, "neg"))


sub, mul, div, neg = subtract, multiply, divide, negative


def exp(a: Any) -> Tensor:
    """e ** a."""
    return Exp.apply(to_tensor(a, "exp"))


def log(a: Any) -> Tensor:
    """Natural logarithm."""
    return Log.apply(to_tensor(a, "log"))


def sqrt(a: Any) -> Tensor:
    """Square root."""
    return Sqrt.apply(to_tensor(a, "sqrt"))


def abs(a: Any) -> Tensor:  # noqa: A001 - numpy's name
    """|a|; its gradient at 0 is 0."""
    return Abs.apply(to_tensor(a, "abs"))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum of a and b (ties split the gradient evenly)."""
    return Maximum.apply(*pair(a, b, "maximum"))


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum of a and b (ties split the gradient evenly)."""
    return Minimum.apply(*pair(a, b, "minimum"))


def clip(a: Any, a_min: Any = None, a_max: Any = None) -> Tensor:
    """Limit a to [a_min, a_max] (either may be None), as ``np.clip``."""
    if a_min is None and a_max is None:
        raise ValueError("clip: give a_min, a_max or both")
    if a_min is not None and a_max is not None and np.any(np.asarray(a_min) > np.asarray(a_max)):
        raise ValueError(f"clip: a_min {a_min} is greater than a_max {a_max}")
    return Clip.apply(to_tensor(a, "clip"), a_min, a_max)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elements of a where cond is true, else of b (``np.where``); cond gets no gradient."""
    cond = np.asarray(cond._data if isinstance(cond, Tensor) else cond)
    if cond.dtype != bool:
        cond = cond.astype(bool)
    a, b = pair(a, b, "where")
    try:
        np.broadcast_shapes(cond.shape, a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"where: condition {cond.shape}, x {a.shape} and y {b.shape} do not broadcast together"
        ) from None
    return Where.apply(cond, a, b)


def astype(a: Any, dtype: Any) -> Tensor:
    """Cast to `dtype`; the gradient is cast back to the input's dtype."""
    a = to_tensor(a, "astype")
    dtype = np.dtype(dtype)
    if a.requires_grad and dtype.kind != "f":
        raise TypeError(
            f"astype: casting a tensor that requires grad to {dtype} would cut the graph; use detach() first"
        )
    return AsType.apply(a, dtype)
