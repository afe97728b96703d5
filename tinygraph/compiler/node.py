"""A compiled call's results: Tensors whose one graph node runs the program's backward.

`run(program, args)` replays the forward in a free frame and returns the outputs. An output that
needs a gradient is a `CompiledResult` whose node (`CompiledNode`, a `Context`) holds, as its
inputs, every tensor the program sends a gradient to (the leaves through their handles, as every
node does), and saves those of them, and of the call's arguments and leaves, that the program's
backward reads (`Program.backward_reads`), so the in-place guard catches the writes eager's would:
eager's nodes save what their vjps read. The engine's
walk reaches it like any other node: its vjp runs the program's backward and returns one gradient
per input, and the walk sums them into ``.grad``. ``result.backward()`` with no arguments takes
a shorter road to the same ``.grad`` (no walk, one node).

``create_graph=True`` through a compiled result cannot use the program (it runs on arrays): the
node re-runs the function eagerly on the call's arguments (and random draws) and differentiates that.
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygraph import autograd, mode
from tinygraph import random as _random
from tinygraph.function import Context, Function, counter, handles, released_message
from tinygraph.guard import check_saved
from tinygraph.tensor import Tensor

_state = mode.state
_new = object.__new__


class CompiledStep(Function):
    """The op a compiled call shows in the graph (its node is a `CompiledNode`)."""

    name = "compiled"

    @staticmethod
    def forward(ctx: Any, *inputs: Any) -> Any:
        raise RuntimeError("CompiledStep is not applied: tg.compile makes its nodes")


def new_node(kind: type, fn: type, args: tuple, needs: tuple) -> Context:
    """A fresh node of op `fn` (a `kind`), as `Function.apply` makes one (there spelled out, for speed)."""
    ctx = kind()
    ctx.fn, ctx.args, ctx.needs_input_grad = fn, args, needs
    ctx.saved = ctx.versions = ()
    ctx.output_version = ctx.output = ctx.checksums = ctx.created_at = None
    ctx.seq, ctx.released = next(counter), False
    return ctx


class CompiledNode(Context):
    """The node of one output of a compiled call: ``vjp`` runs the program's backward."""

    __slots__ = ("program", "frame", "output_index", "call", "rng", "targets", "__weakref__")

    def vjp(self, out: Tensor, g: Any, release: bool = False) -> tuple:
        if self.released:
            raise RuntimeError(released_message(self))
        check_saved(self, out)
        if isinstance(g, Tensor):
            gs = self._eager_vjp(g)
        else:
            program = self.program
            seeds = (
                [g]
                if len(program.out_grad) == 1
                else [
                    g if k == self.output_index else (np.zeros(o[1].shape, o[1].dtype) if need else None)
                    for k, (o, need) in enumerate(zip(program.trace.outputs, program.out_grad))
                ]
            )
            gs = self.frame.backward(seeds)
            if program.reach is not None:  # (the zero seeds of the other outputs reach leaves this one does not)
                gs = tuple(g if r else None for g, r in zip(gs, program.reach[self.output_index]))
        if release:
            self.release()
        return gs

    def _eager_vjp(self, g: Tensor) -> tuple:
        """create_graph: run the function eagerly again on this call's arguments and differentiate that."""
        program = self.program
        state = _random.generator().bit_generator.state
        if self.rng is not None:
            _random.generator().bit_generator.state = self.rng
        try:
            with mode.enable_grad():
                out = program.fn(*self.call)
        finally:
            if self.rng is not None:
                _random.generator().bit_generator.state = state
        outs = out if isinstance(out, tuple) else (out,)
        targets = [s.source if s.kind == "leaf" else self.call[s.source] for s in program.targets]
        return autograd.grad(outs[self.output_index], targets, g, create_graph=True, allow_unused=True)


class CompiledResult(Tensor):
    """An output of a compiled call; ``backward()`` with no arguments runs the program's backward directly."""

    __slots__ = ()

    def backward(self, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
        node = self._node
        program = node.program
        seed = program.seed
        if (
            gradient is not None
            or create_graph
            or node.targets is None
            or seed is None
            or (mode.switches and _state.anomaly)
            or self._data.shape != program.seed_shape  # (a result given new data)
        ):
            return autograd.backward(self, gradient, retain_graph, create_graph)
        gs = node.vjp(self, seed, not retain_graph)
        if program.sole_grads:  # each a new array of its own (`Program.sole_grads`): no checks needed
            for t, g in zip(node.targets, gs):
                if t.grad is None:  # (Tensor._make, spelled out: it runs for every parameter of a step)
                    r = t.grad = _new(Tensor)
                    r._data = g
                    r.grad = r.name = r._mem = r._handle = r._node = None
                    r.requires_grad = r._retain = False
                else:
                    t.grad = t.grad + Tensor._make(g)
            return None
        handed = {id(seed)}
        for t, g in zip(node.targets, gs):
            if g is None:
                continue
            if type(g) is not np.ndarray:
                g = np.asarray(g)
            elif id(g) in handed or g.base is not None:  # as eager's backward: never hand one array out twice
                g = g.copy()
            handed.add(id(g))
            t.grad = Tensor._make(g) if t.grad is None else t.grad + Tensor._make(g)


def run(program: Any, args: tuple) -> Any:
    """Replay `program` on this call's `args`; the outputs as the function returns them."""
    frame = program.frame()
    try:
        rng = _random.generator().bit_generator.state if program.random and program.targets else None
        outs = frame.forward(args)
        if not program.single:
            return _results(program, frame, args, outs, rng)
        # `_results` for one output that needs a gradient, sent to leaves only (a training step's loss)
        node = new_node(CompiledNode, CompiledStep, program.static_args, program.needs)
        node.program, node.frame, node.output_index, node.call, node.rng = program, frame, 0, args, rng
        node.targets = program.static_targets
        watched = args if program.watch_all else [args[i] for i in program.watch_args]
        node.save_for_backward(*program.static_saved, *watched, *program.watch_leaves)
        frame.users = [weakref.ref(node)]
        o = outs[0]
        r = CompiledResult._make(o if type(o) is np.ndarray else np.asarray(o), node)
        if program.read_outputs:
            watch_outputs(program, [node], [r])
        return r
    finally:
        frame.unclaim()


def replayer(program: Any, check_lines: list[str], ns: dict) -> Callable | None:
    """`run` for a program of one output sent to leaves only (``program.single``), as one generated function.

    ``replay(program, frame, ins, grad)`` checks the call as ``program.check`` does, claims `frame`,
    replays the forward and returns the result with its node, with no call out but the forward
    (about 20 k instructions fewer per call than `run` on W3, benchmarks/NOTES.md). It returns None
    where the caller must take the general road: the call does not fit, or `frame` is in use.
    Bind it to a frame with `bind`. None for other programs and long ones (run from a table).
    """
    if not program.single or program.table is not None:
        return None
    saved = [f"QH{k}" for k in range(len(program.static_saved))]
    saved += [f"ins[{i}]" for i in program.watch_args] + [f"QW{k}" for k in range(len(program.watch_leaves))]
    ns.update({f"QH{k}": h for k, h in enumerate(program.static_saved)})
    ns.update({f"QW{k}": t for k, t in enumerate(program.watch_leaves)})
    ns.update(Q_new=object.__new__, Q_node=new_node, Q_kind=CompiledNode, Q_op=CompiledStep, Q_result=CompiledResult)
    ns.update(Q_args=program.static_args, Q_needs=program.needs, Q_targets=program.static_targets)
    ns.update(Q_ref=weakref.ref, Q_ndarray=np.ndarray, Q_asarray=np.asarray, Q_generator=_random.generator)
    ns.update(Q_watch=watch_outputs)
    rng = "Q_generator().bit_generator.state" if program.random else "None"
    lines = [
        "def replay(program, frame, ins, grad):",
        *check_lines,
        "    try:  # (Frame.claim and Frame.free, spelled out)",
        "        frame.idle.pop()",
        "    except IndexError:",
        "        return None",
        "    for ref in frame.users:",
        "        n = ref()",
        "        if n is not None and not n.released:",
        "            frame.idle.append(True)",
        "            return None",
        "    try:",
        f"        rng = {rng}",
        "        o = frame.forward(ins)[0]",
        "        node = Q_node(Q_kind, Q_op, Q_args, Q_needs)",
        "        node.program, node.frame, node.output_index, node.call, node.rng = program, frame, 0, ins, rng",
        "        node.targets = Q_targets",
        "        # Context.save_for_backward, spelled out for these tensors (no detect_anomaly here: it runs eagerly)",
        f"        node.saved = ({''.join(t + ', ' for t in saved)})",
        "        versions = node.versions = []",
    ]
    for t in saved:
        lines += [
            f"        m = {t}._mem or {t}.memory()",
            "        versions.append(m.save() if m.handed else m.version)",
        ]
    lines += [
        "        frame.users = [Q_ref(node)]",
        "        r = Q_new(Q_result)  # (Tensor._make, spelled out)",
        "        r._data = o if type(o) is Q_ndarray else Q_asarray(o)",
        "        r.grad = r.name = r._mem = r._handle = None",
        "        r._node = node",
        "        r.requires_grad = True",
        "        r._retain = False",
        *(["        Q_watch(program, [node], [r])"] if program.read_outputs else []),
        "        return r",
        "    finally:",
        "        frame.idle.append(True)",
    ]
    exec("\n".join(lines), ns)  # noqa: S102 - generated from the trace's signature
    return ns["replay"]


def bind(program: Any) -> Callable | None:
    """``replay(ins, grad)`` on the program's first frame (see `replayer`), or None."""
    if program.replay is None or not program.frames:
        return None
    return functools.partial(program.replay, program, program.frames[0])


def watch_outputs(program: Any, nodes: list, results: list) -> None:
    """Add the results whose arrays the program's backward reads (`Program.read_outputs`) to what the call's
    nodes saved, so that a write to one before backward raises, as eager's in-place guard does. Each is saved
    as a stand-in sharing its version counter (a node holding its own result would be a reference cycle)."""
    for k in program.read_outputs:
        stand = Tensor._make(results[k]._data)
        stand._mem = mem = results[k].memory()
        for node in nodes:
            node.saved = (*node.saved, stand)
        nodes[0].versions.append(mem.version)  # (one list, which `_results` gives every node of the call)


def _results(program: Any, frame: Any, args: tuple, outs: tuple, rng: Any) -> Any:
    """The call's outputs as Tensors; those that need a gradient get a `CompiledNode` holding `frame`."""
    results = []
    args_ = None
    for k, (o, need) in enumerate(zip(outs, program.out_grad)):
        if type(o) is not np.ndarray:
            o = np.asarray(o)
        if not need:
            results.append(Tensor._make(o))
            continue
        if args_ is None:
            if program.static_targets is not None:  # leaves only: the same inputs every call
                targets = program.static_targets
                saved = [*program.static_saved, *[args[i] for i in program.watch_args], *program.watch_leaves]
                args_ = tuple(program.static_handles)
                direct = True
            else:
                targets = [args[s.source] if s.kind != "leaf" else s.source for s in program.targets]
                args_ = handles(tuple(targets))
                read = [h for h, r in zip(args_, program.read_targets) if r]
                saved = [*read, *[args[i] for i in program.watch_args], *program.watch_leaves]
                direct = all(t._node is None for t in targets)
            versions = None
            users = frame.users = []
        node = new_node(CompiledNode, CompiledStep, args_, program.needs)
        node.program, node.frame, node.output_index, node.call, node.rng = program, frame, k, args, rng
        node.targets = targets if direct else None
        if versions is None:  # the in-place guard watches what the program's backward reads
            node.save_for_backward(*saved)
            saved, versions = node.saved, node.versions
        else:  # (one call's outputs share what it saved)
            node.saved, node.versions = saved, versions
        users.append(weakref.ref(node))
        results.append(CompiledResult._make(o, node))
    if program.read_outputs and args_ is not None:
        watch_outputs(program, [r._node for r in results if r._node is not None], results)
    return tuple(results) if program.trace.tuple_out else results[0]
