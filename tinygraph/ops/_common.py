"""Turning operands into tensors with numpy's dtype rules."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.tensor import Tensor, _check_array, _to_array, get_default_dtype


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


def to_tensor(x: Any, where: str = "op", like: Tensor | None = None) -> Tensor:
    """`x` as a Tensor outside the graph; a Python number takes `like`'s dtype where numpy would.

    `where` names the op in errors. It comes second so that the ops' wrappers can pass it
    positionally: CPython 3.11 does not specialise a call with keywords, which costs every op.
    """
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        if like is None:
            dtype = get_default_dtype()
        elif like._data.dtype.kind == "f":
            dtype = like._data.dtype  # what numpy's result_type gives for a Python number, without its cost
        else:
            dtype = np.result_type(like._data.dtype, x)
        return Tensor._make(np.array(x, dtype=dtype))
    if isinstance(x, np.ndarray):
        # never written to by any op, so no copy is needed
        return Tensor._make(_check_array(x, where))
    if isinstance(x, np.generic):
        return Tensor._make(_check_array(np.asarray(x), where))
    return Tensor._make(_to_array(x, where=where))


def pair(a: Any, b: Any, where: str) -> tuple[Tensor, Tensor]:
    if type(a) is Tensor and type(b) is Tensor:
        return a, b
    if isinstance(a, Tensor):
        return a, to_tensor(b, where, a)
    if isinstance(b, Tensor):
        return to_tensor(a, where, b), b
    return to_tensor(a, where), to_tensor(b, where)


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
