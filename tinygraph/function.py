"""The autograd engine: `Function`, its `Context` (the graph node), grad mode and the backward walk.

Every op, built-in or user-defined, is a `Function` subclass with a static
``forward(ctx, *inputs)`` computing an ndarray and a static
``backward(ctx, grad)`` returning one gradient per input, written in tinygraph
ops so that gradients are graphs too (``create_graph=True``).
"""

from __future__ import annotations

import functools
import gc
import itertools
import threading
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from tinygraph.tensor import Tensor, _clock

# ----- grad mode (per thread) --------------------------------------------------------------


class _GradMode(threading.local):
    enabled = True
    anomaly = False


_mode = _GradMode()

# How many grad-mode and anomaly switches are active, over all threads. While there are none,
# every thread records graphs without anomaly checks, and `Function.apply` (run for every op) skips
# reading the per-thread state, which costs more than the op's own bookkeeping.
_switches = 0
_switches_lock = threading.Lock()


def _count_switch(delta: int) -> None:
    global _switches
    with _switches_lock:
        _switches += delta


def is_grad_enabled() -> bool:
    """Whether ops record a graph in this thread."""
    return _mode.enabled


class _ModeSwitch:
    """Set one field of this thread's mode inside a ``with`` block, or around each call of a function.

    Re-entrant (the values it replaced are stacked); the decorator makes a fresh switch per call,
    so one decorated function can run in several threads at once.
    """

    def __init__(self, field: str, value: bool) -> None:
        self._field = field
        self._value = value
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        _count_switch(1)
        self._prev.append(getattr(_mode, self._field))
        setattr(_mode, self._field, self._value)

    def __exit__(self, *exc: Any) -> None:
        setattr(_mode, self._field, self._prev.pop())
        _count_switch(-1)

    def __call__(self, func: Callable) -> Callable:
        field, value = self._field, self._value

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with _ModeSwitch(field, value):
                return func(*args, **kwargs)

        return wrapper


class set_grad_enabled(_ModeSwitch):
    """Turn graph recording on or off, as a context manager or a decorator.

    Grad mode is per thread: one thread's ``no_grad`` does not affect another's.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        super().__init__("enabled", self.mode)


class no_grad(set_grad_enabled):
    """Run without recording a graph (``with tg.no_grad():`` or ``@tg.no_grad()``).

    >>> import tinygraph as tg
    >>> x = tg.tensor(2.0, requires_grad=True)
    >>> with tg.no_grad():
    ...     y = x * x
    >>> y.requires_grad
    False
    """

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record a graph again inside a ``no_grad`` block (context manager or decorator)."""

    def __init__(self) -> None:
        super().__init__(True)


# ----- anomaly mode -----------------------------------------------------------------------------


class AnomalyError(RuntimeError):
    """Raised under ``detect_anomaly()`` at the first NaN or infinity an op produces.

    Besides the message it carries: ``node``, the offending graph node (a
    `Context`, or None when no graph was being recorded, e.g. under
    ``no_grad``), which the viz pictures can ``mark=``; ``op``, the op's name;
    ``pass_``, ``"forward"`` or ``"backward"``; ``created_at``, the line of your
    code that created the op; ``input_index``, for a backward anomaly, the input
    whose gradient went bad (None for a forward one); ``value``, what went bad
    (``"NaN"``, ``"inf"`` or ``"-inf"``).

    >>> import tinygraph as tg
    >>> x = tg.tensor([4.0, 0.0], requires_grad=True)
    >>> y = tg.sqrt(x).sum()
    >>> try:
    ...     with tg.detect_anomaly():
    ...         y.backward()
    ... except tg.AnomalyError as e:
    ...     print(e.pass_, e.op, e.value, e.input_index)
    backward sqrt inf 0
    """

    def __init__(
        self,
        message: str,
        node: Context | None = None,
        op: str = "",
        pass_: str = "",
        created_at: str = "",
        input_index: int | None = None,
        value: str = "",
    ) -> None:
        super().__init__(message)
        self.node = node
        self.op = op
        self.pass_ = pass_
        self.created_at = created_at
        self.input_index = input_index
        self.value = value


class detect_anomaly(_ModeSwitch):
    """Check every op's forward output and every gradient for NaN or inf; raise at the first.

    The error names the op, the pass (forward or backward), the line of your code
    that created the op, and summary statistics of the op's inputs. It slows every
    op down, so use it to hunt a NaN, not for training. Per thread, like grad mode.

    >>> import tinygraph as tg
    >>> x = tg.tensor([1.0, 0.0], requires_grad=True)
    >>> with tg.detect_anomaly():
    ...     y = tg.log(x)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tinygraph.function.AnomalyError: forward pass of op 'log' produced -inf ...
    """

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        super().__init__("anomaly", enabled)


_PACKAGE_DIR = __file__.rsplit("/", 1)[0].rsplit("\\", 1)[0]


def _user_frame() -> str:
    """The first caller outside tinygraph, as 'file:line in function: source'."""
    import linecache
    import sys

    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename.startswith(_PACKAGE_DIR):
        f = f.f_back
    if f is None:
        return "<unknown>"
    line = linecache.getline(f.f_code.co_filename, f.f_lineno).strip()
    return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}" + (f": {line}" if line else "")


def _summary(x: Any) -> str:
    if not isinstance(x, (Tensor, np.ndarray)):
        return repr(x) if isinstance(x, (int, float, str, type(None))) else type(x).__name__
    a = x._data if isinstance(x, Tensor) else x
    if a.dtype.kind not in "fiub" or a.size == 0:
        return f"shape {a.shape} {a.dtype}"
    with np.errstate(all="ignore"):
        finite = np.isfinite(a) if a.dtype.kind == "f" else np.ones(a.shape, bool)
        ok = a[finite]
        stats = f"min {ok.min():.4g}, max {ok.max():.4g}, mean {ok.mean():.4g}" if ok.size else "no finite values"
    bad = ""
    if a.dtype.kind == "f" and ok.size != a.size:
        counts = (("NaN", np.isnan(a)), ("inf", np.isposinf(a)), ("-inf", np.isneginf(a)))
        bad = "".join(f", {int(m.sum())} {label}" for label, m in counts if m.any())
    return f"shape {a.shape} {a.dtype}: {stats}{bad}"


def _first_bad(a: np.ndarray) -> str | None:
    if a.dtype.kind != "f" or np.isfinite(a).all():
        return None
    if np.isnan(a).any():
        return "NaN"
    return "-inf" if np.isneginf(a).any() else "inf"


def _anomaly_forward(name: str, args: tuple, out: np.ndarray, ctx: Any) -> None:
    where = _user_frame()
    node = ctx if isinstance(ctx, Context) else None
    if node is not None:
        node.created_at = where
    bad = _first_bad(out)
    if bad:
        inputs = "\n".join(f"  input {i}: {_summary(a)}" for i, a in enumerate(args))
        raise AnomalyError(
            f"forward pass of op {name!r} produced {bad} (output {_summary(out)})\n  created at {where}\n{inputs}",
            node=node,
            op=name,
            pass_="forward",
            created_at=where,
            value=bad,
        )


def _anomaly_backward(node: Context, i: int, g: Tensor, grad_out: Tensor | None = None) -> None:
    bad = _first_bad(g._data)
    if bad:
        inputs = "\n".join(f"  input {j}: {_summary(a)}" for j, a in enumerate(node.inputs))
        where = node.__dict__.get(
            "created_at", "<unknown: the op was created outside detect_anomaly; run the forward pass inside it too>"
        )
        incoming = "" if grad_out is None else f"\n  gradient of its output: {_summary(grad_out)}"
        raise AnomalyError(
            f"backward pass of op {node.name!r} produced {bad} in the gradient for input {i} "
            f"({_summary(g)})\n  created at {where}\n{inputs}{incoming}",
            node=node,
            op=node.name,
            pass_="backward",
            created_at=where,
            input_index=i,
            value=bad,
        )


# ----- the graph node --------------------------------------------------------------------------


class Context:
    """The node an op leaves in the graph: which op, its inputs, and what its backward needs.

    ``ctx.save_for_backward(*tensors)`` in forward, ``ctx.saved_tensors`` in backward;
    ``ctx.needs_input_grad[i]`` says whether input i wants a gradient; ``ctx.output``
    is the tensor the op produced (set only while its backward runs). Other
    attributes (axes, shapes) may be set freely.

    Only `Function.apply` makes nodes, and it sets every field: ``fn``, ``inputs``,
    ``needs_input_grad``, ``_saved`` and ``_versions`` (what save_for_backward kept, and the
    versions of the saved tensors then), ``_out_version`` (the output's version, for ops that
    save their output), ``_stamp`` (the write clock when something was guarded: None for
    nothing, -1 to always check), ``_seq`` (creation order: a node is always made after the
    nodes of its inputs, so backward can visit nodes from the newest down without sorting the
    graph), ``output`` and ``released``. (There is no ``__init__``: without one, ``Context()``
    takes about 300 CPU instructions fewer than ``object.__new__(Context)``, on every op.)
    """

    __slots__ = (
        "fn",
        "inputs",
        "needs_input_grad",
        "_saved",
        "_versions",
        "_out_version",
        "_stamp",
        "_seq",
        "output",
        "released",
        "__dict__",
    )

    @property
    def name(self) -> str:
        return self.fn.name

    def save_for_backward(self, *items: Any) -> None:
        """Keep tensors (or arrays) for backward; writing to a saved tensor's data later is an error."""
        written = snapped = False
        for t in items:
            if isinstance(t, Tensor):
                t._watch += 1
                if t._snap is not None:
                    snapped = True
                elif t._version:
                    written = True
        self._saved = items
        # the version of each saved tensor (0 for other items): all 0 for fresh tensors, so shared
        if snapped:
            # first notice writes already made through a handed-out array
            self._versions = tuple([t._current_version() if isinstance(t, Tensor) else 0 for t in items])
        elif written or len(items) >= len(_ZEROS):
            self._versions = tuple([t._version if isinstance(t, Tensor) else 0 for t in items])
        else:
            self._versions = _ZEROS[len(items)]
        # an array handed out before this save can be written through without moving the clock
        self._stamp = -1 if snapped else _clock.writes

    @property
    def saved_tensors(self) -> tuple:
        if self.released:
            raise RuntimeError(_released_message(self))
        return self._saved

    def _check_saved(self, out: Tensor) -> None:
        # unchanged version and no handed-out .data to compare: nothing can have been written
        for t, v in zip(self._saved, self._versions):
            if isinstance(t, Tensor) and (t._snap is not None or t._version != v) and t._current_version() != v:
                raise RuntimeError(self._modified_message(t, out, v))
        v = self._out_version
        if v is not None and (out._snap is not None or out._version != v) and out._current_version() != v:
            raise RuntimeError(self._modified_message(out, out, v))

    def _modified_message(self, t: Tensor, out: Tensor, v: int) -> str:
        """Which op saved `t`, where that op was created, and what changed `t` since."""
        if t is out:
            what = "its output"
        else:
            idx = [i for i, a in enumerate(self.inputs) if a is t]
            what = f"its input {idx[0]}" if idx else "a tensor"
        how, site = getattr(t, "_last_write", None) or ("a write to its data", None)
        if site:
            how += f" (the array was handed out at {site})" if "handed out" in how else f" at {site}"
        created = self.__dict__.get("created_at")
        hint = (
            "."
            if created
            else "; run the forward pass and the write under tg.detect_anomaly() to see where "
            "the op was created and where the data was changed."
        )
        lines = [
            f"backward: op {self.name!r} saved {what} (shape {t.shape}, {t.dtype}) for its gradient, "
            f"and it was modified in place after the forward pass (version {v} -> {t._version}) by {how}.",
            f"  op {self.name!r} was created at {created}" if created else "",
            "  Recompute the forward pass after changing the data, or change a copy instead" + hint,
        ]
        return "\n".join(line for line in lines if line)

    def _release(self, out: Tensor) -> None:
        """Drop what backward needed: the saved tensors (no longer watched for writes), custom attributes."""
        saved = self._saved
        if saved:
            for t in saved:
                if isinstance(t, Tensor):
                    t._watch -= 1
                    if not t._watch:
                        t._snap = None
            self._saved = self._versions = ()
        if self._out_version is not None:
            self._out_version = None
            out._watch -= 1
            if not out._watch:
                out._snap = None
        self._stamp = None
        self.released = True
        if not self.fn._numpy_forward:  # built-in ops keep what they save in _saved, not in attributes
            self.__dict__.clear()

    def __repr__(self) -> str:
        shapes = ", ".join(str(t.shape) if isinstance(t, Tensor) else type(t).__name__ for t in self.inputs)
        return f"<{self.name} node ({shapes})>"


class _NoGradContext:
    """The throwaway ctx given to forward when no graph is recorded."""

    __slots__ = ("__dict__",)
    needs_input_grad: tuple = ()

    def save_for_backward(self, *items: Any) -> None:
        pass


_NO_GRAD_CTX = _NoGradContext()
_counter = itertools.count()  # the nodes' creation numbers
# needs_input_grad of one- and two-input ops, shared by their nodes
_ONE, _BOTH, _FIRST, _SECOND = (True,), (True, True), (True, False), (False, True)
_ndarray = np.ndarray
_ZEROS = tuple((0,) * n for n in range(8))
# Small tuples of flags and versions, shared by all nodes: a long graph then holds fewer objects
# for Python's cycle collector to traverse (its full passes grow with the number of live objects).
_interned: dict = {}
_wrap = Tensor._make
_new = object.__new__


def _released_message(node: Context) -> str:
    return (
        f"backward: the graph through op {node.name!r} was already released by an earlier backward; "
        "pass retain_graph=True to the first backward to go through it twice"
    )


class Function:
    """Base class of every op. Subclass it with two static methods and call ``.apply``.

    ``forward(ctx, *inputs)`` receives the inputs as given (Tensors and other
    values) and returns an ndarray (or a Tensor). ``backward(ctx, grad)``
    receives the gradient of the output as a Tensor and returns one gradient
    per forward input (``None`` where there is none). Write backward in
    tinygraph ops and the op is twice differentiable.

    >>> import numpy as np, tinygraph as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x.data ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return grad * 3 * x * x
    >>> x = tg.tensor(2.0, requires_grad=True)
    >>> (g,) = tg.grad(Cube.apply(x), [x], create_graph=True)
    >>> g.item(), tg.grad(g, [x])[0].item()
    (12.0, 12.0)
    """

    name: str = ""
    # Built-in forwards use numpy only, so they need not run under no_grad.
    _numpy_forward = False
    # A built-in op may also give its vjp on raw ndarrays, ``numpy_backward(ctx, grad_array)``,
    # returning arrays (or None) like ``backward``; the engine uses it when no graph of the gradient
    # is wanted (no create_graph), which skips a Tensor per vjp step. ``backward`` stays the
    # definition: tests/test_numpy_backward.py checks that the two agree for every op. It may read
    # ``ctx._saved`` directly: the walk has already checked that the node was not released.
    numpy_backward = None
    # Ops whose backward reads ctx.output (exp, tanh, ...): the output is guarded against writes too.
    saves_output = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:
            cls.name = cls.__name__

    @staticmethod
    def forward(ctx: Any, *inputs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Tensor) -> Any:
        raise NotImplementedError(f"op {ctx.name!r} has no backward")

    @classmethod
    def apply(cls, *args: Any) -> Tensor:
        # This runs for every op and every vjp op, so it is kept flat: the common no-graph case
        # (vjps without create_graph, inference) makes no Context and one Tensor.
        if _switches:
            enabled, anomaly = _mode.enabled, _mode.anomaly
        else:  # no thread has switched grad mode or anomaly mode: the defaults hold everywhere
            enabled, anomaly = True, False
        needs = None
        n = len(args)
        if enabled:
            if n == 2:  # most ops: one of the shared pairs
                x, y = args
                if isinstance(x, Tensor) and x.requires_grad:
                    needs = _BOTH if isinstance(y, Tensor) and y.requires_grad else _FIRST
                elif isinstance(y, Tensor) and y.requires_grad:
                    needs = _SECOND
            elif n == 1:
                x = args[0]
                if isinstance(x, Tensor) and x.requires_grad:
                    needs = _ONE
            else:
                for a in args:
                    if isinstance(a, Tensor) and a.requires_grad:
                        needs = tuple([isinstance(b, Tensor) and b.requires_grad for b in args])
                        if len(needs) <= 4:
                            needs = _interned.setdefault(needs, needs)
                        break
        builtin = cls._numpy_forward
        if needs is None:
            # built-in forwards set nothing on a ctx that records nothing, so they share one
            ctx = _NO_GRAD_CTX if builtin else _NoGradContext()
        else:
            # the node (its fields are described in Context)
            ctx = Context()
            ctx.fn = cls
            ctx.inputs = args
            ctx.needs_input_grad = needs
            ctx._saved = ctx._versions = ()
            ctx._out_version = ctx._stamp = ctx.output = None
            ctx._seq = next(_counter)
            ctx.released = False
        try:
            if builtin:
                # one and two inputs (most ops) spelled out: a call with *args builds another tuple
                if n == 2:
                    out = cls.forward(ctx, args[0], args[1])
                elif n == 1:
                    out = cls.forward(ctx, args[0])
                else:
                    out = cls.forward(ctx, *args)
            else:
                with set_grad_enabled(False):
                    out = cls.forward(ctx, *args)
        except (ValueError, IndexError) as e:
            raise _op_error(cls.name, args, e) from None
        if type(out) is not _ndarray:
            out = out._data if isinstance(out, Tensor) else np.asarray(out)
        if anomaly:
            _anomaly_forward(cls.name, args, out, ctx)
        if needs is None:
            return _wrap(out, None)
        # (a built-in op given a float input that requires grad returns floats by numpy's promotion rules)
        if not builtin and out.dtype.kind != "f":
            raise TypeError(f"{cls.name}: forward returned dtype {out.dtype}; a differentiable op must return floats")
        # the output (this is Tensor._make without the call)
        result = _new(Tensor)
        result._data = out
        result._node = ctx
        result.requires_grad = True
        result.grad = result.name = result._snap = None
        result._version = result._watch = 0
        result._retain = False
        if cls.saves_output:
            result._watch = 1
            ctx._out_version = 0
            if ctx._stamp is None:
                ctx._stamp = _clock.writes
        return result


def _describe(args: Sequence[Any]) -> str:
    parts = []
    for a in args:
        if isinstance(a, (Tensor, np.ndarray)):
            parts.append(str(tuple(a.shape)))
    return " and ".join(parts)


def _op_error(name: str, args: Sequence[Any], e: Exception) -> Exception:
    msg = str(e)
    if msg.startswith(f"{name}:"):
        return e
    return type(e)(f"{name}: {_describe(args)}: {msg}")


# ----- the backward walk -----------------------------------------------------------------------


def _topo_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """The tensors with graph nodes that `roots` were made from, in creation order.

    Every tensor comes after the inputs it was made from. The backward walk visits the nodes
    that receive a gradient in the reverse of this order (newest first).
    """
    found: dict = {}
    stack = [r for r in roots if r._node is not None]
    while stack:
        t = stack.pop()
        node = t._node
        if node in found:
            continue
        found[node] = t
        for p in node.inputs:
            if isinstance(p, Tensor) and p._node is not None and p._node not in found:
                stack.append(p)
    return sorted(found.values(), key=_creation)


def _creation(t: Tensor) -> int:
    return t._node._seq


def _seed(out: Tensor, gradient: Any, where: str) -> Tensor:
    if gradient is None:
        if out._data.size != 1:
            raise RuntimeError(
                f"{where}: output has shape {out.shape}; only a scalar output gets the implicit gradient 1. "
                f"Pass a gradient of shape {out.shape}, or reduce the output first (e.g. .sum())"
            )
        return Tensor._make(np.ones_like(out._data))
    g = gradient if isinstance(gradient, Tensor) else Tensor._make(np.asarray(gradient, dtype=out.dtype))
    if g.shape != out.shape:
        raise ValueError(f"{where}: gradient has shape {g.shape} but the output has shape {out.shape}")
    return g


def _run(
    roots: Sequence[Tensor],
    seeds: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    targets: Sequence[Tensor] | None = None,
) -> tuple[dict, dict, dict]:
    """`_walk`, with Python's cycle collector paused.

    The walk allocates many short-lived objects and makes no reference cycles, while each
    collection the allocations would trigger traverses the whole (possibly huge) graph: on a
    200,000-op chain that is a quarter of the backward time.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return _walk(roots, seeds, retain_graph, create_graph, targets)
    finally:
        if paused:
            gc.enable()


def _walk(
    roots: Sequence[Tensor],
    seeds: Sequence[Tensor],
    retain_graph: bool,
    create_graph: bool,
    targets: Sequence[Tensor] | None = None,
) -> tuple[dict, dict, dict]:
    """Walk the graph from `roots` backwards, newest node first.

    Returns (grads, leaves, captured): the summed gradient of every leaf by id,
    the leaf tensors by id, and the gradients of the non-leaf `targets` by id.
    Without `targets` every node that receives a gradient runs; with them, only
    nodes that lead to one.

    A node is made after the nodes of its inputs, so taking the pending node created last
    (a heap on creation order) runs each node after every node that feeds it a gradient,
    without sorting the graph first.
    """
    anomaly = _mode.anomaly
    # Without create_graph the walk carries raw ndarrays (vjps via numpy_backward where an op has
    # one); with it, Tensors, so that the gradient computation is recorded. Anomaly mode uses Tensors.
    raw = not create_graph and not anomaly
    # gradients by node (by id for leaves), summed as they arrive; the walk pops each before its vjp runs
    grads: dict = {}
    leaves: dict = {}
    pending: list = []  # (-creation number, tensor) of the nodes that have a gradient waiting
    for r, s in zip(roots, seeds):
        key = r._node
        if key is None:
            key = id(r)
            leaves[key] = r
        elif key not in grads:
            heappush(pending, (-key._seq, r))
        if raw:
            s = s._data
        grads[key] = grads[key] + s if key in grads else s

    order = None
    needed = None
    wanted: set = set()
    if targets is not None:
        order = _topo_order(roots)
        wanted = {id(t) for t in targets}
        needed = set()
        for t in order:  # every tensor comes after the inputs it was made from
            for p in t._node.inputs:
                if isinstance(p, Tensor) and (id(p) in wanted or (p._node is not None and p._node in needed)):
                    needed.add(t._node)
                    break

    captured: dict = {}
    owned: set = set()  # keys whose summed gradient is an array this walk made, summed into in place
    nxt = None  # the tensor whose node runs next when that is known without the heap (chains)
    with set_grad_enabled(create_graph):
        while nxt is not None or pending:
            if nxt is None:
                t = heappop(pending)[1]
            else:
                t, nxt = nxt, None
            node = t._node
            g = grads.pop(node)
            if targets is None:
                if t._retain:
                    gt = _wrap(np.array(g), None) if raw else g  # a copy, and an array even for 0-d
                    t.grad = gt if t.grad is None else t.grad + gt
            else:  # tg.grad: .grad is left alone, gradients of the targets are captured
                if id(t) in wanted:
                    captured[id(t)] = g
                if node not in needed:
                    continue
            if node.released:
                raise RuntimeError(_released_message(node))
            # the saved tensors are checked for writes only if some data was written since they were saved
            stamp = node._stamp
            if stamp is not None and stamp != _clock.writes:
                node._check_saved(t)
            node.output = t
            # a built-in op's numpy_backward is trusted: one array (or None) per input, of its shape
            trusted = False
            if anomaly:
                # in anomaly mode the vjp's own ops are not checked as forward ops: its result is, below
                _mode.anomaly = False
                try:
                    gs = node.fn.backward(node, g)
                finally:
                    node.output = None
                    _mode.anomaly = anomaly
            elif raw:
                fast = node.fn.numpy_backward
                trusted = fast is not None
                try:
                    gs = fast(node, g) if trusted else _arrays(node.fn.backward(node, _wrap(g, None)))
                finally:
                    node.output = None
            else:
                try:
                    gs = node.fn.backward(node, g)
                finally:
                    node.output = None
            if type(gs) is not tuple:
                gs = (gs,)
            inputs = node.inputs
            if not trusted and len(gs) != len(inputs):
                raise RuntimeError(
                    f"backward of op {node.name!r} returned {len(gs)} gradients for {len(inputs)} inputs"
                )
            if not trusted:
                gs = _checked_grads(node, gs, raw, anomaly, g)
            for p, gp, need in zip(inputs, gs, node.needs_input_grad):
                if gp is None or not need:
                    continue
                key = p._node
                if key is None:
                    key = id(p)
                    leaves[key] = p
                    prev = grads.get(key)
                    if prev is None:
                        grads[key] = gp
                    else:
                        _sum_into(grads, owned, key, prev, gp, raw)
                else:
                    prev = grads.get(key)
                    if prev is None:
                        grads[key] = gp
                        if nxt is None:
                            nxt = p
                        else:
                            heappush(pending, (-key._seq, p))
                    else:
                        _sum_into(grads, owned, key, prev, gp, raw)
            if not retain_graph:
                if node._saved or node._out_version is not None or not node.fn._numpy_forward:
                    node._release(t)
                else:
                    node.released = True
            # the newest pending node runs next: `nxt` goes to the heap unless it is newer than all there
            if nxt is not None and pending and -pending[0][0] > nxt._node._seq:
                heappush(pending, (-nxt._node._seq, nxt))
                nxt = None
    if order is not None and not retain_graph:
        # tg.grad skipped the nodes that lead to no target: their saved data goes too
        for t in order:
            if not t._node.released:
                t._node._release(t)
    if raw:
        # numpy returns scalars, not 0-d arrays, from arithmetic on 0-d arrays: a .grad holds an array
        for key in leaves:
            grads[key] = _wrap(_as_array(grads[key]), None)
        captured = {key: _wrap(_as_array(g), None) for key, g in captured.items()}
    return grads, leaves, captured


def _as_array(g: Any) -> np.ndarray:
    return g if type(g) is _ndarray else np.asarray(g)


def _sum_into(grads: dict, owned: set, key: Any, prev: Any, gp: Any, raw: bool) -> None:
    """grads[key] = prev + gp, for a tensor that feeds several ops.

    The first sum makes a new array, which only this walk holds (a vjp may hand the same array to
    several inputs, so an array it returned is never written to); later sums go into it in place.
    """
    if key in owned and gp.dtype == prev.dtype and gp.shape == prev.shape:
        prev += gp
        return
    total = prev + gp
    grads[key] = total
    if raw and type(total) is _ndarray:  # (0-d sums come back as numpy scalars, which cannot be written)
        owned.add(key)


def _checked_grads(node: Context, gs: tuple, raw: bool, anomaly: bool, g: Any) -> tuple:
    """`_checked_grad` for each input that wants the gradient it was given."""
    return tuple(
        _checked_grad(node, i, p, gp, raw, anomaly, g) if gp is not None and need else None
        for i, (p, gp, need) in enumerate(zip(node.inputs, gs, node.needs_input_grad))
    )


def _checked_grad(node: Context, i: int, p: Tensor, gp: Any, raw: bool, anomaly: bool, g: Any) -> Any:
    """A gradient from a vjp the engine does not trust (custom ops, Tensor vjps): converted and checked."""
    if raw:
        if type(gp) is not np.ndarray:
            gp = gp._data if isinstance(gp, Tensor) else np.asarray(gp, dtype=p.dtype)
        shape = gp.shape
    else:
        if not isinstance(gp, Tensor):
            gp = Tensor._make(np.asarray(gp, dtype=p.dtype))
        if anomaly:
            _anomaly_backward(node, i, gp, g)
        shape = gp._data.shape
    if shape != p._data.shape:
        raise RuntimeError(
            f"backward of op {node.name!r} returned a gradient of shape {shape} for an input "
            f"of shape {p.shape}; a gradient must have its input's shape (sum out broadcast axes)"
        )
    return gp


def _arrays(gs: Any) -> tuple:
    """A Tensor-level vjp's result as ndarrays, for the raw walk."""
    if type(gs) is not tuple:
        gs = (gs,)
    return tuple(g._data if isinstance(g, Tensor) else g for g in gs)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool = False,
    create_graph: bool = False,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of every leaf that requires grad."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        grad_list = [None] * len(roots)
    elif isinstance(grad_tensors, (Tensor, np.ndarray)) or np.isscalar(grad_tensors):
        grad_list = [grad_tensors]
    else:
        grad_list = list(grad_tensors)
    if len(grad_list) != len(roots):
        raise ValueError(f"backward: {len(grad_list)} gradients for {len(roots)} tensors")
    seeds = []
    for r, g in zip(roots, grad_list):
        if not isinstance(r, Tensor):
            raise TypeError(f"backward: expected a Tensor, got {type(r).__name__}")
        if not r.requires_grad:
            raise RuntimeError(
                f"backward: the tensor (shape {r.shape}) does not require grad, so there is no graph to walk; "
                "set requires_grad=True on the inputs you want gradients for (and do not compute under no_grad)"
            )
        seeds.append(_seed(r, g, "backward"))
    grads, leaves, _ = _run(roots, seeds, retain_graph or create_graph, create_graph)
    handed: set = {id(s._data) for s in seeds}
    for key, leaf in leaves.items():
        g = grads[key]
        if not create_graph:
            # g's array may be the seed's, or shared with (or a view of) another leaf's gradient
            if id(g._data) in handed or g._data.base is not None or not g._data.flags.writeable:
                g = Tensor._make(g._data.copy())
            elif g._node is not None:
                g = g.detach()
            handed.add(id(g._data))
        leaf.grad = g if leaf.grad is None else leaf.grad + g


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    materialize_grads: bool = False,
) -> tuple:
    """Gradients of ``outputs`` with respect to ``inputs``, as a tuple; ``.grad`` is left alone.

    An input the outputs do not depend on is an error, unless ``allow_unused``
    (then ``None``, or zeros with ``materialize_grads``).

    >>> import tinygraph as tg
    >>> x = tg.tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.grad(x ** 3, [x], create_graph=True)
    >>> dx.item(), tg.grad(dx, [x])[0].item()
    (27.0, 18.0)
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        gos = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    else:
        gos = list(grad_outputs)
    if len(gos) != len(outs):
        raise ValueError(f"grad: {len(gos)} grad_outputs for {len(outs)} outputs")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so no gradient flows to it")
    seeds, roots = [], []
    for o, go in zip(outs, gos):
        if not isinstance(o, Tensor):
            raise TypeError(f"grad: expected Tensor outputs, got {type(o).__name__}")
        if not o.requires_grad:
            continue
        roots.append(o)
        seeds.append(_seed(o, go, "grad"))
    if retain_graph is None:
        retain_graph = create_graph
    grads, _, captured = _run(roots, seeds, retain_graph, create_graph, ins) if roots else ({}, {}, {})
    out = []
    for i, t in enumerate(ins):
        g = grads.get(id(t)) if t._node is None else captured.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {t.shape}) was not used to compute the outputs; "
                    "pass allow_unused=True to get None for it"
                )
            if materialize_grads:
                g = Tensor._make(np.zeros_like(t._data))
        elif not create_graph and g._node is not None:
            g = g.detach()
        out.append(g)
    return tuple(out)
