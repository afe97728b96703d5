"""The `Tensor`: an ndarray plus the record of the op that made it.

Operators and methods on `Tensor` delegate to the ops in `tinygraph.ops`; the
forward and gradient of every op live there, one class per op.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

_default_dtype: np.dtype = np.dtype(np.float64)


def set_default_dtype(dtype: Any) -> None:
    """Set the float dtype that Python numbers and lists become (float64 at start).

    >>> import tinygraph as tg, numpy as np
    >>> tg.set_default_dtype(np.float32); tg.tensor([1.0]).dtype
    dtype('float32')
    >>> tg.set_default_dtype(np.float64)
    """
    global _default_dtype
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating-point dtype, got {dt}")
    _default_dtype = dt


def get_default_dtype() -> np.dtype:
    """The float dtype that Python numbers and lists become."""
    return _default_dtype


def _check_array(arr: np.ndarray, where: str) -> np.ndarray:
    kind = arr.dtype.kind
    if kind in "fiub":
        return arr
    if kind == "c":
        raise TypeError(f"{where}: complex data is not supported (dtype {arr.dtype}, shape {arr.shape})")
    raise TypeError(
        f"{where}: data must be numeric, got dtype {arr.dtype} (shape {arr.shape}); "
        "object, string and structured arrays are not supported"
    )


def _to_array(data: Any, dtype: Any = None, where: str = "Tensor") -> np.ndarray:
    """Convert user data to a fresh ndarray (the caller's array is never shared)."""
    if isinstance(data, Tensor):
        data = data._data
    try:
        if isinstance(data, (np.ndarray, np.generic)):
            arr = np.array(data, dtype=dtype, copy=True)
        else:
            arr = np.array(data, dtype=_default_dtype if dtype is None else dtype)
    except (TypeError, ValueError) as e:
        target = np.dtype(dtype) if dtype is not None else "a numeric array"
        raise TypeError(f"{where}: cannot convert {type(data).__name__} to {target}: {e}") from None
    return _check_array(arr, where)


_new = object.__new__


class _WriteClock:
    """Counts, process-wide, every write to a tensor's data and every hand-out of a watched array.

    A graph node notes the count when it saves tensors; if the count has not moved by the time
    backward reaches the node, nothing it saved can have changed, and the per-tensor check is skipped.
    """

    __slots__ = ("writes", "_lock")

    def __init__(self) -> None:
        self.writes = 0
        self._lock = threading.Lock()

    def tick(self) -> None:
        # locked: an increment lost between threads could bring the count back to a node's stamp
        with self._lock:
            self.writes += 1


_clock = _WriteClock()


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``Tensor(data, requires_grad=False, dtype=None, name=None)`` copies ``data``
    (an ndarray keeps its dtype; Python numbers and lists become the default
    float dtype). Ops on tensors that require grad build a graph that
    ``backward()`` walks in reverse.

    >>> import tinygraph as tg
    >>> a, b, c = (tg.tensor(v, requires_grad=True) for v in (5.0, 3.0, 2.0))
    >>> J = 3 * (a + b * c)
    >>> J.backward()
    >>> J.item(), a.grad.item(), b.grad.item(), c.grad.item()
    (33.0, 3.0, 6.0, 9.0)
    """

    # _version counts writes through `.data`; _watch counts pending graph nodes
    # that saved this tensor; _snap is a copy taken when `.data` was handed out
    # while watched, so a write through it is caught before backward uses it. _last_write
    # (set only on a write, so unset on most tensors) says how the data was last changed.
    __slots__ = (
        "_data",
        "requires_grad",
        "grad",
        "_node",
        "name",
        "_version",
        "_watch",
        "_snap",
        "_retain",
        "_last_write",
        "__weakref__",
    )

    # numpy defers to our reflected operators (ndarray + Tensor -> Tensor.__radd__).
    __array_ufunc__ = None

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self._data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._node = None
        self.name = name
        self._version = 0
        self._watch = 0
        self._snap = None
        self._retain = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: np.ndarray, node: Any = None) -> Tensor:
        """Wrap an ndarray the engine owns, without copying or checks."""
        t = _new(Tensor)
        t._data = data
        t.grad = None
        t._node = node
        t.requires_grad = node is not None
        t.name = None
        t._version = 0
        t._watch = 0
        t._snap = None
        t._retain = False
        return t

    # ----- data access and the in-place guard -------------------------------------------
    @property
    def data(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied).

        Writing into it while a pending backward needs this tensor makes that
        backward raise, rather than return a silently wrong gradient.
        """
        if self._watch:
            snap = self._snap
            if snap is None or snap[0] != self._version:
                # under detect_anomaly, remember where the array was handed out, for the error
                site = _function._user_frame() if _function._mode.anomaly else None
                self._snap = (self._version, self._data.copy(), site)
                _clock.tick()
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else value
        if not isinstance(arr, np.ndarray):
            arr = _to_array(arr, self._data.dtype, where="Tensor.data")
        _check_array(arr, "Tensor.data")
        if self.requires_grad and arr.dtype.kind != "f":
            raise TypeError(f"Tensor.data: a tensor that requires grad needs float data, got {arr.dtype}")
        self._data = arr
        self._bump_version()
        self._snap = None
        if self._watch:
            site = _function._user_frame() if _function._mode.anomaly else None
            self._last_write = ("an assignment to .data", site)

    def _bump_version(self) -> None:
        """Record a write to the data (made by the engine, an optimizer or an assignment to `.data`)."""
        self._version += 1
        _clock.tick()

    def _current_version(self) -> int:
        """The write count, first noticing writes made through a handed-out `.data`."""
        snap = self._snap
        if snap is not None and snap[0] == self._version:
            if not np.array_equal(snap[1], self._data, equal_nan=self._data.dtype.kind == "f"):
                self._bump_version()
                self._snap = None
                self._last_write = ("a write into the array handed out by .data (or np.asarray/.numpy())", snap[2])
        return self._version

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
        if self._data.size != 1:
            raise ValueError(f"item: only a one-element tensor converts to a Python number, got shape {self.shape}")
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    # ----- metadata ---------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self._data.shape

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def size(self) -> int:
        return self._data.size

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user rather than by an op."""
        return self._node is None

    @property
    def grad_fn(self) -> Any:
        """The graph node (a `Context`) of the op that made this tensor, or None for a leaf."""
        return self._node

    @property
    def op(self) -> str | None:
        """Name of the op that made this tensor, or None for a leaf."""
        return None if self._node is None else self._node.name

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
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iu":
            raise TypeError(f"only integer tensors can be used as an index, got {self._data.dtype}")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", prefix="Tensor(", threshold=50)
        extras = []
        if self._data.dtype != _default_dtype:
            extras.append(f"dtype={self._data.dtype}")
        if self._node is not None:
            extras.append(f"op={self._node.name!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "Tensor(" + ", ".join([body, *extras]) + ")"

    # ----- autograd ---------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as needing gradients (in place); returns self."""
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                f"requires_grad_: cannot turn off gradients of a non-leaf tensor made by op {self.op!r}; use detach()"
            )
        if requires_grad and self._data.dtype.kind != "f":
            raise TypeError(
                f"requires_grad: only floating-point tensors can require gradients, got dtype {self._data.dtype} "
                f"(shape {self.shape}); convert with .astype(float) first"
            )
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, outside any graph."""
        t = Tensor._make(self._data)
        t.name = self.name
        return t

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retain = True

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad.

        A scalar needs no ``gradient``; otherwise pass one of this tensor's shape.
        ``retain_graph=True`` keeps the graph for another backward;
        ``create_graph=True`` records the gradient computation so it can itself be
        differentiated.
        """
        _function.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    # ----- operators (forward and gradient live in tinygraph.ops) ---------------------------
    # With two Tensors the binary operators go straight to the op class (the checks in the
    # public functions only convert non-Tensor operands); these run for every op of a model.
    def __add__(self, other):
        if type(other) is Tensor:
            return _add_apply(self, other)
        return _ew.add(self, other)

    def __radd__(self, other):
        return _ew.add(other, self)

    def __sub__(self, other):
        if type(other) is Tensor:
            return _sub_apply(self, other)
        return _ew.sub(self, other)

    def __rsub__(self, other):
        return _ew.sub(other, self)

    def __mul__(self, other):
        if type(other) is Tensor:
            return _mul_apply(self, other)
        return _ew.mul(self, other)

    def __rmul__(self, other):
        return _ew.mul(other, self)

    def __truediv__(self, other):
        if type(other) is Tensor:
            return _div_apply(self, other)
        return _ew.div(self, other)

    def __rtruediv__(self, other):
        return _ew.div(other, self)

    def __pow__(self, other):
        return _ew.power(self, other)

    def __rpow__(self, other):
        return _ew.power(other, self)

    def __matmul__(self, other):
        return _la.matmul(self, other)

    def __rmatmul__(self, other):
        return _la.matmul(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ew.abs(self)

    def __getitem__(self, index):
        return _sh.getitem(self, index)

    def __setitem__(self, index, value):
        raise TypeError(
            "Tensor does not support item assignment (it would rewrite history the graph depends on); "
            "build a new tensor with tinygraph.where, or write to .data outside of any graph"
        )

    # Comparisons give bool tensors outside the graph, as numpy and PyTorch do.
    def __eq__(self, other):  # type: ignore[override]
        return Tensor._make(self._data == _raw(other))

    def __ne__(self, other):  # type: ignore[override]
        return Tensor._make(self._data != _raw(other))

    def __lt__(self, other):
        return Tensor._make(self._data < _raw(other))

    def __le__(self, other):
        return Tensor._make(self._data <= _raw(other))

    def __gt__(self, other):
        return Tensor._make(self._data > _raw(other))

    def __ge__(self, other):
        return Tensor._make(self._data >= _raw(other))

    # ----- methods mirroring numpy ------------------------------------------------------------
    @property
    def T(self) -> Tensor:
        return _sh.transpose(self)

    def transpose(self, *axes) -> Tensor:
        return _sh.transpose(self, _shape_args(axes))

    def reshape(self, *shape) -> Tensor:
        return _sh.reshape(self, _shape_args(shape))

    def flatten(self) -> Tensor:
        return _sh.flatten(self)

    def squeeze(self, axis=None) -> Tensor:
        return _sh.squeeze(self, axis)

    def expand_dims(self, axis) -> Tensor:
        return _sh.expand_dims(self, axis)

    def broadcast_to(self, shape) -> Tensor:
        return _sh.broadcast_to(self, shape)

    def astype(self, dtype) -> Tensor:
        return _ew.astype(self, dtype)

    def sum(self, axis=None, keepdims=False) -> Tensor:
        return _rd.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False) -> Tensor:
        return _rd.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False) -> Tensor:
        return _rd.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False) -> Tensor:
        return _rd.min(self, axis, keepdims)

    def var(self, axis=None, keepdims=False, ddof=0) -> Tensor:
        return _rd.var(self, axis, keepdims, ddof)

    def clip(self, a_min=None, a_max=None) -> Tensor:
        return _ew.clip(self, a_min, a_max)

    def exp(self) -> Tensor:
        return _ew.exp(self)

    def log(self) -> Tensor:
        return _ew.log(self)

    def sqrt(self) -> Tensor:
        return _ew.sqrt(self)

    def tanh(self) -> Tensor:
        return _act.tanh(self)

    def sigmoid(self) -> Tensor:
        return _act.sigmoid(self)

    def relu(self) -> Tensor:
        return _act.relu(self)


def _raw(x: Any) -> Any:
    return x._data if isinstance(x, Tensor) else x


def _shape_args(args: tuple) -> Any:
    """Accept both t.reshape(2, 3) and t.reshape((2, 3)), as numpy does."""
    if len(args) == 1 and (args[0] is None or isinstance(args[0], (tuple, list))):
        return args[0]
    return args if args else None


# Imported last: these modules need `Tensor` defined, and Tensor's operators need them.
from tinygraph import function as _function  # noqa: E402
from tinygraph.ops import activation as _act  # noqa: E402
from tinygraph.ops import elementwise as _ew  # noqa: E402
from tinygraph.ops import linalg as _la  # noqa: E402
from tinygraph.ops import reduce as _rd  # noqa: E402
from tinygraph.ops import shape as _sh  # noqa: E402

# the op classes' apply, bound once: the operators above call them for every op of a model
_add_apply, _sub_apply, _mul_apply, _div_apply = (c.apply for c in (_ew.Add, _ew.Sub, _ew.Mul, _ew.Div))
