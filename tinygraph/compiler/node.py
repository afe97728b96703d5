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

import weakref
from typing import Any

import numpy as np

from tinygraph import autograd, mode
from tinygraph import random as _random
from tinygraph.function import Context, Function, handles, new_node, released_message
from tinygraph.guard import check_saved
from tinygraph.tensor import Tensor

_state = mode.state


class CompiledStep(Function):
    """The op a compiled call shows in the graph (its node is a `CompiledNode`)."""

    name = "compiled"

    @staticmethod
    def forward(ctx: Any, *inputs: Any) -> Any:
        raise RuntimeError("CompiledStep is not applied: tg.compile makes its nodes")


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
        if gradient is not None or create_graph or _state.anomaly or self._data.size != 1 or node.targets is None:
            return autograd.backward(self, gradient, retain_graph, create_graph)
        seed = node.program.seed
        if seed is None or seed.shape != self._data.shape:
            seed = np.ones(self._data.shape, self._data.dtype)
        gs = node.vjp(self, seed, not retain_graph)
        if node.program.sole_grads:  # each a new array of its own (`Program.sole_grads`): no checks needed
            for t, g in zip(node.targets, gs):
                t.grad = Tensor._make(g) if t.grad is None else t.grad + Tensor._make(g)
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
        return CompiledResult._make(o if type(o) is np.ndarray else np.asarray(o), node)
    finally:
        frame.busy = False


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
    return tuple(results) if program.trace.tuple_out else results[0]
