"""What every op module shares: the `Op` base, operands with numpy's dtype rules, typed constants, axes."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph import mode
from tinygraph.dtypes import check_array, get_default_dtype, to_array
from tinygraph.function import Function
from tinygraph.tensor import Tensor, holds_tensor


class Op(Function):
    """Base of the built-in ops: written on values (``arrays = True``; see `Function`).

    ``forward(ctx, *values)`` gets ndarrays; ``backward(ctx, grad, *values)`` gets ndarrays,
    or Tensors when a graph of the gradient is recorded, and is written in operators and
    tinygraph functions that accept both.
    """

    arrays = True


class _Constant(dict):
    """One number as a read-only 0-d array per dtype (``ONE[x.dtype] - x``).

    numpy works out a Python number's dtype on every call (about 2,700 CPU instructions, more than
    a small array op itself); a 0-d array of the operand's own dtype gives the same result without
    that work. Used where a vjp or forward runs for every op.
    """

    def __init__(self, value: int) -> None:
        super().__init__()
        self.value = value

    def __missing__(self, dtype: np.dtype) -> np.ndarray:
        c = np.array(self.value, dtype=dtype)
        c.flags.writeable = False
        self[dtype] = c
        return c


ZERO, ONE = _Constant(0), _Constant(1)
_ARRAYS = (np.ndarray, np.generic)


def value(x: Any) -> Any:
    """The ndarray of a Tensor, or `x` itself: for masks and other constants a vjp computes from its inputs."""
    return x._data if isinstance(x, Tensor) else x


def kept(x: Any, *inputs: Any) -> Any:
    """A non-differentiable array argument that an op's gradient reads later (an index, a mask, a bound, q),
    as an array of its own when a graph is recorded over `inputs`: a write to the caller's array (or to a
    Tensor's data) between the forward and the backward then changes no gradient."""
    if isinstance(x, Tensor):
        x = x._data
    if isinstance(x, np.ndarray) and mode.is_grad_enabled() and any(getattr(t, "requires_grad", False) for t in inputs):
        return x.copy()
    return x


def operand(x: Any, where: str = "op", like: Any = None) -> Any:
    """`x` as an op's input: a Tensor or an ndarray as it is, a list holding Tensors stacked, other data an array.

    Arrays are never copied: no op writes to its inputs. A Python number takes `like`'s float
    dtype, as numpy would give. `where` names the op in errors; it comes second so that the
    ops' wrappers can pass it positionally (CPython 3.11 does not specialise keyword calls).
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return check_array(x, where)
    if type(x) in (bool, int, float):  # (numpy scalars, np.float64 too, keep their dtype, as numpy 2 does)
        if like is None:
            dtype = get_default_dtype()
        else:
            dt = value(like).dtype
            dtype = dt if dt.kind == "f" else np.result_type(dt, x)
        return np.array(x, dtype=dtype)
    if isinstance(x, np.generic):
        return check_array(np.asarray(x), where)
    if holds_tensor(x):
        from tinygraph.ops.shape import stack

        return stack(x)
    return to_array(x, where=where)


def to_tensor(x: Any, where: str = "op", like: Any = None) -> Any:
    """`operand` as a Tensor, except that an ndarray stays one (`tg.exp(2.0)` is a Tensor, `tg.exp(array)` an array)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (np.ndarray, np.generic)):
        return operand(x, where)
    return _wrap(operand(x, where, like))


def as_tensor(x: Any, where: str = "op", like: Any = None) -> Tensor:
    """`operand` as a Tensor in every case (an ndarray is wrapped, not copied): for layers and losses."""
    return _wrap(operand(x, where, like))


def _wrap(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._make(x)


def pair(a: Any, b: Any, where: str) -> tuple:
    """The two operands of a binary op, both Tensors if either is (constants then show in the graph).

    Python numbers take the other operand's dtype; two ndarrays stay ndarrays.
    """
    if type(a) is Tensor and type(b) is Tensor:
        return a, b
    if isinstance(a, Tensor):
        return a, _wrap(operand(b, where, a))
    if isinstance(b, Tensor):
        return _wrap(operand(a, where, b)), b
    if isinstance(a, _ARRAYS):
        return operand(a, where), operand(b, where, a)
    if isinstance(b, _ARRAYS):
        return operand(a, where, b), operand(b, where)
    a = to_tensor(a, where)
    return a, _wrap(operand(b, where, a))


def norm_axis(axis: Any, ndim: int, op: str, shape: tuple) -> tuple[int, ...] | None:
    """`axis` (None, int or tuple) as a sorted tuple of non-negative axes; None means all."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of shape {shape}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))
