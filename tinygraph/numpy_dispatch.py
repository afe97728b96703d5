"""numpy's dispatch protocols on Tensor: ``np.exp(t)``, ``np.sum(t)`` and ``ndarray * t`` give tracked Tensors.

numpy hands a call that has a Tensor among its arguments to ``Tensor.__array_ufunc__`` (the
ufuncs: ``np.exp``, ``np.add``, and the operators of an ndarray whose other operand is a
Tensor) or ``Tensor.__array_function__`` (``np.sum``, ``np.concatenate``, ``np.linalg.*``). Both
look the numpy function up *by name* in tinygraph's namespace, ``tinygraph.<name>`` (and
``tinygraph.linalg.<name>`` for ``np.linalg``), through the small tables below where the names
differ, so every op tinygraph has is reached from its numpy function, new ones included:

>>> import numpy as np, tinygraph as tg
>>> t = tg.tensor([0.0, 1.0], requires_grad=True)
>>> np.sum(np.exp(t)).backward()
>>> np.allclose(t.grad.data, np.exp([0.0, 1.0]))
True

- Results that carry no gradient are computed by numpy on the data: the comparison and
  test ufuncs (``==``, ``np.isnan``) give bool Tensors, as Tensor's own comparisons do, and
  functions such as ``np.allclose``, ``np.argmax``, ``np.shape`` give numpy's own result.
- Any other numpy function raises a TypeError naming it and the tinygraph function to use,
  or saying there is none (``np.f(t.numpy())`` computes a value outside the graph).
- numpy's keywords: ``dtype=`` casts the inputs first (numpy's meaning); ``out=`` an ndarray
  writes the plain result there (``p.data -= lr * p.grad``), but refuses a tensor that
  requires grad in grad mode (the graph would be lost); ``out=`` a Tensor is refused (write
  ``t += ...`` or ``t.copy_(...)``). Ufunc methods (``np.add.reduce``, ``.accumulate``,
  ``.outer``, ``.at``) are refused with the tinygraph spelling.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import numpy as np

from tinygraph import mode
from tinygraph.tensor import Tensor

# numpy's name -> tinygraph's, where they differ
UFUNC_NAMES = {"absolute": "abs", "fabs": "abs", "true_divide": "divide"}
FUNCTION_NAMES = {"amax": "max", "amin": "min", "concat": "concatenate"}
# numpy functions tinygraph lacks, and what to write instead
SUGGEST = {
    "dot": "tg.matmul(a, b) (or a @ b)",
    "copy": "t.clone() (a copy in the graph) or tg.tensor(t) (a copy outside it)",
    "square": "t ** 2",
    "reciprocal": "1 / t",
    "positive": "+t",
    "std": "tg.sqrt(tg.var(t, axis))",
    "prod": "tg.exp(tg.sum(tg.log(t))) for positive t",
    "outer": "a.reshape(-1, 1) * b.reshape(1, -1)",
    "average": "tg.mean (or a weighted tg.sum)",
}
# ufunc methods, per ufunc: the tinygraph spelling
METHOD_HINTS = {
    ("add", "reduce"): "tg.sum(t, axis)",
    ("maximum", "reduce"): "tg.max(t, axis)",
    ("minimum", "reduce"): "tg.min(t, axis)",
    ("multiply", "outer"): "a.reshape(-1, 1) * b.reshape(1, -1)",
    ("add", "outer"): "a.reshape(-1, 1) + b.reshape(1, -1)",
}
# ufuncs whose results carry no gradient (truth values): computed on the data, as bool Tensors
VALUE_UFUNCS = frozenset(
    {
        "equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
        "isnan", "isinf", "isfinite", "signbit", "logical_and", "logical_or", "logical_xor", "logical_not",
    }
)  # fmt: skip
# functions whose results carry no gradient (truth values, indices, shapes): numpy's result on the data
VALUE_FUNCTIONS = frozenset(
    {
        "allclose", "isclose", "array_equal", "array_equiv", "shape", "ndim", "size",
        "argmax", "argmin", "argsort", "argwhere", "nonzero", "flatnonzero", "count_nonzero",
        "any", "all", "may_share_memory", "shares_memory", "iscomplexobj", "isrealobj", "searchsorted",
        "array_repr", "array_str", "array2string",
    }
)  # fmt: skip
# tinygraph functions that share a numpy name but not its meaning
NOT_NUMPY = frozenset({"save", "load", "grad", "tensor"})
OPERATORS = {"remainder": "%", "floor_divide": "//", "bitwise_and": "&", "bitwise_or": "|", "bitwise_xor": "^"}
_OPTIONS = frozenset({"out", "dtype", "keepdims", "ddof", "initial", "where", "order", "casting", "subok", "copy"})

_ufuncs: dict = {}  # ufunc -> the function that computes it on Tensors (filled on first use)


def _tinygraph(module: str) -> tuple[Any, str]:
    """tinygraph's namespace for a numpy module ('numpy' or 'numpy.linalg'), and how to name it."""
    tg = sys.modules["tinygraph"]
    if module == "numpy":
        return tg, "tg"
    if module == "numpy.linalg":
        return getattr(tg, "linalg", None), "tg.linalg"
    return None, "tg"


def _find(namespace: Any, name: str) -> Any:
    fn = getattr(namespace, name, None) if namespace is not None and name not in NOT_NUMPY else None
    return fn if callable(fn) and not isinstance(fn, type) else None


def _missing(label: str, name: str, where: str, extra: str = "") -> TypeError:
    hint = SUGGEST.get(name)
    todo = f"use {hint}" if hint else f"{where} has no {name}"
    return TypeError(
        f"{label}{extra} on a Tensor: {todo}; for a plain value outside the graph, call it on the array: "
        f"{label}(t.numpy())"
    )


def _plain(x: Any) -> Any:
    """Tensors (also inside lists and tuples) replaced by their arrays."""
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(e) for e in x)
    return x


def _requires_grad(xs: Any) -> bool:
    return any(isinstance(x, Tensor) and x.requires_grad for x in xs)


def _cast(x: Any, dtype: Any) -> Any:
    from tinygraph.ops.elementwise import astype

    if isinstance(x, (Tensor, np.ndarray)):
        return astype(x, dtype)
    if isinstance(x, (list, tuple)):
        return type(x)(_cast(e, dtype) for e in x)
    return x


# ----- ufuncs ----------------------------------------------------------------------------------


def _ufunc_function(ufunc: np.ufunc) -> Any:
    """What computes `ufunc` on Tensors: a tinygraph function, a value-only wrapper, or None."""
    fn = _ufuncs.get(ufunc)
    if fn is None:
        name = ufunc.__name__
        fn = _find(_tinygraph("numpy")[0], UFUNC_NAMES.get(name, name))
        if fn is None and name in VALUE_UFUNCS:

            def fn(*inputs: Any, _u: np.ufunc = ufunc) -> Tensor:
                return Tensor._make(np.asarray(_u(*_plain(inputs))))

        if fn is not None:
            _ufuncs[ufunc] = fn
    return fn


def _array_ufunc(self: Tensor, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
    if method == "__call__" and not kwargs:  # the common case: np.exp(t), ndarray * t
        fn = _ufuncs.get(ufunc) or _ufunc_function(ufunc)
        if fn is not None:
            return fn(*inputs)
    name = ufunc.__name__
    label = f"np.{name}"
    if method != "__call__":
        hint = METHOD_HINTS.get((name, method))
        todo = f"use {hint}" if hint else "tinygraph has no equivalent"
        raise TypeError(
            f"{label}.{method} on a Tensor: tinygraph runs numpy's ufuncs only when called ({label}(...)); {todo}"
        )
    out = kwargs.pop("out", None)
    if out is not None:
        return _into_arrays(label, ufunc, inputs, out, kwargs)
    dtype = kwargs.pop("dtype", None)
    if kwargs.get("where", True) is True:
        kwargs.pop("where", None)
    if kwargs:
        raise TypeError(f"{label} on a Tensor: numpy's {', '.join(k + '=' for k in kwargs)} is not supported")
    if dtype is not None:
        inputs = tuple(_cast(x, dtype) for x in inputs)
    fn = _ufunc_function(ufunc)
    if fn is None:
        op = OPERATORS.get(name)
        raise _missing(label, name, "tinygraph", f" (what a numpy array's {op} calls)" if op else "")
    return fn(*inputs)


def _into_arrays(label: str, ufunc: np.ufunc, inputs: tuple, out: tuple, kwargs: dict) -> Any:
    """``out=`` ndarrays: numpy's plain result written there (``p.data -= lr * p.grad``)."""
    if any(isinstance(o, Tensor) for o in out):
        raise TypeError(
            f"{label}(..., out=<a Tensor>): a Tensor cannot be numpy's out=; write in place with "
            "`t += ...`, `t *= ...` or t.copy_(...) (under tg.no_grad() for a tensor that requires grad), "
            f"or take the result: t = {label}(...)"
        )
    if mode.state.grad_enabled and _requires_grad(inputs):
        raise TypeError(
            f"{label}(..., out=<an ndarray>): writing into a numpy array keeps no graph, and an operand requires grad; "
            "use .detach() (or .data) on it, or compute under tg.no_grad()"
        )
    return ufunc(*_plain(inputs), out=out if len(out) > 1 else out[0], **kwargs)


# ----- other numpy functions -----------------------------------------------------------------


def _array_function(self: Tensor, func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented
    name, module = func.__name__, getattr(func, "__module__", "")
    short = module.replace("numpy", "np", 1) if module.startswith("numpy") else module
    label = f"{short}.{name}"
    namespace, where = _tinygraph(module)
    fn = _find(namespace, FUNCTION_NAMES.get(name, name))
    if fn is None:
        if name in VALUE_FUNCTIONS:
            return func(*_plain(args), **_plain(kwargs))
        raise _missing(label, name, "tinygraph" if where == "tg" else where)
    pos, named, dtype = _arguments(func, args, kwargs, label)
    target = f"{where}.{getattr(fn, '__name__', name)}"
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = None
    if params is not None:  # (a **keywords parameter takes no numpy option: it catches PyTorch's names)
        if dtype is not None and "dtype" in params:
            named["dtype"], dtype = dtype, None
        for k in named:
            if k not in params or params[k].kind is inspect.Parameter.VAR_KEYWORD:
                raise TypeError(
                    f"{label}(..., {k}=...) on a Tensor: it calls {target}{_signature(fn)}, which has no {k}="
                )
        try:
            inspect.signature(fn).bind(*pos, **named)
        except TypeError as e:
            raise TypeError(f"{label} on a Tensor calls {target}{_signature(fn)}: {e}") from None
    if dtype is not None and pos:
        pos[0] = _cast(pos[0], dtype)
    return fn(*pos, **named)


def _signature(fn: Any) -> str:
    """`fn`'s parameters as a reader would write them (without annotations)."""
    sig = inspect.signature(fn)
    params = [p.replace(annotation=p.empty) for p in sig.parameters.values()]
    return str(sig.replace(parameters=params, return_annotation=sig.empty))


def _arguments(func: Any, args: tuple, kwargs: dict, label: str) -> tuple[list, dict, Any]:
    """The call bound to numpy's own signature: positional values, named ones, and dtype= (to cast first).

    Arguments the caller gave positionally stay positional until numpy's first option (out=,
    dtype=, keepdims=, ...), whose position differs between numpy and tinygraph; from there on
    they go by name. ``out=None`` is dropped, any other ``out=`` refused.
    """
    try:
        sig = inspect.signature(func)
        bound = sig.bind(*args, **kwargs)
    except TypeError as e:
        raise TypeError(f"{label}: {e}") from None
    except ValueError:  # no signature: pass the call on as it is
        return list(args), dict(kwargs), None
    given = sig.bind_partial(*args).arguments  # the parameters the caller's positional values fill
    pos: list = []
    named: dict = {}
    dtype = None
    by_name = False
    for k, v in bound.arguments.items():
        p = sig.parameters[k]
        if p.kind is p.VAR_POSITIONAL:
            pos.extend(v)
            continue
        if p.kind is p.VAR_KEYWORD:
            named.update(v)
            continue
        if v is p.default:
            by_name = by_name or k in _OPTIONS
            continue
        if k == "out":
            raise TypeError(
                f"{label}(..., out=...) on a Tensor: tinygraph's ops return new tensors; take the result instead, "
                "or write it in place with t.copy_(result)"
            )
        if k == "dtype":
            dtype, by_name = v, True
            continue
        by_name = by_name or k in _OPTIONS or k not in given  # (a keyword after *operands: einsum's optimize=)
        if by_name:
            named[k] = v
        else:
            pos.append(v)
    return pos, named, dtype


Tensor.__array_ufunc__ = _array_ufunc
Tensor.__array_function__ = _array_function
