"""PyTorch's spellings on a Tensor: the few that work, and errors naming tinygraph's for the rest.

tinygraph spells array operations as numpy does (``axis=``, ``keepdims=``, ``astype``,
``reshape``, ``expand_dims``, ``transpose``, ``concatenate``, ``.shape``), one name per thing, so
that code reads like the numpy it mirrors. A PyTorch spelling that has a numpy twin raises an
error naming the twin; one that has none works as in PyTorch:

- work: ``t.to("cpu")``, ``t.cpu()`` (there is only the CPU), the in-place ``_`` methods
  (`tinygraph.ops.inplace`), ``t.copy()`` (numpy's) for PyTorch's ``clone()``;
- raise, naming tinygraph's spelling: ``dim=``/``keepdim=`` (`torch_keywords`), ``t.size()``
  (``t.size`` is numpy's element count), ``.float()``, ``.double()``, ``.to(dtype)``, ``.view``,
  ``.unsqueeze``, ``.permute``, ``.clone``, ``.numel()``, ``.dim()``, ``.t()`` and the others in
  `TENSOR_HINTS`; ``tg.cat`` and the names in `MODULE_HINTS` (via ``tinygraph.__getattr__``).

The hints are class attributes (`Hint`) that raise when read, so that Tensor keeps no
``__getattr__`` (which would cost every attribute lookup of apply and the walk).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygraph.ops import elementwise as ew
from tinygraph.tensor import Tensor

TORCH_KEYWORDS = {"dim": "axis", "keepdim": "keepdims"}

_CPU_ONLY = "tinygraph runs on numpy, on the CPU only"
_ASTYPE = "t.astype(dtype), numpy's name"
TENSOR_HINTS = {
    "float": "t.astype(np.float32) (PyTorch's float() is float32; tinygraph's default float is float64)",
    "double": "t.astype(np.float64)",
    "half": "t.astype(np.float16)",
    "long": "t.astype(np.int64)",
    "int": "t.astype(np.int32)",
    "bool": "t.astype(bool)",
    "type": "t.dtype to read the dtype, t.astype(dtype) to convert",
    "view": "t.reshape(shape) (numpy's view() reinterprets the bytes as another dtype instead)",
    "view_as": "t.reshape(other.shape)",
    "reshape_as": "t.reshape(other.shape)",
    "unsqueeze": "t.expand_dims(axis) (or tg.expand_dims(t, axis))",
    "permute": "t.transpose(*axes)",
    "clone": "t.copy() (numpy's name: a copy that stays in the graph); t.detach() shares the data outside it",
    "numel": "t.size (numpy's name: the number of elements)",
    "dim": "t.ndim",
    "t": "t.T",
    "mm": "a @ b (or tg.matmul(a, b))",
    "matmul": "a @ b (or tg.matmul(a, b))",
    "bmm": "a @ b (or tg.matmul(a, b))",
    "pow": "t ** p",
    "add": "a + b (a += b in place, under tg.no_grad() for a tensor that requires grad)",
    "sub": "a - b",
    "mul": "a * b",
    "div": "a / b",
    "neg": "-t",
    "abs": "abs(t) (or tg.abs(t))",
    "clamp": "t.clip(a_min, a_max)",
    "norm": "tg.linalg.norm(t) (numpy's np.linalg.norm: ord= and axis=)",
    "expand": "t.broadcast_to(shape)",
    "expand_as": "t.broadcast_to(other.shape)",
    "softmax": "tg.softmax(t, axis)",
    "log_softmax": "tg.log_softmax(t, axis)",
    "new_zeros": "tg.zeros(shape, dtype=t.dtype)",
    "new_ones": "tg.ones(shape, dtype=t.dtype)",
    "new_tensor": "tg.tensor(data, dtype=t.dtype)",
    "zero_grad": "t.grad = None",
    "register_hook": "no tensor hooks: t.retain_grad() keeps a non-leaf's .grad after backward, "
    "tg.grad(out, [t]) returns a gradient, tg.nn.utils.clip_grad_norm_ clips them",
    "contiguous": "nothing: tinygraph's ops take any memory layout (drop the call)",
    "device": f"nothing: {_CPU_ONLY}",
    "is_cuda": f"nothing: {_CPU_ONLY}",
    # numpy's names with a twin in tinygraph
    "ravel": "t.flatten()",
    "swapaxes": "t.transpose(axes)",
    "fill": "t.fill_(value) (under tg.no_grad() for a tensor that requires grad)",
}
MODULE_HINTS = {
    "cat": "tg.concatenate(tensors, axis) (numpy's name)",
    "concat": "tg.concatenate(tensors, axis) (numpy's name)",
    "unsqueeze": "tg.expand_dims(t, axis)",
    "permute": "tg.transpose(t, axes)",
    "clamp": "tg.clip(t, a_min, a_max)",
    "norm": "tg.linalg.norm(t) (numpy's np.linalg.norm)",
    "mm": "tg.matmul (or a @ b)",
    "bmm": "tg.matmul (or a @ b)",
    "pow": "tg.power (or a ** b)",
    "from_numpy": "tg.tensor(array) (it copies the array)",
    "as_tensor": "tg.tensor(data)",
    "is_tensor": "isinstance(x, tg.Tensor)",
    "numel": "t.size",
    "seed": "tg.manual_seed(n)",
    "inference_mode": "tg.no_grad()",
    "device": f"nothing: {_CPU_ONLY}",
    "cuda": f"nothing: {_CPU_ONLY}",
    **{dt: f"numpy's dtypes: np.{dt}" for dt in ("float16", "float32", "float64", "int32", "int64", "uint8")},
    "float": "numpy's dtypes: np.float32 (PyTorch's float) or np.float64 (tinygraph's default)",
    "double": "numpy's dtypes: np.float64",
    "long": "numpy's dtypes: np.int64",
}


def torch_keywords(where: str, kwargs: dict) -> TypeError:
    """The error for keywords a tinygraph function does not take, naming numpy's for PyTorch's ``dim``/``keepdim``."""
    parts = []
    for k in kwargs:
        if k in TORCH_KEYWORDS:
            parts.append(f"write {TORCH_KEYWORDS[k]}= (numpy's name) for PyTorch's {k}=")
        else:
            parts.append(f"it takes no {k}=")
    return TypeError(f"{where}: " + "; ".join(parts))


def _dtype_like(x: Any) -> bool:
    if x is None:  # (np.dtype(None) is float64)
        return False
    try:
        np.dtype(x)
    except TypeError:
        return False
    return True


class Count(int):
    """``t.size``: the number of elements (numpy's meaning), an int that, called as PyTorch's ``t.size()``, says so."""

    __slots__ = ()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(
            "Tensor.size is the number of elements (numpy's meaning), not a method; for PyTorch's t.size() "
            "write t.shape (t.shape[d] for t.size(d))"
        )


def _device(where: str, device: Any) -> None:
    name = str(device)
    if name != "cpu" and not name.startswith("cpu:"):
        raise RuntimeError(f"{where}({device!r}): {_CPU_ONLY}; the only device is 'cpu'")


def to(self: Any, *args: Any, **kwargs: Any) -> Any:
    """``.to("cpu")`` (or ``.to(device="cpu")``) returns it as it is: tinygraph runs on the CPU only.

    A dtype is refused, naming numpy's ``astype``; another device raises.
    """
    where = f"{type(self).__name__}.to"
    if "dtype" in kwargs or any(_dtype_like(a) for a in args):
        raise TypeError(f"{where}(dtype): write {_ASTYPE}" if isinstance(self, Tensor) else _module_dtype(where))
    for a in (*args, kwargs.pop("device", "cpu")):
        _device(where, a)
    unknown = set(kwargs) - {"non_blocking", "copy"}
    if unknown:
        raise TypeError(f"{where}: it takes no {', '.join(sorted(unknown))}=")
    return self


_KEEPS_DTYPE = (
    "a Module keeps its parameters' dtype; make the model in the dtype you want "
    "(tg.set_default_dtype(np.float32) before building it)"
)
# PyTorch's Module methods that tinygraph's Module lacks, for its AttributeError
MODULE_METHOD_HINTS = dict.fromkeys(("float", "double", "half", "bfloat16", "type"), _KEEPS_DTYPE)


def _module_dtype(where: str) -> str:
    return f"{where}(dtype): {_KEEPS_DTYPE}"


def cpu(self: Any) -> Any:
    """Returns it as it is: tinygraph runs on the CPU only."""
    return self


def cuda(self: Any, *args: Any, **kwargs: Any) -> Any:
    """Raises: tinygraph runs on numpy, on the CPU only."""
    raise RuntimeError(f"{type(self).__name__}.cuda(): {_CPU_ONLY}")


def _copy(self: Tensor) -> Tensor:
    """A copy with its own memory that stays in the graph (numpy's ``copy``; PyTorch's ``clone``).

    Drawn as an ``astype`` node to the same dtype (the op that copies).
    """
    return ew.astype(self, self.dtype)


def _size(self: Tensor) -> Count:
    return Count(self._data.size)


# numpy's ndarray methods and attributes that Tensor lacks (a hint names the way to the value)
NUMPY_NAMES = (
    "argmax", "argmin", "argsort", "cumsum", "cumprod", "prod", "std", "round", "fill", "nonzero", "any", "all",
    "dot", "sort", "ptp", "trace", "diagonal", "repeat", "take", "put", "ravel", "swapaxes", "resize", "searchsorted",
    "nbytes", "itemsize", "strides", "flags", "tobytes", "tofile", "real", "imag", "conj",
)  # fmt: skip


class Hint:
    """A name Tensor lacks that PyTorch or numpy users type: reading it raises AttributeError naming tinygraph's way.

    A class attribute, not a ``__getattr__``: a type with one loses CPython's specialized
    attribute lookups on every instance (benchmarks/NOTES.md). ``hasattr(t, name)`` stays False.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, cls: Any = None) -> Any:
        if obj is None:
            return self
        raise AttributeError(tensor_hint(self.name, type(obj).__name__))

    def __repr__(self) -> str:
        return f"<no Tensor.{self.name}: {tensor_hint(self.name)}>"


def tensor_hint(name: str, kind: str = "Tensor") -> str:
    """The message of a Tensor's AttributeError: tinygraph's spelling of a PyTorch or numpy name, if there is one."""
    base = f"{kind!r} object has no attribute {name!r}"
    hint = TENSOR_HINTS.get(name)
    if hint is not None:
        return f"{base}; tinygraph's spelling: {hint}"
    import tinygraph

    fn = getattr(tinygraph, name, None)
    if callable(fn) and not isinstance(fn, type):
        return f"{base}; use the function: tg.{name}(t, ...)"
    if hasattr(np.ndarray, name):
        call = "(...)" if callable(getattr(np.ndarray, name)) else ""
        return f"{base}; tinygraph has no {name}: for a plain value outside the graph, use t.numpy().{name}{call}"
    return base


def _dir(self: Tensor) -> list:
    return [n for n in object.__dir__(self) if not isinstance(getattr(type(self), n, None), Hint)]


def module_hint(name: str) -> str:
    """The message of ``tinygraph.<name>``'s AttributeError, naming tinygraph's spelling where there is one."""
    base = f"module 'tinygraph' has no attribute {name!r}"
    if name.startswith("_"):
        return base
    hint = MODULE_HINTS.get(name)
    if hint is not None:
        return f"{base}; use {hint}"
    if hasattr(np, name) and callable(getattr(np, name)):
        return f"{base}; for a plain value outside the graph, numpy's np.{name}(t.numpy()) computes it"
    return base


Tensor.size = property(_size, doc=Count.__doc__)  # (Tensor's one `size`: numpy's element count)
Tensor.to = to
Tensor.cpu = cpu
Tensor.cuda = cuda
Tensor.copy = _copy
Tensor.__dir__ = _dir  # (the hints are not there to be found by tab completion)
for _name in (*TENSOR_HINTS, *NUMPY_NAMES):
    if not hasattr(Tensor, _name):  # (an attribute attached by an op module wins)
        setattr(Tensor, _name, Hint(_name))
