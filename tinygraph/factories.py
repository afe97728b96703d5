"""Tensors made from a shape: zeros, ones, full, empty, the ``*_like`` forms, ranges, eye, rand and randn.

Each takes ``dtype=`` (default: the default float dtype, `tinygraph.get_default_dtype`; ``arange``
and ``full`` follow numpy and keep integers integral) and ``requires_grad=``. A shape is given as
separate integers or as one tuple, as both PyTorch and numpy users write it: ``tg.zeros(2, 3)``
and ``tg.zeros((2, 3))`` are the same. ``rand`` and ``randn`` draw from tinygraph's one random
source, so ``tg.manual_seed`` makes them reproducible.

>>> import tinygraph as tg
>>> tg.zeros(2, 3).shape, tg.ones((2,)).tolist(), tg.arange(3).tolist()
((2, 3), [1.0, 1.0], [0, 1, 2])
>>> _ = tg.manual_seed(0); a = tg.randn(2); _ = tg.manual_seed(0); (a == tg.randn(2)).tolist()
[True, True]
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from tinygraph import random
from tinygraph.dtypes import get_default_dtype
from tinygraph.tensor import Tensor


def _shape(size: tuple, where: str) -> tuple[int, ...]:
    """``(2, 3)`` from ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``; ``()`` from ``f(())``."""
    if not size:
        raise TypeError(f"{where}: give a shape, e.g. {where}(2, 3) or {where}((2, 3)); {where}(()) is 0-d")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for n in size:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"{where}: a shape holds integers, got {n!r} in {size!r}")
        if n < 0:
            raise ValueError(f"{where}: a shape cannot have a negative size, got {tuple(size)}")
        out.append(operator.index(n))
    return tuple(out)


def _dtype(dtype: Any, where: str, default: Any = None) -> np.dtype:
    if dtype is None:
        return np.dtype(default) if default is not None else get_default_dtype()
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{where}: dtype must be a numpy dtype such as np.float32, got {dtype!r}") from None


def _finish(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)  # (refuses an integer dtype, as the constructor does)
    return t


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given shape: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _finish(np.zeros(_shape(size, "zeros"), _dtype(dtype, "zeros")), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given shape."""
    return _finish(np.ones(_shape(size, "ones"), _dtype(dtype, "ones")), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape whose values are whatever the memory held (fill it before reading it)."""
    return _finish(np.empty(_shape(size, "empty"), _dtype(dtype, "empty")), requires_grad)


def _fill_dtype(fill_value: Any, dtype: Any, where: str) -> np.dtype:
    """numpy's dtype for a fill value (an int stays an int, a bool a bool), floats at the default dtype."""
    if dtype is not None:
        return _dtype(dtype, where)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value._data
    kind = np.asarray(fill_value).dtype.kind
    if kind == "f" and not isinstance(fill_value, (np.ndarray, np.generic)):
        return get_default_dtype()
    if kind not in "fiub":
        raise TypeError(f"{where}: fill_value must be a number, got {fill_value!r}")
    return np.asarray(fill_value).dtype


def full(size: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of the given shape (a tuple, or one int) holding `fill_value` everywhere.

    >>> import tinygraph as tg
    >>> tg.full((2,), 7).tolist(), tg.full(2, 0.5).dtype
    ([7, 7], dtype('float64'))
    """
    shape = _shape((size,) if not isinstance(size, (tuple, list)) else (tuple(size),), "full")
    dt = _fill_dtype(fill_value, dtype, "full")
    fill = fill_value._data if isinstance(fill_value, Tensor) else fill_value
    if np.ndim(fill) != 0:
        raise ValueError(f"full: fill_value must be one number, got shape {np.shape(fill)}")
    return _finish(np.full(shape, fill, dt), requires_grad)


def _like(a: Any, where: str) -> tuple[tuple, np.dtype]:
    if isinstance(a, Tensor):
        return a.shape, a.dtype
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{where}: expected a Tensor or a numeric array, got {type(a).__name__}")
    if arr.dtype.kind == "f" and not isinstance(a, np.ndarray):  # a list of floats: the default float dtype
        return arr.shape, get_default_dtype()
    return arr.shape, arr.dtype


def zeros_like(a: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros of `a`'s shape and dtype (a new leaf, outside `a`'s graph)."""
    shape, dt = _like(a, "zeros_like")
    return _finish(np.zeros(shape, _dtype(dtype, "zeros_like", dt)), requires_grad)


def ones_like(a: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones of `a`'s shape and dtype (a new leaf, outside `a`'s graph)."""
    shape, dt = _like(a, "ones_like")
    return _finish(np.ones(shape, _dtype(dtype, "ones_like", dt)), requires_grad)


def full_like(a: Any, fill_value: Any, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`fill_value` in `a`'s shape and dtype (a new leaf, outside `a`'s graph)."""
    shape, dt = _like(a, "full_like")
    fill = fill_value._data if isinstance(fill_value, Tensor) else fill_value
    if np.ndim(fill) != 0:
        raise ValueError(f"full_like: fill_value must be one number, got shape {np.shape(fill)}")
    return _finish(np.full(shape, fill, _dtype(dtype, "full_like", dt)), requires_grad)


def arange(start: Any, stop: Any = None, step: Any = 1, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, stop), as ``np.arange``: integers for integer arguments.

    >>> import tinygraph as tg
    >>> tg.arange(1, 7, 2).tolist(), tg.arange(0.0, 1.0, 0.5).tolist()
    ([1, 3, 5], [0.0, 0.5])
    """
    args = (start,) if stop is None else (start, stop, step)
    for v in args:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"arange: start, stop and step must be numbers, got {v!r}")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    if dtype is not None:
        arr = np.arange(*args, dtype=_dtype(dtype, "arange"))
    else:
        arr = np.arange(*args)
        if arr.dtype.kind == "f":
            arr = arr.astype(get_default_dtype(), copy=False)
    return _finish(arr, requires_grad)


def linspace(start: Any, stop: Any, num: int = 50, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """`num` evenly spaced values from `start` to `stop`, both included (``np.linspace``)."""
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"linspace: num must be a non-negative int, got {num!r}")
    return _finish(np.linspace(start, stop, int(num), dtype=_dtype(dtype, "linspace")), requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The n x m identity matrix (square when `m` is None)."""
    shape = _shape((n,) if m is None else (n, m), "eye")
    return _finish(np.eye(shape[0], shape[-1], dtype=_dtype(dtype, "eye")), requires_grad)


def _draw(where: str, size: tuple, dtype: Any, draw: Any) -> np.ndarray:
    dt = _dtype(dtype, where)
    if dt.kind != "f":
        raise TypeError(f"{where}: draws floating-point numbers; got dtype {dt}")
    shape = _shape(size, where)
    if dt in (np.float32, np.float64):
        return draw(random.generator(), shape, dt)
    return draw(random.generator(), shape, np.float64).astype(dt)


def uniform(g: np.random.Generator, shape: tuple, dtype: Any) -> np.ndarray:
    return g.random(shape, dtype=dtype)


def normal(g: np.random.Generator, shape: tuple, dtype: Any) -> np.ndarray:
    return g.standard_normal(shape, dtype=dtype)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform numbers in [0, 1) of the given shape, from tinygraph's seeded source (`tinygraph.manual_seed`).
    Inside ``tg.compile``, every call draws anew (the trace records the draw)."""
    return _finish(_draw("rand", size, dtype, uniform), requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal numbers of the given shape, from tinygraph's seeded source (`tinygraph.manual_seed`).
    Inside ``tg.compile``, every call draws anew (the trace records the draw)."""
    return _finish(_draw("randn", size, dtype, normal), requires_grad)


__all__ = [
    "arange",
    "empty",
    "eye",
    "full",
    "full_like",
    "linspace",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "zeros",
    "zeros_like",
]
