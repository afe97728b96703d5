"""Re-running the backward walk on the side, to show gradients the engine did not keep.

The replay runs the engine's own walk (`tinygraph.autograd.walk`, on arrays, keeping the
graph) with an observer that keeps every intermediate result. It writes nothing: the walk
sets no ``.grad`` (``backward`` does) and, with ``retain_graph``, releases nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tinygraph import autograd
from tinygraph.tensor import Tensor
from tinygraph.viz._common import Walk


class Unavailable(Exception):
    """The gradients cannot be replayed; the message says why and what to do."""


@dataclass
class Step:
    """One step of the walk: the node whose output is `tensor`, processed with gradient `upstream`."""

    tensor: Tensor
    upstream: np.ndarray
    # per input that receives a gradient: (position, input tensor, gradient sent, local derivative, accumulated)
    sends: list[tuple[int, Tensor, np.ndarray, np.ndarray | None, np.ndarray]] = field(default_factory=list)


@dataclass
class Replay:
    totals: dict[int, np.ndarray]  # id(tensor) -> its full gradient
    sent: dict[tuple[int, int], np.ndarray]  # (id(op output), input position) -> gradient sent to that input
    steps: list[Step]


def replay(walk: Walk, gradient: Any = None, local: bool = False) -> Replay:
    """Every tensor's gradient of ``walk.output`` (seeded with 1, or `gradient`), without side effects.

    With ``local=True`` each step also gets the local derivative of the node's output
    with respect to each input: the vjp of a gradient of ones (for an elementwise op
    that is the derivative itself; in general, the derivative summed over the output).
    """
    out = walk.output
    if not out.requires_grad:
        raise Unavailable("the output does not require grad (no input has requires_grad=True)")
    if walk.released():
        raise Unavailable(
            "the graph was released by backward(); call t.retain_grad() on the tensors before backward(), "
            "draw before backward(), or use backward(retain_graph=True)"
        )
    if gradient is None:
        if out._data.size != 1:
            raise Unavailable(f"the output has shape {out.shape}; pass gradient= (an array of that shape)")
        seed = np.ones_like(out._data)
    else:
        seed = np.asarray(gradient._data if isinstance(gradient, Tensor) else gradient, dtype=out.dtype)
        if seed.shape != out.shape:
            raise ValueError(f"gradient= has shape {seed.shape} but the output has shape {out.shape}")
    totals: dict[int, np.ndarray] = {}
    sent: dict[tuple[int, int], np.ndarray] = {}
    summed: dict[int, np.ndarray] = {}  # what each tensor has received so far, for the "accumulated" column
    steps: list[Step] = []

    def watch(node: Any, t: Tensor, g: Any, gs: tuple) -> None:
        totals[id(t)] = np.asarray(g)
        ones = node.vjp(t, np.ones_like(t._data)) if local else (None,) * len(gs)
        step = Step(t, totals[id(t)])
        for i, (p, gp, need) in enumerate(zip(node.inputs, gs, node.needs_input_grad)):
            if gp is None or not need:
                continue
            gp = np.asarray(gp, dtype=p.dtype)
            lp = None if ones[i] is None else np.asarray(ones[i])
            acc = summed[id(p)] = summed[id(p)] + gp if id(p) in summed else gp
            sent[(id(t), i)] = gp
            step.sends.append((i, p, gp, lp, acc))
        steps.append(step)

    try:
        # the engine's own walk, on arrays; retain_graph keeps the graph, and walk writes no .grad
        grads, _ = autograd.walk([out], [Tensor._make(seed)], retain_graph=True, observer=watch)
    except Exception as e:  # noqa: BLE001 - any failure of a vjp means "not available", with its reason
        raise Unavailable(f"replaying the backward walk failed: {type(e).__name__}: {e}") from e
    for t, g in grads.items():  # the leaves
        totals[id(t)] = g._data
    if id(out) not in totals:  # a leaf output
        totals[id(out)] = seed
    return Replay(totals, sent, steps)
