"""In-place operators and methods on Tensor: ``+=, -=, *=, /=, **=, @=`` and ``add_``, ``sub_``,
``mul_``, ``div_``, ``zero_``, ``fill_``, ``copy_`` (attached to the class, as `methods` does).

Each writes into the tensor's own array, so its views see the change, and tells the in-place
guard (`Tensor.mark_written`): a graph that saved the tensor and has not run its backward raises
there, naming the write. They are what a training loop's update needs::

    with tg.no_grad():
        for p in model.parameters():
            p -= lr * p.grad

They run under ``tg.no_grad()`` on any tensor, and outside it on tensors in no graph (neither
the tensor nor the operand requires grad). In grad mode they refuse (RuntimeError) a tensor
that requires grad, and an operand that does:

- a leaf that requires grad: as PyTorch, "a leaf tensor that requires grad is used in an
  in-place operation; wrap it in tg.no_grad()";
- a tensor made by ops (``h += x`` on a non-leaf): tinygraph records no in-place ops, because
  its graph nodes hold the tensors they read. A tensor re-pointed at a new node would send the
  gradient of every op that read it before the write through that node, silently wrong. Write
  ``h = h + x`` (a new tensor, recorded as usual);
- an operand that requires grad written into a tensor that does not (``c += x``): the value
  would keep no trace of x's gradient. Write ``c = c + x``.

Shapes and dtypes follow numpy's in-place rules: the result must have the tensor's shape, and
cast to its dtype under numpy's ``same_kind`` rule (``int_tensor *= 0.5`` is refused).

>>> import tinygraph as tg
>>> w = tg.tensor([1.0, 2.0], requires_grad=True)
>>> (w * w).sum().backward()
>>> with tg.no_grad():
...     w -= 0.25 * w.grad
>>> w
Tensor([0.5, 1. ], requires_grad=True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph import mode
from tinygraph.ops._common import operand, value
from tinygraph.tensor import Tensor

LEAF = "a leaf tensor that requires grad is used in an in-place operation; wrap it in tg.no_grad()"


def _refuse(t: Tensor, how: str, spelled: str, other_requires: bool) -> None:
    """Raise if grad mode would need this in-place write recorded in a graph (see the module's docstring)."""
    if not mode.state.grad_enabled:
        return
    what = f"`{how}` on a tensor of shape {t.shape}"
    if t.requires_grad:
        if t._node is None:
            raise RuntimeError(
                f"{LEAF}, as a training loop's update does: `with tg.no_grad(): p -= lr * p.grad` ({what})"
            )
        raise RuntimeError(
            f"{what} made by op {t._node.name!r}, in grad mode: tinygraph records no in-place ops (graph nodes hold "
            f"the tensors they read, and the ops that read this one before the write would get a wrong gradient); "
            f"write the out-of-place form, e.g. `h = {spelled}`, or do the write under tg.no_grad()"
        )
    if other_requires:
        raise RuntimeError(
            f"{what}, in grad mode: the operand requires grad, and writing its value into a tensor outside the graph "
            f"would drop its gradient; write the out-of-place form, e.g. `h = {spelled}` (it is recorded), "
            "or do the write under tg.no_grad() if no gradient is wanted"
        )


def _operand(t: Tensor, other: Any, how: str) -> tuple[Any, bool]:
    """The operand's array (a Python number takes the tensor's dtype) and whether it requires grad."""
    x = operand(other, how, t)
    return value(x), isinstance(x, Tensor) and x.requires_grad


def _writable(t: Tensor, how: str) -> np.ndarray:
    arr = t._data
    if not arr.flags.writeable:
        raise ValueError(
            f"{how}: the tensor's memory (shape {arr.shape}) is read-only (a broadcast_to view, or an array numpy "
            "marked read-only); write into a copy: tg.tensor(t)"
        )
    return arr


def _fits(arr: np.ndarray, shape: tuple, how: str, what: str = "the operand") -> None:
    try:
        out = np.broadcast_shapes(arr.shape, shape)
    except ValueError:
        raise ValueError(
            f"{how}: {what} of shape {shape} does not broadcast with the tensor's shape {arr.shape}"
        ) from None
    if out != arr.shape:
        raise ValueError(
            f"{how}: the result would have shape {out}, which does not fit in the tensor of shape {arr.shape} "
            "(an in-place op keeps its tensor's shape)"
        )


def _cast_error(how: str, src: Any, arr: np.ndarray) -> TypeError:
    return TypeError(
        f"{how}: a {src} result cannot be written into the tensor's {arr.dtype} data in place (numpy's "
        f"'same_kind' rule); convert first, e.g. t = t.astype(np.float64)"
    )


def _update(t: Tensor, ufunc: np.ufunc, other: Any, how: str, spelled: str, alpha: Any = 1) -> Tensor:
    """t <- ufunc(t, alpha * other), in place, after the checks."""
    v, other_requires = _operand(t, other, how)
    if alpha != 1:
        v = v * _operand(t, alpha, how)[0]
    _refuse(t, how, spelled, other_requires)
    arr = _writable(t, how)
    _fits(arr, np.shape(v), how)
    res = np.result_type(arr, v) if ufunc is not np.divide else np.result_type(arr, v, 1.0)
    if not np.can_cast(res, arr.dtype, "same_kind"):
        raise _cast_error(how, res, arr)
    ufunc(arr, v, out=arr, casting="same_kind")
    t.mark_written(f"an in-place `{how}`")
    return t


class _InPlace:
    """The methods copied onto `Tensor` (a class only to write them with ``self``)."""

    def __iadd__(self, other):
        return _update(self, np.add, other, "+=", "h + x")

    def __isub__(self, other):
        return _update(self, np.subtract, other, "-=", "h - x")

    def __imul__(self, other):
        return _update(self, np.multiply, other, "*=", "h * x")

    def __itruediv__(self, other):
        return _update(self, np.divide, other, "/=", "h / x")

    def __ipow__(self, other):
        return _update(self, np.power, other, "**=", "h ** x")

    def __imatmul__(self, other):
        v, other_requires = _operand(self, other, "@=")
        _refuse(self, "@=", "h @ x", other_requires)
        arr = _writable(self, "@=")
        try:
            res = np.matmul(arr, v)
        except ValueError as e:
            raise ValueError(f"@=: {arr.shape} @ {np.shape(v)}: {e}") from None
        if res.shape != arr.shape:
            raise ValueError(
                f"@=: {arr.shape} @ {np.shape(v)} gives shape {res.shape}, which does not fit in the tensor of "
                f"shape {arr.shape} (an in-place op keeps its tensor's shape)"
            )
        if not np.can_cast(res.dtype, arr.dtype, "same_kind"):
            raise _cast_error("@=", res.dtype, arr)
        arr[...] = res
        self.mark_written("an in-place `@=`")
        return self

    def add_(self, other, *, alpha=1) -> Tensor:
        """self += alpha * other, in place (as PyTorch's ``add_``); returns self."""
        return _update(self, np.add, other, "add_", "h + x", alpha)

    def sub_(self, other, *, alpha=1) -> Tensor:
        """self -= alpha * other, in place; returns self."""
        return _update(self, np.subtract, other, "sub_", "h - x", alpha)

    def mul_(self, other) -> Tensor:
        """self *= other, in place; returns self."""
        return _update(self, np.multiply, other, "mul_", "h * x")

    def div_(self, other) -> Tensor:
        """self /= other, in place; returns self."""
        return _update(self, np.divide, other, "div_", "h / x")

    def zero_(self) -> Tensor:
        """Set every element to 0, in place (``p.grad.zero_()``); returns self."""
        _refuse(self, "zero_", "tg.zeros_like(h)", False)
        _writable(self, "zero_").fill(0)
        self.mark_written("an in-place `zero_`")
        return self

    def fill_(self, fill_value) -> Tensor:
        """Set every element to one number, in place; returns self."""
        v, other_requires = _operand(self, fill_value, "fill_")
        if np.ndim(v) != 0:
            raise ValueError(
                f"fill_: expected one number, got an array of shape {np.shape(v)}; use copy_ to copy an array"
            )
        return _copy(self, v, other_requires, "fill_", "tg.full_like(h, v)")

    def copy_(self, src) -> Tensor:
        """Copy `src` (broadcast to this tensor's shape) into this tensor's memory; returns self."""
        v, other_requires = _operand(self, src, "copy_")
        return _copy(self, v, other_requires, "copy_", "x.clone()")


def _copy(t: Tensor, v: Any, other_requires: bool, how: str, spelled: str) -> Tensor:
    _refuse(t, how, spelled, other_requires)
    arr = _writable(t, how)
    _fits(arr, np.shape(v), how, "the source")
    v = np.asarray(v)
    if not np.can_cast(v.dtype, arr.dtype, "same_kind"):
        raise _cast_error(how, v.dtype, arr)
    np.copyto(arr, v, casting="same_kind")
    t.mark_written(f"an in-place `{how}`")
    return t


_CLASS_MACHINERY = {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__hash__"}
for _name, _member in vars(_InPlace).items():
    if _name not in _CLASS_MACHINERY:
        setattr(Tensor, _name, _member)
