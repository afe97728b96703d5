"""Tensor's operators, numpy-style methods and Python protocols, attached to the class: each calls one op.

With two Tensors the binary operators go straight to the op class (the checks in the public
functions only convert non-Tensor operands); these run for every op of a model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.dtypes import get_default_dtype
from tinygraph.ops import activation as act
from tinygraph.ops import elementwise as ew
from tinygraph.ops import linalg as la
from tinygraph.ops import order, rounding, scan, stats  # the numpy vocabulary (issue 20)
from tinygraph.ops import reduce as rd
from tinygraph.ops import shape as sh
from tinygraph.ops._common import value
from tinygraph.tensor import Tensor

_add, _sub, _mul, _div = ew.Add.apply, ew.Sub.apply, ew.Mul.apply, ew.Div.apply


def _shape_args(args: tuple) -> Any:
    """Accept both t.reshape(2, 3) and t.reshape((2, 3)), as numpy does."""
    if len(args) == 1 and (args[0] is None or isinstance(args[0], (tuple, list))):
        return args[0]
    return args if args else None


def _one_value(t: Tensor, where: str) -> np.ndarray:
    """The one element of `t` as a 0-d array, for ``item()``, ``float()``, ``int()`` and an index (each names
    itself when `tg.compile` refuses the read); an error naming `where` for any other size."""
    if t._data.size != 1:
        raise ValueError(f"{where}: only a one-element tensor converts to a Python number, got shape {t.shape}")
    return t._data.reshape(())


class _Methods:
    """The methods copied onto `Tensor` (a class only to write them with ``self``)."""

    # ----- Python's protocols and numpy's conversions -------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as an ndarray (shared, like `.data`)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        arr = self.data
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        return arr.copy() if copy else arr

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        return _one_value(self, "item").item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        for i in range(len(self._data)):
            yield self[i]

    def __bool__(self) -> bool:
        return bool(self._data)

    def __float__(self) -> float:
        return float(_one_value(self, "float"))

    def __int__(self) -> int:
        return int(_one_value(self, "int"))

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self._data.dtype}")
        return _one_value(self, "index").__index__()

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(", threshold=50)
        extras = []
        if self._data.dtype != get_default_dtype():
            extras.append(f"dtype={self._data.dtype}")
        if self._node is not None:
            extras.append(f"op={self._node.name!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "Tensor(" + ", ".join([body, *extras]) + ")"

    # ----- operators -------------------------------------------------------------------------
    def __add__(self, other):
        return _add(self, other) if type(other) is Tensor else ew.add(self, other)

    def __radd__(self, other):
        return ew.add(other, self)

    def __sub__(self, other):
        return _sub(self, other) if type(other) is Tensor else ew.sub(self, other)

    def __rsub__(self, other):
        return ew.sub(other, self)

    def __mul__(self, other):
        return _mul(self, other) if type(other) is Tensor else ew.mul(self, other)

    def __rmul__(self, other):
        return ew.mul(other, self)

    def __truediv__(self, other):
        return _div(self, other) if type(other) is Tensor else ew.div(self, other)

    def __rtruediv__(self, other):
        return ew.div(other, self)

    def __pow__(self, other):
        return ew.power(self, other)

    def __rpow__(self, other):
        return ew.power(other, self)

    def __matmul__(self, other):
        return la.matmul(self, other)

    def __rmatmul__(self, other):
        return la.matmul(other, self)

    def __neg__(self):
        return ew.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ew.abs(self)

    def __getitem__(self, index):
        return sh.getitem(self, index)

    def __setitem__(self, index, value):
        raise TypeError(
            "Tensor does not support item assignment (it would rewrite history the graph depends on); "
            "build a new tensor with tinygraph.where, or write to .data outside of any graph"
        )

    # Comparisons give bool tensors outside the graph, as numpy and PyTorch do.
    def __eq__(self, other):
        return Tensor._make(self._data == value(other))

    def __ne__(self, other):
        return Tensor._make(self._data != value(other))

    def __lt__(self, other):
        return Tensor._make(self._data < value(other))

    def __le__(self, other):
        return Tensor._make(self._data <= value(other))

    def __gt__(self, other):
        return Tensor._make(self._data > value(other))

    def __ge__(self, other):
        return Tensor._make(self._data >= value(other))

    @property
    def T(self) -> Tensor:
        return sh.transpose(self)

    def transpose(self, *axes) -> Tensor:
        return sh.transpose(self, _shape_args(axes))

    def reshape(self, *shape) -> Tensor:
        return sh.reshape(self, _shape_args(shape))

    def flatten(self) -> Tensor:
        return sh.flatten(self)

    def squeeze(self, axis=None) -> Tensor:
        return sh.squeeze(self, axis)

    def expand_dims(self, axis) -> Tensor:
        return sh.expand_dims(self, axis)

    def broadcast_to(self, shape) -> Tensor:
        return sh.broadcast_to(self, shape)

    def astype(self, dtype) -> Tensor:
        return ew.astype(self, dtype)

    def sum(self, axis=None, keepdims=False, **torch_style) -> Tensor:
        return rd.sum(self, axis, keepdims, **torch_style)

    def mean(self, axis=None, keepdims=False, **torch_style) -> Tensor:
        return rd.mean(self, axis, keepdims, **torch_style)

    def max(self, axis=None, keepdims=False, **torch_style) -> Tensor:
        return rd.max(self, axis, keepdims, **torch_style)

    def min(self, axis=None, keepdims=False, **torch_style) -> Tensor:
        return rd.min(self, axis, keepdims, **torch_style)

    def var(self, axis=None, keepdims=False, ddof=0, **torch_style) -> Tensor:
        return rd.var(self, axis, keepdims, ddof, **torch_style)

    def clip(self, a_min=None, a_max=None) -> Tensor:
        return ew.clip(self, a_min, a_max)

    def exp(self) -> Tensor:
        return ew.exp(self)

    def log(self) -> Tensor:
        return ew.log(self)

    def sqrt(self) -> Tensor:
        return ew.sqrt(self)

    def tanh(self) -> Tensor:
        return act.tanh(self)

    def sigmoid(self) -> Tensor:
        return act.sigmoid(self)

    def relu(self) -> Tensor:
        return act.relu(self)


_CLASS_MACHINERY = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__"}
for _name, _member in vars(_Methods).items():
    if _name not in _CLASS_MACHINERY:
        setattr(Tensor, _name, _member)


# ----- the numpy vocabulary (issue 20): ndarray's methods for the new ops, and % -----
# (no .sort: ndarray.sort sorts in place, and a Tensor's data is never rewritten; use tg.sort)


class _VocabularyMethods:
    def __mod__(self, other):
        return rounding.mod(self, other)

    def __rmod__(self, other):
        return rounding.mod(other, self)

    def __floordiv__(self, other):
        raise TypeError(
            "`//` and divmod() on a Tensor: tinygraph has no floor-division op; write tg.floor(a / b) "
            "(its gradient is 0, as floor's) and a % b for the remainder"
        )

    __rfloordiv__ = __divmod__ = __rdivmod__ = __floordiv__

    def prod(self, axis=None, keepdims=False) -> Tensor:
        return scan.prod(self, axis, keepdims)

    def std(self, axis=None, keepdims=False, ddof=0) -> Tensor:
        return stats.std(self, axis, keepdims, ddof)

    def cumsum(self, axis=None) -> Tensor:
        return scan.cumsum(self, axis)

    def cumprod(self, axis=None) -> Tensor:
        return scan.cumprod(self, axis)

    def trace(self, offset=0, axis1=0, axis2=1) -> Tensor:
        return scan.trace(self, offset, axis1, axis2)

    def round(self, decimals=0) -> Tensor:
        return rounding.round(self, decimals)

    def argmax(self, axis=None, keepdims=False) -> Tensor:
        return order.argmax(self, axis, keepdims)

    def argmin(self, axis=None, keepdims=False) -> Tensor:
        return order.argmin(self, axis, keepdims)

    def argsort(self, axis=-1, kind=None) -> Tensor:
        return order.argsort(self, axis, kind)

    def any(self, axis=None, keepdims=False) -> Tensor:
        return order.any(self, axis, keepdims)

    def all(self, axis=None, keepdims=False) -> Tensor:
        return order.all(self, axis, keepdims)


# ----- the numpy vocabulary (issue 20): the methods of contractions and array plumbing ------------------


from tinygraph.ops import contract as ct  # noqa: E402 - with its block
from tinygraph.ops import gather as ga  # noqa: E402
from tinygraph.ops import plumbing as pl  # noqa: E402


class _PlumbingMethods:
    """ndarray's methods of the contractions and the plumbing (`contract`, `plumbing`, `gather`), copied onto `Tensor`."""

    def ravel(self) -> Tensor:
        return pl.ravel(self)

    def repeat(self, repeats, axis=None) -> Tensor:
        return pl.repeat(self, repeats, axis)

    def swapaxes(self, axis1, axis2) -> Tensor:
        return pl.swapaxes(self, axis1, axis2)

    def diagonal(self, offset=0, axis1=0, axis2=1) -> Tensor:
        return pl.diagonal(self, offset, axis1, axis2)

    def take(self, indices, axis=None, mode="raise") -> Tensor:
        return ga.take(self, indices, axis, mode)

    def dot(self, b) -> Tensor:
        return ct.dot(self, b)


for _methods in (_VocabularyMethods, _PlumbingMethods):
    for _name, _member in vars(_methods).items():
        if _name not in _CLASS_MACHINERY:
            setattr(Tensor, _name, _member)
