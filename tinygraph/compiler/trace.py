"""Tracing: run the function once eagerly and write down every array computation it makes.

While a `Tracer` is active (one thread, for the length of one call):

- every op's ``forward`` is wrapped: the outermost op call on each path is recorded as one step
  (its class, its arguments as slots or constants, the ``needs_input_grad`` the engine gave it);
- the data of the tensors the function reads is handed out as `Traced` arrays, an ndarray
  subclass: numpy calls made on them outside any op (a softmax's shift, class labels made
  integers, batch norm's running statistics, comparisons) are recorded as steps too, so the
  replay recomputes them;
- a tensor made before the trace that the function reads (a closed-over parameter, a buffer, a
  constant) becomes a *leaf* of the program, read afresh on every call; one it assigns
  (``t.data = ...``) is assigned again on every call;
- reading a traced value into Python (``bool``, ``float``, ``.item()``, ``.numpy()``, ``if t > 0``)
  from the user's code raises `TraceError`, naming the line; tinygraph's own input checks may read
  values (they run at trace time only);
- the modules called are noted, so that a program is replayed only in the train/eval mode it saw;
- dropout's masks and ``tg.rand``/``tg.randn`` are steps that draw on every replay; the random
  generator's state is put back afterwards, so the first replay draws what the eager call would
  have drawn (unless the function raised: then its draws and assignments stand, as eager's);
- Python's cycle collector is paused for the length of the trace (one call) and switched back on
  after, if it was on: a long trace holds millions of small objects (slots, steps, the eager
  graph), and the collector's passes over them cost more than the recording itself (a 200,000-op
  chain: 4.4-4.9 s with it, 1.9-2.5 s without).

Everything is restored when the trace ends. A tensor made before the trace keeps its own array
throughout (the tracer hands out views of it, and an assignment to it is recorded, not made);
tensors made during the trace hold traced arrays, and handles made for leaves get plain ones back.
The hooks are class attributes, so other threads pass through them (unrecorded, a little slower)
while a trace runs; one trace runs at a time.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from typing import Any

import numpy as np

from tinygraph import factories, mode
from tinygraph import random as _random
from tinygraph.function import Context, Function
from tinygraph.tensor import Handle, Tensor

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY = os.path.dirname(os.path.abspath(np.__file__))
# Tensor's own files: its class, and its Python protocols (bool, float, item) in ops/methods.py
_TENSOR_FILES = (
    os.path.abspath(sys.modules[Tensor.__module__].__file__),
    os.path.abspath(sys.modules["tinygraph.ops.methods"].__file__),
)
_DATA = Tensor.__dict__["_data"]  # the slot's own descriptor
_get, _set = _DATA.__get__, _DATA.__set__
_THIS = os.path.abspath(__file__)
_lock = threading.Lock()
_active: Tracer | None = None


class TraceError(RuntimeError):
    """The traced function did something a replay could not repeat (raised at trace time)."""


class Unsupported(Exception):
    """The function cannot be compiled (a custom op, say): the caller runs it eagerly instead."""


class Busy(Unsupported):
    """Another thread is tracing: this call runs eagerly, and the next one tries again."""


# ----- the program a trace writes down --------------------------------------------------------------


class Slot:
    """One array of the program: an argument, a leaf, or a step's result (``kind``), with its shape and dtype."""

    __slots__ = ("index", "kind", "source", "shape", "dtype", "requires_grad", "producer")

    def __init__(self, index: int, kind: str, source: Any, arr: np.ndarray, requires_grad: bool = False) -> None:
        self.index, self.kind, self.source = index, kind, source
        self.shape, self.dtype = arr.shape, arr.dtype
        self.requires_grad = requires_grad
        self.producer = None  # the step that makes it


class Step:
    """One recorded computation: ``kind`` 'op' (a tinygraph op), 'numpy' (a numpy call) or 'assign'.

    ``args`` holds, per argument, ``("slot", Slot)`` or ``("const", value)`` (lists one level deep
    as ``("list", [...])``); ``out`` is the result's slot. For ops: ``fn`` the op class, ``needs``
    the ``needs_input_grad`` eager gave the node (None when nothing was recorded), ``wrap`` whether
    forward returned a numpy scalar. For numpy calls: ``fn`` the callable and ``kwargs``.
    """

    __slots__ = ("kind", "fn", "args", "kwargs", "out", "needs", "wrap", "line", "index")

    def __init__(self, kind: str, fn: Any, args: list, out: Slot | None, **extra: Any) -> None:
        self.kind, self.fn, self.args, self.out = kind, fn, args, out
        self.kwargs = extra.get("kwargs", {})
        self.needs = extra.get("needs")
        self.wrap = extra.get("wrap", False)
        self.line = extra.get("line")

    def slots(self) -> list[Slot]:
        """The slots this step reads."""
        out = []
        for kind, v in self.args:
            if kind == "slot":
                out.append(v)
            elif kind == "list":
                out.extend(s for k, s in v[1] if k == "slot")
        for kind, v in self.kwargs.values():
            if kind == "slot":
                out.append(v)
        return out


class Trace:
    """What one trace recorded: the slots, the steps, the outputs, the modules and their modes."""

    def __init__(self) -> None:
        self.slots: list[Slot] = []
        self.steps: list[Step] = []
        self.inputs: list[Slot] = []
        self.leaves: list[Slot] = []
        self.outputs: list[Any] = []  # per output: ("slot", Slot) or ("const", array)
        self.output_requires: list[bool] = []  # per output: whether the tensor returned requires grad
        self.modules: list[Any] = []
        self.tuple_out = False


# ----- the traced arrays ------------------------------------------------------------------------------


def _user_read() -> str | None:
    """The user's line if a value is being read by the user's code (not by tinygraph's own checks)."""
    f = sys._getframe(2)
    while f is not None:
        name = os.path.abspath(f.f_code.co_filename)
        if name in _TENSOR_FILES or name.startswith(_NUMPY) or name == _THIS:
            f = f.f_back
            continue
        if name.startswith(_PACKAGE) and not name.startswith(os.path.dirname(_THIS)):
            return None
        import linecache

        line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
        return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" + (f": {line}" if line else "")
    return None


def _refuse(what: str) -> None:
    where = _user_read()
    if where is not None:
        raise TraceError(
            f"tg.compile: {what} reads the value of a traced tensor into Python at {where}. "
            "A compiled function is recorded once and replayed, so a branch or number taken from a value "
            "would be frozen. Compute it outside the compiled function (and pass it in as an argument: "
            "Python numbers are part of the signature, a new value retraces), or use tinygraph ops "
            "(tg.where, tg.maximum) instead of a Python branch."
        )


class Traced(np.ndarray):
    """The data of a traced tensor: numpy calls on it are recorded; its value may not go into Python.

    Outside a trace (a traced array kept by the user's code) it behaves as a plain ndarray.
    """

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _numpy_call(
            getattr(ufunc, method),
            inputs,
            kwargs,
            f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}"),
        )

    def __array_function__(self, func, types, args, kwargs):
        return _numpy_call(func, args, kwargs, f"np.{func.__name__}")

    def astype(self, *args, **kwargs):
        return _numpy_call(np.ndarray.astype, (self, *args), kwargs, "astype")

    def reshape(self, *args, **kwargs):
        return _numpy_call(np.ndarray.reshape, (self, *args), kwargs, "reshape")

    def transpose(self, *args):
        return _numpy_call(np.ndarray.transpose, (self, *args), {}, "transpose")

    def copy(self, *args, **kwargs):
        return _numpy_call(np.ndarray.copy, (self, *args), kwargs, "copy")

    def ravel(self, *args):
        return _numpy_call(np.ndarray.ravel, (self, *args), {}, "ravel")

    def flatten(self, *args):
        return _numpy_call(np.ndarray.flatten, (self, *args), {}, "flatten")

    def squeeze(self, *args, **kwargs):
        return _numpy_call(np.ndarray.squeeze, (self, *args), kwargs, "squeeze")

    @property
    def T(self):  # noqa: N802 - numpy's name
        return _numpy_call(np.transpose, (self,), {}, "np.transpose")

    def __getitem__(self, index):
        return _numpy_call(_getitem, (self, index), {}, "getitem")

    def __setitem__(self, index, value):
        if _active is not None and _active.owns():
            _refuse_write("x[...] =")
        np.ndarray.__setitem__(self.view(np.ndarray), index, value)

    def fill(self, value):  # (zero_ and fill_ write this way)
        if _active is not None and _active.owns():
            _refuse_write("fill")
        np.ndarray.fill(self.view(np.ndarray), value)

    def __bool__(self):
        _refuse("bool()")
        return bool(self.view(np.ndarray))

    def __float__(self):
        _refuse("float()")
        return float(self.view(np.ndarray))

    def __int__(self):
        _refuse("int()")
        return int(self.view(np.ndarray))

    def __index__(self):
        _refuse("an index")
        return self.view(np.ndarray).__index__()

    def item(self, *args):
        _refuse(".item()")
        return self.view(np.ndarray).item(*args)

    def tolist(self):
        _refuse(".tolist()")
        return self.view(np.ndarray).tolist()


def _copy(a: np.ndarray, dtype: Any, where: str) -> np.ndarray:
    """What ``Tensor(a)`` does to an array: a checked copy (in `dtype` if given)."""
    return sys.modules[Tensor.__module__]._to_array(a, dtype, where)


# numpy calls that return a Python value without reading any values (allowed on traced data)
_SHAPE_READS = (np.shape, np.ndim, np.size, np.iscomplexobj, np.isrealobj, np.result_type)
_SHAPE_READS += (np.may_share_memory, np.shares_memory)
# numpy calls whose result's shape depends on the values
_VALUE_SHAPED = (np.nonzero, np.flatnonzero, np.argwhere, np.unique, np.extract, np.compress)


def _masks(index: Any) -> bool:
    """Whether an index holds a boolean mask made from traced data (its result's shape follows the values)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, Traced) and i.dtype == bool for i in parts)


def _value_shaped(what: str) -> str:
    where = _user_read() or "tinygraph"
    return (
        f"tg.compile: {what} with a mask made from traced values at {where} gives a result whose shape "
        "depends on the values, which a replay cannot follow; use tg.where (the shape stays), or run it eagerly"
    )


def _getitem(a: np.ndarray, index: Any) -> Any:
    return a[index]


def _plain(x: Any) -> Any:
    return x.view(np.ndarray) if isinstance(x, Traced) else x


_WRITES_FIRST = {np.copyto, np.put, np.place, np.putmask}  # numpy functions that write into their first argument


def _refuse_write(what: str) -> None:
    raise TraceError(
        f"tg.compile: {what} on traced data at {mode.user_frame()}: a write in place is not traced "
        "(zero_, fill_, copy_, +=, out=); compute a new array (x = x + y, not x += y on .data), or update "
        "parameters and buffers outside the compiled function"
    )


def _as_function(name: str) -> Any:
    """ndarray method `name` on a traced array as numpy's function of that name (recorded as any numpy call:
    numpy runs the method in C, or with ufuncs into ``out=``, where the trace would not see it)."""
    fn = getattr(np, name)

    def method(self, *args, **kwargs):
        return _numpy_call(fn, (self, *args), kwargs, f".{name}")

    method.__name__ = name
    return method


_METHODS = (
    "argmax argmin argsort cumprod cumsum diagonal dot mean prod repeat round searchsorted std swapaxes trace var"
)
for _name in _METHODS.split():
    setattr(Traced, _name, _as_function(_name))


def _numpy_call(fn: Any, args: tuple, kwargs: dict, name: str) -> Any:
    tracer = _active
    if tracer is None or not tracer.owns():  # a traced array kept past its trace: plain numpy
        return fn(*[_plain(a) for a in args], **{k: _plain(v) for k, v in kwargs.items()})
    return tracer.numpy_call(fn, args, kwargs, name)


def tracing() -> bool:
    """Whether this thread is tracing a function now."""
    return _active is not None and _active.owns()


# ----- the tracer -----------------------------------------------------------------------------------------


def _op_classes() -> list[type]:
    out, todo = [], [Function]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            out.append(sub)
            todo.append(sub)
    return [c for c in out if "forward" in c.__dict__]


def _key(a: np.ndarray) -> tuple:
    return (a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str)


class Tracer:
    """Records one run of a function (a context manager; see the module's docstring)."""

    def __init__(self, inputs: list) -> None:
        self.trace = Trace()
        self.thread = threading.get_ident()
        self.depth = 0
        self.slot_of: dict = {}  # id(traced array) -> Slot
        self.by_key: dict = {}  # (pointer, shape, strides, dtype) -> Slot, to recognise np.asarray views
        self.keyed = 0  # the slots entered in by_key so far (it is filled when first needed)
        self.arrays: list = []  # every array recorded, kept alive so that ids stay unique
        self.tensor_slot: dict = {}  # id(tensor made before the trace) -> its current Slot
        self.view_of: dict = {}  # id(Slot) -> the Traced array handed out for it
        self.made: dict = {}  # id -> tensor made during the trace (constants unless their data is traced)
        self.unsupported: str | None = None
        for i, t in enumerate(inputs):
            if isinstance(t, Tensor):
                s = self._slot("input", i, _get(t), t.requires_grad)
                self.trace.inputs.append(s)
                self.tensor_slot[id(t)] = s
            elif isinstance(t, np.ndarray):
                self.trace.inputs.append(self._slot("array", i, t))
            else:
                self.trace.inputs.append(None)
        self.keep = list(inputs)

    def call_args(self, args: tuple) -> tuple:
        """The arguments to trace the function on: arrays as their traced views, the rest as given."""
        return tuple(
            self.view_of[id(s)] if s is not None and s.kind == "array" else a for a, s in zip(args, self.trace.inputs)
        )

    def owns(self) -> bool:
        return threading.get_ident() == self.thread

    # ----- slots
    def _slot(self, kind: str, source: Any, arr: np.ndarray, requires_grad: bool = False) -> Slot:
        s = Slot(len(self.trace.slots), kind, source, arr, requires_grad)
        self.trace.slots.append(s)
        if kind == "leaf":
            self.trace.leaves.append(s)
        traced = arr.view(Traced)
        self.slot_of[id(traced)] = s
        self.slot_of[id(arr)] = s  # (an op's forward hands `apply` the plain array)
        self.arrays += [arr, traced]
        self.view_of[id(s)] = traced
        return s

    def lookup(self, a: Any) -> Slot | None:
        if not isinstance(a, np.ndarray):
            return None
        s = self.slot_of.get(id(a))
        if s is None:  # a view made by np.asarray (it drops the subclass): known by its memory and layout
            slots = self.trace.slots
            for k in range(self.keyed, len(slots)):
                self.by_key[_key(self.view_of[id(slots[k])])] = slots[k]
            self.keyed = len(slots)
            s = self.by_key.get(_key(a))
        return s

    def spec(self, a: Any) -> tuple:
        """An argument as ("slot", Slot), ("list", [...]) or ("const", value)."""
        s = self.lookup(a)
        if s is not None:
            return ("slot", s)
        if isinstance(a, Traced):
            raise TraceError(
                f"tg.compile: an array computed from traced data in a way the trace cannot follow "
                f"(shape {a.shape}) reached a recorded step; compute it with tinygraph ops"
            )
        if isinstance(a, (list, tuple)) and any(isinstance(x, np.ndarray) and self.lookup(x) for x in a):
            return ("list", (type(a), [self.spec(x) for x in a]))
        if isinstance(a, Tensor):
            raise Unsupported("a Tensor reached a recorded numpy call")
        return ("const", a)

    def result(self, out: Any, step_out: Step) -> tuple:
        """Record `step_out` with its result `out`: (the plain array, its traced view)."""
        arr = out if type(out) is np.ndarray else np.asarray(out)
        s = self._slot("step", step_out, arr)
        s.producer = step_out
        step_out.out = s
        self.trace.steps.append(step_out)
        return arr, self.view_of[id(s)]

    # ----- the hooks
    def numpy_call(self, fn: Any, args: tuple, kwargs: dict, name: str) -> Any:
        if fn in _VALUE_SHAPED or (fn is _getitem and _masks(args[1])):
            raise TraceError(_value_shaped(name))
        if "out" in kwargs or fn in _WRITES_FIRST:
            _refuse_write(f"{name}(..., out=...)" if "out" in kwargs else name)
        specs = [self.spec(a) for a in args]
        kw = {k: self.spec(v) for k, v in kwargs.items()}
        plain_args = [_unlist(a) for a in args]
        out = fn(*plain_args, **{k: _plain(v) for k, v in kwargs.items()})
        if isinstance(out, tuple) and any(isinstance(o, np.ndarray) for o in out):
            raise TraceError(f"tg.compile: {name} on traced data returns several arrays, which is not traced")
        if not isinstance(out, (np.ndarray, np.generic)):
            if fn not in _SHAPE_READS:  # a value read into Python (np.array_equal): only tinygraph's checks may
                _refuse(f"{name}()")
            return out
        step = Step("numpy", fn, specs, None, kwargs=kw, wrap=type(out) is not np.ndarray, line=name)
        return self.result(out, step)[1]

    def op_forward(self, cls: type, original: Any, ctx: Any, values: tuple) -> Any:
        if self.depth or not self.owns():
            return original(ctx, *values)
        if not cls.arrays:
            raise Unsupported(f"custom op {cls.name!r} (arrays = False) is not traced")
        if cls.name == "getitem" and _masks(values[1]):
            raise TraceError(_value_shaped("indexing"))
        specs = [self.spec(v) for v in values]
        self.depth += 1
        try:
            out = original(ctx, *[_unlist(v) for v in values])
        finally:
            self.depth -= 1
        if isinstance(out, Tensor):
            self.unsupported = f"op {cls.name!r} returns a Tensor from forward"
            return out
        needs = ctx.needs_input_grad if isinstance(ctx, Context) else None
        if needs is not None and any(need and self.aliases_a_graph(t) for need, t in zip(needs, ctx.args)):
            self.unsupported = f"op {cls.name!r} is given a leaf made inside the function from a traced tensor's data"
        step = Step("op", cls, specs, None, needs=needs, wrap=type(out) is not np.ndarray, line=cls.name)
        return self.result(out, step)[0]  # apply wraps it in the output tensor (data_set swaps in the view)

    def aliases_a_graph(self, t: Any) -> bool:
        """Whether `t`, which requires grad, is a leaf made inside the function from the data of a tensor that
        gradients flow through (``y.detach().requires_grad_()``, say). Its array is that tensor's slot, and the
        program would send the gradient on through it, where eager stops at the leaf (its own ``.grad``)."""
        if type(t) is Handle:
            t = t.leaf()
        if not isinstance(t, Tensor) or t._node is not None or id(t) in self.tensor_slot or id(t) not in self.made:
            return False
        s = self.lookup(_get(t))
        if s is None:
            return False
        if s.kind != "step":
            return s.requires_grad
        return s.producer is not None and s.producer.kind == "op" and s.producer.needs is not None

    def data_get(self, t: Tensor) -> Any:
        arr = _get(t)
        if type(arr) is Traced or not self.owns():
            return arr
        s = self.tensor_slot.get(id(t))
        if s is None:
            if id(t) in self.made:
                return arr  # a constant made inside the function
            if type(t) is Handle:
                leaf = t.leaf()
                if leaf is not None and id(leaf) in self.tensor_slot:
                    return self.view_of[id(self.tensor_slot[id(leaf)])]
            s = self._slot("leaf", t, arr, t.requires_grad)
            self.tensor_slot[id(t)] = s
            self.keep.append(t)
        return self.view_of[id(s)]

    def data_set(self, t: Tensor, value: Any) -> None:
        if not self.owns():
            return _set(t, value)
        try:
            _get(t)
        except AttributeError:  # a tensor being made: its data is what it is given
            self.made[id(t)] = t
            if type(value) is np.ndarray:
                s = self.lookup(value)
                if s is not None:
                    value = self.view_of[id(s)]
            return _set(t, value)
        # a tensor made before the trace is assigned: record it, leave the tensor as it is
        if id(t) in self.made:
            return _set(t, value)
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        spec = self.spec(arr)
        if spec[0] != "slot":
            spec = ("slot", self._slot("step", None, np.asarray(arr)))
            spec[1].producer = Step("numpy", np.array, [("const", np.array(arr))], spec[1], line="constant")
            self.trace.steps.append(spec[1].producer)
        step = Step("assign", t, [spec], None, line="assign")
        self.trace.steps.append(step)
        self.tensor_slot[id(t)] = spec[1]
        self.keep.append(t)

    def module_call(self, module: Any) -> None:
        if self.owns() and all(m is not module for m, _ in self.trace.modules):
            self.trace.modules.append((module, module.training))

    # ----- installing and removing the hooks
    def __enter__(self) -> Tracer:
        global _active
        if not _lock.acquire(blocking=False):
            raise Busy("another thread is tracing")
        self.collector_was_on = gc.isenabled()
        gc.disable()
        _active = self
        self.rng_state = _random.generator().bit_generator.state
        tracer = self
        self.saved_forwards = []
        for cls in _op_classes():
            original = cls.__dict__["forward"]
            fn = original.__func__ if isinstance(original, staticmethod) else original

            def forward(ctx, *values, _cls=cls, _fn=fn):
                return tracer.op_forward(_cls, _fn, ctx, values)

            self.saved_forwards.append((cls, original))
            cls.forward = staticmethod(forward)
        Tensor._data = property(tracer.data_get, tracer.data_set)
        self.saved_numpy = Tensor.numpy, Tensor.__array__

        def numpy(t):
            if type(_get(t)) is Traced or id(t) in tracer.tensor_slot:
                _refuse(".numpy()")
            return tracer.saved_numpy[0](t)

        def array(t, dtype=None, copy=None):
            if type(_get(t)) is Traced or id(t) in tracer.tensor_slot:
                _refuse("np.asarray(tensor)")
            return tracer.saved_numpy[1](t, dtype, copy)

        Tensor.numpy, Tensor.__array__ = numpy, array
        from tinygraph.nn.module import Module

        self.saved_call = Module.__call__

        def call(module, *args, **kwargs):
            tracer.module_call(module)
            return tracer.saved_call(module, *args, **kwargs)

        Module.__call__ = call
        tensor_module = sys.modules[Tensor.__module__]
        self.saved_to_array = tensor_module._to_array

        def to_array(data, dtype=None, where="Tensor"):  # tg.tensor(traced data) copies it: a step too
            src = data._data if isinstance(data, Tensor) else data
            if isinstance(src, Traced) and tracer.owns():
                return tracer.numpy_call(_copy, (src, dtype, where), {}, "tg.tensor")
            return tracer.saved_to_array(data, dtype, where)

        tensor_module._to_array = to_array
        self.saved_draw = factories._draw

        def draw(where, size, dtype, fn):  # tg.rand, tg.randn: a step, so that every call draws anew
            if not tracer.owns():
                return tracer.saved_draw(where, size, dtype, fn)
            return tracer.numpy_call(tracer.saved_draw, (where, size, dtype, fn), {}, f"tg.{where}")

        factories._draw = draw
        return self

    def __exit__(self, *exc: Any) -> None:
        global _active
        from tinygraph.nn.module import Module

        try:
            factories._draw = self.saved_draw
            sys.modules[Tensor.__module__]._to_array = self.saved_to_array
            Module.__call__ = self.saved_call
            Tensor.numpy, Tensor.__array__ = self.saved_numpy
            Tensor._data = _DATA
            for cls, original in self.saved_forwards:
                cls.forward = original
            if exc[0] is None or issubclass(exc[0], (TraceError, Unsupported)):
                _random.generator().bit_generator.state = self.rng_state
            else:  # the function raised, as its eager call would: keep what that call did before it (draws made,
                for step in self.trace.steps:  # tensors assigned, batch norm's running statistics say)
                    if step.kind == "assign":
                        _set(step.fn, _plain(self.view_of[id(step.args[0][1])]))
            for t in self.keep:  # handles made during the trace hold plain arrays again
                if isinstance(t, Tensor) and t._handle is not None and type(t._handle._data) is Traced:
                    t._handle._data = t._data
        finally:
            _active = None
            if self.collector_was_on:
                gc.enable()
            _lock.release()


def _unlist(a: Any) -> Any:
    if isinstance(a, (list, tuple)) and any(isinstance(x, Traced) for x in a):
        return type(a)(_plain(x) for x in a)
    return _plain(a)
