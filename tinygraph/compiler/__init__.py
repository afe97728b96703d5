"""`tg.compile`: trace a function once, then replay it as flat numpy.

>>> import numpy as np, tinygraph as tg
>>> w = tg.tensor([1.0, 2.0], requires_grad=True)
>>> @tg.compile
... def loss_fn(x):
...     return (tg.tanh(x * w) ** 2).sum()
>>> x = tg.tensor([0.5, -1.0])
>>> loss = loss_fn(x)          # traced (run eagerly once, recorded), then replayed
>>> loss.backward()            # w.grad, as eager gives it
>>> eager = (tg.tanh(x * w) ** 2).sum().item()
>>> abs(loss.item() - eager) < 1e-15, loss_fn.traces
(True, 1)

A call with a new signature (the arguments' shapes, dtypes and requires_grad, Python arguments'
values, grad mode; the leaves' shapes and dtypes and the modules' train/eval mode the trace saw)
traces again; a few programs are kept. See the README's "Compiling a step" and `trace`.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygraph import mode
from tinygraph.compiler import trace
from tinygraph.compiler.node import bind, replayer, run
from tinygraph.compiler.program import Program
from tinygraph.compiler.trace import Busy, TraceError, Tracer, Unsupported
from tinygraph.tensor import Tensor

__all__ = ["Compiled", "TraceError", "compile"]

_state = mode.state


def compile(  # noqa: A001 - the API's name
    fn: Callable | None = None, *, cache_size: int = 8, closed_forms: bool = False
) -> Any:
    """Compile `fn` (a function of tensors returning a Tensor or a tuple of Tensors); also a decorator.

    ``step = tg.compile(loss_fn)``; ``loss = step(X, Y)`` gives what ``loss_fn(X, Y)`` gives, and
    ``loss.backward()`` the same ``.grad`` on every leaf loss_fn used (closed-over parameters
    included). Without ``.backward()`` a call is a forward only. ``step.program(X, Y)`` shows the
    program. ``cache_size`` programs are kept (least recently used dropped first).

    ``closed_forms=True`` lets the backward use the closed forms of `tinygraph.compiler.patterns`
    (the course's sigmoid + binary cross-entropy: dZ = A - Y), which round differently from eager's
    chain rule: gradients equal to a few units in the last place, not bit for bit, so a long
    training run drifts apart from eager's. Off by default: the gradients are eager's.
    """
    if fn is None:
        return lambda f: Compiled(f, cache_size, closed_forms)
    return Compiled(fn, cache_size, closed_forms)


class Compiled:
    """A compiled function: a cache of traced programs, keyed by the call's signature.

    ``traces`` counts the traces made; ``eager_reason`` says why the last call ran eagerly (None if
    it was replayed): under ``detect_anomaly()``, or for a function the tracer cannot follow.
    """

    def __init__(self, fn: Callable, cache_size: int = 8, closed_forms: bool = False) -> None:
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.cache_size = cache_size
        self.closed_forms = closed_forms
        self.cache: OrderedDict = OrderedDict()  # signature -> [Program or reason string]
        self.traces = 0
        self.eager_reason: str | None = None
        self._fast: Program | None = None  # the last call's program: its `check` tells whether this call fits it
        self._replay: Callable | None = None  # its `replay` on its first frame, if it has one (`node.replayer`)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:  # keyword arguments as the positional ones they name (a signature is positional)
            args = self._positional(args, kwargs)
        if mode.switches and _state.anomaly:
            self.eager_reason = "detect_anomaly() is on: the call runs eagerly, checked op by op"
            return self.fn(*args)
        if trace.tracing():  # called inside another compiled function's trace: that trace records its ops
            return self.fn(*args)
        grad = _state.grad_enabled if mode.switches else True
        replay = self._replay
        if replay is not None:
            out = replay(args, grad)
            if out is not None:
                self.eager_reason = None
                return out
        fast = self._fast
        if fast is not None and fast.check(args, grad):
            self.eager_reason = None
            return run(fast, args)
        program = self._program(args)
        if isinstance(program, str):
            self.eager_reason = program
            return self.fn(*args)
        self.eager_reason = None
        out = run(program, args)
        if program is not self._fast:
            self._fast, self._replay = program, bind(program)
        return out

    @functools.cached_property
    def _signature(self) -> inspect.Signature:  # fn's, read on the first call with keyword arguments
        return inspect.signature(self.fn)

    def _positional(self, args: tuple, kwargs: dict) -> tuple:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except (TypeError, ValueError) as e:
            raise TypeError(f"tg.compile: {getattr(self.fn, '__name__', 'the function')}: {e}") from None
        bound.apply_defaults()
        if bound.kwargs:
            raise TypeError(
                f"tg.compile: {', '.join(bound.kwargs)} can only be given by keyword; a compiled function's "
                "arguments must be positional-or-keyword"
            )
        return bound.args

    def program(self, *args: Any) -> str:
        """The program a call with these arguments replays, as the Python source it runs."""
        program = self._program(args)
        if isinstance(program, str):
            return f"# runs eagerly: {program}"
        head = ["# inputs:"]
        for s in program.reads:
            what = f"argument {s.source}" if s.kind != "leaf" else f"leaf {s.source.name or ''}".rstrip()
            grad = ", requires grad" if s.requires_grad else ""
            head.append(f"#   v{s.index}: {what} {s.shape} {s.dtype}{grad}")
        consts = [f"#   {k}: {_short(v)}" for k, v in program.consts.items()]
        return "\n".join(head + (["# constants:", *consts] if consts else [])) + "\n" + program.source

    def graph(self, *args: Any) -> Any:
        """The function's output run eagerly, with its graph: what the trace records (for `tinygraph.viz`)."""
        return self.fn(*args)

    # ----- the cache
    def _key(self, args: tuple) -> tuple:
        grad = _state.grad_enabled if mode.switches else True
        parts: list = [grad]
        for a in args:
            if isinstance(a, Tensor):
                d = a._data
                parts.append((d.shape, d.dtype, a.requires_grad, a._node is None))
            elif isinstance(a, np.ndarray):
                parts.append(("array", a.shape, a.dtype))
            else:
                parts.append(_value_key(a))
        parts.append(_repeats(args))
        return tuple(parts)

    def _program(self, args: tuple) -> Any:
        try:
            key = self._key(args)
            hash(key)
        except _Holds as e:
            return str(e)
        except TypeError:
            return "an argument is neither a Tensor, an ndarray nor a hashable Python value"
        return self._lookup(key, args)

    def _lookup(self, key: tuple, args: tuple) -> Any:
        entries = self.cache.get(key)
        if entries is not None:
            self.cache.move_to_end(key)
            for p in entries:
                if isinstance(p, str) or _valid(p, args):
                    return p
        else:
            entries = self.cache[key] = []
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
        try:
            p = self._trace(args, key[0])
        except Busy as e:  # not kept: the next call traces
            return f"{e}: the call runs eagerly"
        entries.insert(0, p)
        del entries[self.cache_size :]
        return p

    def _trace(self, args: tuple, grad: bool) -> Any:
        self.traces += 1
        try:
            with Tracer(list(args)) as tracer:
                out = self.fn(*tracer.call_args(args))
                recorded = tracer.trace
                recorded.tuple_out = isinstance(out, tuple)
                for o in out if recorded.tuple_out else (out,):
                    if not isinstance(o, Tensor):
                        raise TypeError(
                            f"tg.compile: the function must return a Tensor or a tuple of Tensors, got {type(o).__name__}"
                        )
                    recorded.outputs.append(tracer.spec(o._data))
                    recorded.output_requires.append(o.requires_grad)  # (False for `y.detach()`: no gradient)
                    if o.requires_grad and tracer.aliases_a_graph(o):
                        tracer.unsupported = "the function returns a leaf made inside it from a traced tensor's data"
                if tracer.unsupported:
                    return tracer.unsupported + ": the call runs eagerly"
        except Busy:
            raise
        except Unsupported as e:
            return f"{e}: the call runs eagerly"
        program = Program(recorded, grad, self.closed_forms)
        program.fn = self.fn
        program.needs = (True,) * len(program.targets)
        program.leaf_tensors = [s.source for s in program.leaves]
        # the in-place guard watches what the backward reads, as eager's nodes save what their vjps read
        reads = program.backward_reads
        program.read_targets = [s.index in reads for s in program.targets]
        targeted = {s.source for s in program.targets if s.kind == "input"}
        program.watch_args = [
            i
            for i, a in enumerate(args)
            if isinstance(a, Tensor) and i not in targeted and recorded.inputs[i].index in reads
        ]
        program.watch_leaves = [s.source for s in program.leaves if s not in program.targets and s.index in reads]
        if all(s.kind == "leaf" and s.source._node is None for s in program.targets):  # the node's inputs never change
            program.static_targets = [s.source for s in program.targets]
            program.static_handles = [t.handle() for t in program.static_targets]
            program.static_saved = [h for h, r in zip(program.static_handles, program.read_targets) if r]
        else:
            program.static_targets = None
        program.single = program.static_targets is not None and program.out_grad == [True] and not recorded.tuple_out
        program.static_args = tuple(program.static_handles) if program.single else None
        program.watch_all = program.watch_args == list(range(len(args)))
        outs = recorded.outputs
        out = outs[0][1] if len(outs) == 1 and outs[0][0] == "slot" else None
        # backward()'s seed: ones for an output of one float (eager's rule for an implicit gradient), else None
        scalar = out is not None and out.dtype.kind == "f" and math.prod(out.shape) == 1
        program.seed = np.ones(out.shape, out.dtype) if scalar else None
        program.seed_shape = out.shape if scalar else None
        if scalar:
            program.seed.flags.writeable = False
        program.guards = [(s.source, s.shape, s.dtype, s.source.requires_grad) for s in program.leaves]
        reachable = _reachable(self.fn)  # an argument the function also reads itself: the program holds for it only
        program.pinned = [(i, a) for i, a in enumerate(args) if isinstance(a, Tensor) and id(a) in reachable]
        program.check = _checker(program, args, grad)
        program.replay = replayer(program, *checks(program, args, grad, "None"))
        return program


class _Holds(TypeError):
    """An argument holds tensors: the call runs eagerly (the message says how to compile it)."""


def _value_key(a: Any) -> tuple:
    """A Python argument as the signature holds it: its type and value, item by item in a tuple or list, a
    float by its bits (``-0.0`` is not ``0.0``, ``(2,)`` not ``(2.0,)``, and a NaN matches a NaN)."""
    if isinstance(a, (tuple, list)):
        return (type(a), tuple(_value_key(x) for x in a))
    if isinstance(a, (Tensor, np.ndarray)):
        raise _Holds(
            "an argument is a tuple or list holding tensors or arrays; pass them as arguments of their own "
            "(step(x, *params)) for a compiled call"
        )
    return (type(a), a.hex()) if isinstance(a, float) else (type(a), a)


def _repeats(args: tuple) -> tuple:
    """The positions of the arguments given again (the same Tensor or array at an earlier position), each with
    the earlier one's. A trace cannot tell ``f(x, x)``'s two parameters apart (both read one tensor), so its
    program holds only for calls that repeat those arguments; one traced with distinct arguments reads each
    position on its own and holds for any call."""
    seen: dict = {}
    return tuple(
        (i, j)
        for i, a in enumerate(args)
        if isinstance(a, (Tensor, np.ndarray)) and (j := seen.setdefault(id(a), i)) != i
    )


def _reachable(fn: Any) -> set:
    """The ids of the tensors `fn` can read without being given them: the Tensors in its closure and in the
    globals it names, and the parameters and buffers of the Modules there (one level into lists, tuples
    and dicts). A trace sees one tensor where `fn` is given one of these and reads it itself too
    (``f = lambda x: (x * w).sum()`` called as ``f(w)``): its program holds only for that very argument."""
    from tinygraph.nn.module import Module

    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object (a Module, say): what it holds
        found = [fn]
    else:
        found = [_contents(c) for c in fn.__closure__ or ()]
        names = set(code.co_names) | {n for k in code.co_consts if hasattr(k, "co_names") for n in k.co_names}
        found += [fn.__globals__[n] for n in names if n in fn.__globals__]
    found += [v for x in found if isinstance(x, (list, tuple)) for v in x]
    found += [v for x in found if isinstance(x, dict) for v in x.values()]
    ids = set()
    for x in found:
        if isinstance(x, Tensor):
            ids.add(id(x))
        elif isinstance(x, Module):
            ids |= {id(t) for t in (*x.parameters(), *x.buffers())}
    return ids


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # a cell not yet bound (a name the enclosing function assigns later)
        return None


def _valid(p: Any, args: tuple) -> bool:
    """Whether the leaves and modules `p` was traced with are as they were (shapes, dtypes, modes), and
    the arguments it holds for only (`_reachable`) are given again."""
    if any(args[i] is not a for i, a in p.pinned):
        return False
    for t, shape, dtype, rg in p.guards:
        d = t._data
        if d.shape != shape or d.dtype != dtype or t.requires_grad != rg:
            return False
    return all(m.training == flag for m, flag in p.trace.modules)


def _checker(program: Program, args: tuple, grad: bool) -> Callable:
    """``check(args, grad)``: True if a call fits `program` as the cache's key and `_valid` would say.

    One generated function, no tuples built: a loop's calls skip `_key` and `_valid`. It may say
    False where they would say True (a dtype equal but not the same object): the cache then decides.
    """
    lines, ns = checks(program, args, grad, "False")
    exec("\n".join(["def check(ins, grad):", *lines, "    return True"]), ns)  # noqa: S102 - from the trace's signature
    return ns["check"]


def checks(program: Program, args: tuple, grad: bool, miss: str) -> tuple[list[str], dict]:
    """The lines of `_checker`'s function that return `miss` unless a call fits, and the names they read.

    The names start with Q, so the lines can go into another generated function (`node.replayer`).
    """
    ns: dict = {}
    lines = [f"    if grad is not {bool(grad)!r} or len(ins) != {len(args)}:", f"        return {miss}"]
    for i, a in enumerate(args):
        ns[f"QC{i}"] = type(a)
        lines.append(f"    a = ins[{i}]")
        if isinstance(a, (Tensor, np.ndarray)):
            d = a._data if isinstance(a, Tensor) else a
            ns[f"QS{i}"], ns[f"QD{i}"] = d.shape, d.dtype
            test = f"d.shape != QS{i} or d.dtype is not QD{i}"
            if isinstance(a, Tensor):
                rg, leaf = bool(a.requires_grad), "not " if a._node is None else ""
                test += f" or a.requires_grad is not {rg!r} or a._node is {leaf}None"
            lines += [f"    if type(a) is not QC{i}:", f"        return {miss}"]
            lines += [
                "    d = a" + ("._data" if isinstance(a, Tensor) else ""),
                f"    if {test}:",
                f"        return {miss}",
            ]
        elif isinstance(a, (float, tuple, list)):  # (as `_value_key` holds it)
            ns[f"QV{i}"], ns["Q_key"] = _value_key(a), _value_key
            lines += [f"    if type(a) is not QC{i} or Q_key(a) != QV{i}:", f"        return {miss}"]
        else:
            ns[f"QV{i}"] = a
            lines += [f"    if type(a) is not QC{i} or a != QV{i}:", f"        return {miss}"]
    for i, j in _repeats(args):  # (see `_repeats`)
        lines += [f"    if ins[{i}] is not ins[{j}]:", f"        return {miss}"]
    for i, a in program.pinned:  # (see `_reachable`)
        ns[f"QP{i}"] = a
        lines += [f"    if ins[{i}] is not QP{i}:", f"        return {miss}"]
    for k, (t, shape, dtype, rg) in enumerate(program.guards):
        ns[f"QL{k}"], ns[f"QLS{k}"], ns[f"QLD{k}"] = t, shape, dtype
        lines += [
            f"    d = QL{k}._data",
            f"    if d.shape != QLS{k} or d.dtype is not QLD{k} or QL{k}.requires_grad is not {bool(rg)!r}:",
            f"        return {miss}",
        ]
    for k, (m, flag) in enumerate(program.trace.modules):
        ns[f"QM{k}"] = m
        lines += [f"    if QM{k}.training is not {bool(flag)!r}:", f"        return {miss}"]
    return lines, ns


def _short(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return f"array {v.shape} {v.dtype}" if v.size > 6 else f"array({v.tolist()}, {v.dtype})"
    if isinstance(v, type) or callable(v) and hasattr(v, "__qualname__"):  # a dtype or a function: its name
        return f"{v.__module__}.{v.__qualname__}"
    return repr(v)
