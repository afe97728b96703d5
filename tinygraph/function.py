"""`Function`, the base of every op; `Context`, the graph node an op leaves; and `apply`, which records it.

An op's ``backward`` is written in tinygraph's functions: it runs on plain arrays at numpy's speed,
or on Tensors, recording, with ``create_graph=True``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygraph import anomaly, mode
from tinygraph.guard import check_saved, checksum, guarded
from tinygraph.tensor import Handle, Tensor

_state = mode.state
_ndarray = np.ndarray
_new = object.__new__
counter = itertools.count()  # the nodes' creation numbers (`Context.seq`), also for code that makes nodes itself
_ONE, _BOTH, _FIRST, _SECOND = (True,), (True, True), (True, False), (False, True)  # needs_input_grad, shared


class _NoGrad:
    """What forward gets as ``ctx`` when nothing is recorded: it keeps nothing (shared, frozen)."""

    __slots__ = ()
    needs_input_grad: tuple = ()

    def save_for_backward(self, *items: Any) -> None:
        pass


NO_GRAD = _NoGrad()


class Context:
    """The node an op leaves in the graph: which op, its inputs, and what its backward needs.

    Public (the pictures and gradient checking read them): ``fn`` (the op's class), ``name``, ``inputs``,
    ``needs_input_grad``, ``saved_tensors``, ``vjp``, ``output`` (while backward runs), ``released``.
    The engine's: ``args`` (a leaf that requires grad as its `Handle`), ``saved`` and the `guard.Version`
    of each (``versions``), ``output_version``, ``seq`` (the creation number), and under anomaly mode
    ``created_at`` (your line) and ``checksums``. A custom op's forward may set attributes of its own.
    """

    __slots__ = tuple(
        "fn args needs_input_grad saved versions output_version seq output released created_at checksums".split()
    )

    name = property(lambda self: self.fn.name)

    @property
    def inputs(self) -> tuple:
        """The op's arguments as given: the leaves for their handles in ``args`` (a handle whose leaf is gone shows its data)."""
        return tuple([leaf if type(a) is Handle and (leaf := a.leaf()) is not None else a for a in self.args])

    def save_for_backward(self, *items: Any) -> None:
        """Keep tensors (or arrays) for backward; writing to a saved tensor's data later is an error."""
        self.saved = items
        self.versions = versions = []
        for t in items:
            mem = (t._mem or t.memory()) if isinstance(t, Tensor) else None
            versions.append(None if mem is None else mem.save() if mem.handed else mem.version)
        if mode.switches and _state.anomaly:  # (a thread-local read costs 600 instructions)
            arrays = [getattr(t, "_data", t) for t in items]
            self.checksums = [checksum(a) if isinstance(a, np.ndarray) else None for a in arrays]

    @property
    def saved_tensors(self) -> tuple:
        if self.released:
            raise RuntimeError(released_message(self))
        return self.saved

    def vjp(self, out: Tensor, g: Any, release: bool = False) -> tuple:
        """The op's gradients, one per input (None where there is none), for gradient `g` of `out`:
        on arrays for an ndarray `g`, on Tensors (recording) for a Tensor; ``release`` frees what it saved."""
        if self.released:
            raise RuntimeError(released_message(self))
        reads_output, backward = self.fn._for_vjp
        saved = self.saved
        if self.checksums is not None or (reads_output and out._mem is not None):
            check_saved(self, out)
        elif saved:  # (check_saved's test of one saved input, spelled out: it runs for most nodes that save)
            v = self.versions[0]
            if len(saved) > 1 or (v is not None and (saved[0]._mem.handed or saved[0]._mem.version != v)):
                check_saved(self, out)
        inputs = self.args
        if reads_output:
            self.output = out if type(g) is Tensor else out._data
        try:
            if type(g) is Tensor:  # a graph of the gradient is recorded: the vjp gets the Tensors
                gs = backward(self, g, *inputs)
            elif len(inputs) == 2:  # else the arrays; one and two inputs spelled out, as they run for every node
                a, b = inputs
                gs = backward(self, g, a._data if isinstance(a, Tensor) else a, b._data if isinstance(b, Tensor) else b)
            elif len(inputs) == 1:
                gs = backward(self, g, inputs[0]._data)  # (a one-input op's input is a Tensor)
            else:
                gs = backward(self, g, *[a._data if isinstance(a, Tensor) else a for a in inputs])
        finally:
            self.output = None
        if release:  # (`release`, spelled out: it runs for every node)
            self.saved = self.versions = ()
            self.output_version = self.checksums = None
            self.released = True
        return gs if type(gs) is tuple else (gs,)

    def release(self) -> None:
        """Drop what backward needed (after backward has run, unless ``retain_graph``)."""
        self.saved = self.versions = ()
        self.output_version = self.checksums = None
        self.released = True

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in self.inputs)
        return f"<{self.name} node ({shapes})>"


class CustomContext(Context):
    """The node of an op in the README's style (``arrays = False``): its backward gets Tensors, and
    what it returns is checked (one gradient per input, of the input's shape)."""

    __slots__ = ("__dict__",)

    def vjp(self, out: Tensor, g: Any, release: bool = False) -> tuple:
        if self.released:
            raise RuntimeError(released_message(self))
        if self.saved or self.checksums is not None or (out._mem is not None and self.fn.saves_output):
            check_saved(self, out)
        raw = not isinstance(g, Tensor)
        self.output = out
        try:
            with mode.set_grad_enabled(_state.grad_enabled and not raw):
                gs = self.fn.backward(self, Tensor._make(g) if raw else g)
        finally:
            self.output = None
        gs = gs if type(gs) is tuple else (gs,)
        if len(gs) != len(self.args):
            raise RuntimeError(f"backward of op {self.name!r} returned {len(gs)} gradients for {len(self.args)} inputs")
        gs = tuple(_as_gradient(self, p, gp, raw) for p, gp in zip(self.args, gs))
        if release:
            self.release()
        return gs

    def release(self) -> None:
        super().release()
        self.__dict__.clear()


def _as_gradient(node: Context, p: Any, gp: Any, raw: bool) -> Any:
    """A custom op's gradient for input `p`, converted to the walk's kind and checked against p's shape."""
    if gp is None or not isinstance(p, Tensor):
        return None
    arr = gp._data if isinstance(gp, Tensor) else np.asarray(gp, dtype=p.dtype)
    if arr.shape != p._data.shape:
        raise RuntimeError(
            f"backward of op {node.name!r} returned a gradient of shape {arr.shape} for an input "
            f"of shape {p.shape}; a gradient must have its input's shape (sum out broadcast axes)"
        )
    return arr if raw else gp if isinstance(gp, Tensor) else Tensor._make(arr)


def released_message(node: Context) -> str:
    """The error of a vjp run twice without ``retain_graph``."""
    return (
        f"backward: the graph through op {node.name!r} was already released by an earlier backward; "
        "pass retain_graph=True to the first backward to go through it twice"
    )


class _OpClass(type):
    """The class of op classes: it keeps what `apply` and `vjp` read of an op class in a tuple each, in step
    (Python 3.11 reads a class attribute in about 200 instructions, unpacks a tuple in 60: NOTES.md)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        type.__setattr__(cls, name, value)
        cls._cache()

    def __delattr__(cls, name: str) -> None:
        type.__delattr__(cls, name)
        cls._cache()

    def _cache(cls) -> None:
        """Store ``_for_apply`` and ``_for_vjp`` of this class and its subclasses; empty `guard.guarded`'s cache."""
        kind = Context if cls.arrays else CustomContext  # the node it leaves
        type.__setattr__(cls, "_for_apply", (cls.arrays, kind, cls.reads, cls.forward, cls.shares_memory))
        type.__setattr__(cls, "_for_vjp", (cls.saves_output, cls.backward))
        type.__setattr__(cls, "_guards", {})  # per needs_input_grad, the inputs to guard (see `guard.guarded`)
        for sub in cls.__subclasses__():
            sub._cache()


class Function(metaclass=_OpClass):
    """Base class of every op. Subclass it with two static methods and call ``.apply`` (the README's "Custom ops").

    ``forward(ctx, *inputs)`` gets the inputs as given and returns an ndarray, keeping what backward
    needs with ``ctx.save_for_backward(*tensors)``; ``backward(ctx, grad)`` gets a Tensor and returns
    one gradient per input (None where there is none), differentiable if written in tinygraph ops.
    An op with ``arrays = True`` (every built-in) is written on values: ``forward(ctx, *values)`` gets
    ndarrays, ``backward(ctx, grad, *values)`` ndarrays, or Tensors when the gradient's graph is recorded.
    ``reads`` lists, per input, the inputs its gradient reads (writes to them are caught);
    ``saves_output`` says backward reads ``ctx.output``.
    """

    name: str = ""
    arrays = False
    reads: tuple = ()
    saves_output = False
    shares_memory = False  # the output may be a view of input 0 (reshape, transpose, slicing)
    is_random = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__
        cls._cache()

    @staticmethod
    def forward(ctx: Any, *inputs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any, *values: Any) -> Any:
        raise NotImplementedError(f"op {ctx.name!r} has no backward")

    @classmethod
    def apply(cls, *args: Any) -> Any:
        """Run the op on `args`; record a node if grad mode is on and an input requires grad.
        An ``arrays`` op given no Tensor returns a plain ndarray."""
        # This runs for every op, so it is kept flat: one and two inputs (most ops) are spelled out, and
        # forward gets them as they are. While no thread has switched a mode, the defaults hold everywhere.
        enabled, anomalous = (_state.grad_enabled, _state.anomaly) if mode.switches else (True, False)
        plain = False  # no Tensor among the inputs: plain arrays in, a plain array out
        arrays, kind, reads, forward, shares_memory = cls._for_apply
        n = len(args) if arrays else -1  # (a custom op's forward gets the Tensors: the general case)
        needs = x = y = values = None
        leaf = False  # a leaf that requires grad is among the inputs: the node holds its handle
        if n == 2:
            x, y = args
            if isinstance(x, Tensor):
                if isinstance(y, Tensor):
                    if enabled:
                        if x.requires_grad:
                            needs = _BOTH if y.requires_grad else _FIRST
                            leaf = x._node is None or (y.requires_grad and y._node is None)
                        elif y.requires_grad:
                            needs, leaf = _SECOND, y._node is None
                    y = y._data
                elif enabled and x.requires_grad:
                    needs, leaf = _FIRST, x._node is None
                x = x._data
            elif isinstance(y, Tensor):
                if enabled and y.requires_grad:
                    needs, leaf = _SECOND, y._node is None
                y = y._data
            else:
                plain = True
        elif n == 1:
            x = args[0]
            if not isinstance(x, Tensor):
                plain = True
            else:
                if enabled and x.requires_grad:
                    needs, leaf = _ONE, x._node is None
                x = x._data
        else:  # three or more inputs (or a custom op): one pass over them
            values, flags, plain = [], [], n >= 0
            for a in args:
                tensor = isinstance(a, Tensor)
                values.append(a._data if tensor else a)
                flags.append(tensor and enabled and a.requires_grad)
                plain = plain and not tensor
            x = values[0] if values else None
            if True in flags:
                needs, leaf = tuple(flags), True
        if needs is None:
            ctx = NO_GRAD
        else:
            if leaf:
                args = handles(args)
            ctx = kind()  # the node (its fields: `Context`)
            ctx.fn, ctx.args, ctx.needs_input_grad = cls, args, needs
            ctx.saved = ctx.versions = ()
            ctx.output_version = ctx.output = ctx.checksums = None
            ctx.seq, ctx.released = next(counter), False
            ctx.created_at = mode.user_frame() if anomalous else None
            if reads:  # guard the inputs that the needed gradients read
                guard = reads[0] if needs is _FIRST or needs is _ONE else reads[1] if needs is _SECOND else None
                guard = guarded(cls, needs) if guard is None else guard
                t = args[guard[0]] if len(guard) == 1 else None  # (one Tensor saved, spelled out: NOTES.md)
                if type(t) is Tensor and not anomalous:
                    mem = t._mem or t.memory()
                    ctx.saved, ctx.versions = (t,), (mem.save() if mem.handed else mem.version,)
                elif guard:
                    ctx.save_for_backward(*[args[i] for i in guard])
        try:
            if n == 2:
                out = forward(ctx, x, y)
            elif n == 1:
                out = forward(ctx, x)
            elif n >= 0:
                out = forward(ctx, *values)
            else:
                out = _custom_forward(cls, ctx, args)
        except (ValueError, IndexError, TypeError) as e:  # numpy's error, with the op's name and the shapes
            raise _op_error(cls.name, args, e) from None
        if plain:
            return out
        if type(out) is not _ndarray:
            out = np.asarray(out)
        # the output (this is Tensor._make without the call)
        result = _new(Tensor)
        result._data = out
        result.grad = result.name = result._mem = result._handle = None
        result._retain = False
        result._node = None if needs is None else ctx
        result.requires_grad = needs is not None
        if anomalous:
            anomaly.check_forward(cls.name, args, out, None if needs is None else ctx)
            if needs is not None and cls.saves_output:
                ctx.checksums = [*(ctx.checksums or [None] * len(ctx.saved)), checksum(out)]
        if shares_memory and np.may_share_memory(out, x):
            result._mem = args[0].memory()  # a view: writes through either show in both (a handle shares its leaf's)
        return result


class _NoGradContext(_NoGrad):
    """The throwaway ctx a custom op's forward gets when no graph is recorded: it may set attributes."""


def _custom_forward(cls: type, ctx: Any, args: tuple) -> np.ndarray:
    """A custom op's forward: it gets the Tensors, under no_grad, and must return floats if recorded."""
    with mode.set_grad_enabled(False):
        out = cls.forward(_NoGradContext() if ctx is NO_GRAD else ctx, *args)
    out = np.asarray(out._data if isinstance(out, Tensor) else out)
    if ctx is not NO_GRAD and out.dtype.kind != "f":
        raise TypeError(f"{cls.name}: forward returned dtype {out.dtype}; a differentiable op must return floats")
    return out


def handles(args: tuple) -> tuple:
    """`args` with each leaf that requires grad replaced by its handle (see `tinygraph.tensor.Handle`)."""
    return tuple([a.handle() if isinstance(a, Tensor) and a._node is None and a.requires_grad else a for a in args])


def _op_error(name: str, args: Sequence[Any], e: Exception) -> Exception:
    msg = str(e).strip()  # (numpy ends some of its messages with a space)
    if msg.startswith(f"{name}:"):
        return e
    text = f"{name}: {' and '.join(str(tuple(a.shape)) for a in args if isinstance(a, (Tensor, _ndarray)))}: {msg}"
    try:
        return type(e)(text)
    except TypeError:  # a class that takes more than a message (numpy's ufunc-loop errors): its builtin kind
        return next(k for k in (IndexError, ValueError, TypeError) if isinstance(e, k))(text)
