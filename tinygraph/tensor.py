"""The `Tensor`: an ndarray plus the record of the op that made it.

Its operators, numpy-style methods and Python protocols are attached by `tinygraph.ops.methods`,
``backward()`` by `tinygraph.autograd`; the forward and gradient of every op live in `tinygraph.ops`.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from tinygraph import guard
from tinygraph.dtypes import check_array, to_array
from tinygraph.guard import Memory


def holds_tensor(data: Any) -> bool:
    """Whether a (nested) list or tuple holds a Tensor."""
    return isinstance(data, (list, tuple)) and any(isinstance(e, Tensor) or holds_tensor(e) for e in data)


def _to_array(data: Any, dtype: Any = None, where: str = "Tensor") -> np.ndarray:
    """User data as a fresh, checked ndarray (`dtypes.to_array`); a list holding Tensors is refused."""
    if isinstance(data, Tensor):
        data = data._data
    elif holds_tensor(data):
        raise TypeError(
            f"{where}: the list holds Tensors; a new tensor would be a constant cut off from their graph. "
            "Use tg.stack(...) to join tensors into one (it differentiates), or .detach() them first"
        )
    return to_array(data, dtype, where)


_new = object.__new__


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    ``Tensor(data, *, requires_grad=False, dtype=None, name=None)`` copies ``data`` (an ndarray
    keeps its dtype; Python numbers and lists become the default float dtype). Ops on tensors
    that require grad build a graph that ``backward()`` walks in reverse.

    >>> import tinygraph as tg
    >>> a, b, c = (tg.tensor(v, requires_grad=True) for v in (5.0, 3.0, 2.0))
    >>> J = 3 * (a + b * c)
    >>> J.backward()
    >>> J.item(), a.grad.item(), b.grad.item(), c.grad.item()
    (33.0, 3.0, 6.0, 9.0)
    """

    # _node: the `Context` of the op that made it; _mem: the version counter (`guard.Memory`) shared by
    # the tensors viewing its memory, made when needed; _retain: keep .grad though not a leaf; _handle:
    # for a leaf that requires grad, the `Handle` graph nodes hold in its place.
    __slots__ = ("_data", "requires_grad", "grad", "_node", "name", "_mem", "_retain", "_handle", "__weakref__")

    # numpy's protocols (ndarray + Tensor -> a Tensor, np.exp(t)) are attached by tinygraph.numpy_dispatch.
    __array_ufunc__ = None

    def __init__(self, data: Any, *, requires_grad: bool = False, dtype: Any = None, name: str | None = None) -> None:
        self._data = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self.name, self._node, self._mem, self._handle = name, None, None, None
        self._retain = self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: np.ndarray, node: Any = None) -> Tensor:
        """Wrap an ndarray the engine owns, without copying or checks (as a `cls`)."""
        t = _new(cls)
        t._data = data
        t.grad = t.name = t._mem = t._handle = None
        t._node, t.requires_grad, t._retain = node, node is not None, False
        return t

    # ----- data access and the in-place guard (its whole story is in tinygraph.guard) ------------
    def _assign_data(self, value: Any) -> None:
        arr = value._data if isinstance(value, Tensor) else value
        if not isinstance(arr, np.ndarray):
            arr = _to_array(arr, self._data.dtype, where="Tensor.data")
        check_array(arr, "Tensor.data")
        if self.requires_grad and arr.dtype.kind != "f":
            raise TypeError(f"Tensor.data: a tensor that requires grad needs float data, got {arr.dtype}")
        guard.assign(self, arr)

    # (the getter is guard.read itself: no second call on every read)
    data = property(guard.read, _assign_data, doc="The ndarray, no copy; a write backward needs makes it raise.")
    memory, mark_written = guard.memory, guard.mark_written

    def handle(self) -> Tensor:
        """What graph nodes hold in place of this leaf (made once): see `Handle`."""
        h = self._handle
        if h is None:
            if self._data.dtype.kind != "f":  # `t.requires_grad = True` (a plain slot) was set on integer data
                self.requires_grad_(True)  # raises, as the constructor does
            h = _new(Handle)
            h._data, h._mem, h.name = self._data, self._mem, self.name
            h.grad = h._node = h._handle = None
            h.requires_grad, h._retain = True, False
            h.leaf, self._handle = weakref.ref(self), h
        return h

    # ----- metadata ---------------------------------------------------------------------------
    # _version: the version of its memory (it moves with each write made while a graph waits on it)
    _version = property(lambda self: 0 if self._mem is None else int(self._mem.version))
    shape = property(lambda self: self._data.shape)
    ndim = property(lambda self: self._data.ndim)
    # (`size`, numpy's element count, is attached by tinygraph.ops.spellings: an int that answers t.size() with a hint)
    dtype = property(lambda self: self._data.dtype)
    is_leaf = property(lambda self: self._node is None, doc="True for tensors made by the user, not by an op.")
    grad_fn = property(lambda self: self._node, doc="The node (a `Context`) of the op that made it; None for a leaf.")
    op = property(lambda self: None if self._node is None else self._node.name, doc="The name of the op that made it.")
    retains_grad = property(lambda self: self._retain, doc="Whether a non-leaf keeps its .grad (``retain_grad()``).")

    __hash__ = object.__hash__

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
        """A new leaf sharing this tensor's data (and its version counter), outside any graph."""
        t = Tensor._make(self._data)
        t._mem, t.name = self.memory(), self.name
        return t

    def retain_grad(self) -> None:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: tensor does not require grad")
        self._retain = True


class Handle(Tensor):
    """The stand-in graph nodes hold for a leaf that requires grad: it shares the leaf's data and
    version counter and reaches the leaf through a weak reference (``leaf()``), which the walk follows
    to deliver the gradient. So no graph keeps its leaves alive, and ``backward(create_graph=True)``
    leaves no cycle x -> x.grad -> its graph -> x. ``Context.inputs`` shows the leaves themselves.
    """

    __slots__ = ("leaf",)

    def handle(self) -> Tensor:
        return self

    def memory(self) -> Memory:
        """The leaf's version counter (made on first use, by the leaf, so that both share it)."""
        if self._mem is None:
            leaf = self.leaf()
            self._mem = Memory() if leaf is None else leaf.memory()
        return self._mem
