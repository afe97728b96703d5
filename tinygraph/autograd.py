"""The backward walk, one loop shared by `backward` and `grad` (anomaly mode and the pictures' step-through
watch it through its `observer`); `topo_order`, the graph in creation order."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from tinygraph import anomaly, mode
from tinygraph.tensor import Handle, Tensor

_ndarray = np.ndarray
_GRAD_LOCK = threading.Lock()  # threads sharing a leaf must not lose each other's gradients


def topo_order(roots: Sequence[Tensor]) -> list[Tensor]:
    """The tensors made by ops that `roots` depend on, each after the inputs it was made from (iterative)."""
    found: dict = {}
    stack = [r for r in roots if r._node is not None]
    while stack:
        t = stack.pop()
        node = t._node
        if node in found:
            continue
        found[node] = t
        for p in node.args:
            if isinstance(p, Tensor) and p._node is not None and p._node not in found:
                stack.append(p)
    return sorted(found.values(), key=lambda t: t._node.seq)


def walk(
    roots: Sequence[Tensor],
    seeds: Sequence[Any],
    create_graph: bool = False,
    retain_graph: bool = False,
    targets: Sequence[Tensor] | None = None,
    observer: Callable | None = None,
) -> tuple[dict, dict]:
    """Send the gradients `seeds` of `roots` back through the graph, each node after all its consumers.

    A node is created after its inputs' nodes, so running the newest node with a gradient waiting
    (a heap on creation numbers) is a topological order without sorting; a node handing its gradient
    to one newer than all that wait (a chain) runs that one next, without the heap (NOTES.md: 780
    and 510 instructions per op on W4). With `targets`, only nodes that lead to one run.
    ``observer(node, output, grad, input_grads)`` runs after each vjp (under anomaly mode, by default
    `anomaly.check_backward`). Returns the summed gradients (Tensors) of the leaves reached, the
    targets and the tensors that called ``retain_grad()``, keyed by tensor, and those tensors.
    """
    # (the only mode switch: vjps on arrays record in no mode, and a switch slows every `apply` they make)
    if create_graph and not mode.state.grad_enabled:
        with mode.enable_grad():
            return walk(roots, seeds, create_graph, retain_graph, targets, observer)
    if observer is None and mode.state.anomaly:
        observer = anomaly.check_backward
    wanted = set(targets) if targets is not None else ()
    order = None if targets is None else topo_order(roots)
    needed = None if order is None else _leading_to(order, wanted)
    raw = not create_graph
    grads: dict = {}  # the gradient each tensor has received so far (keyed by tensor: they hash by identity)
    reached: dict = {}  # the leaves, targets and retained tensors that received one
    owned: set = set()  # tensors whose gradient is an array this walk made, so it may sum into it
    pending: list = []  # (-creation number, tensor) of the nodes with a gradient waiting
    kept: dict = {}  # gradients of the targets and retained tensors that are not leaves
    for r, s in zip(roots, seeds):
        _send(grads, owned, reached, pending, r, s._data if raw else s)
    # No reference cycles are made, but collections would traverse the graph (a quarter of a 200,000-op chain's time)
    paused = gc.isenabled()
    gc.disable()
    try:
        nxt = nxt_g = None  # the tensor to run next without the heap, and its gradient (kept out of `grads`)
        while pending or nxt is not None:
            if nxt is None:
                t = heappop(pending)[1]
                g = grads.pop(t)
            else:
                t, g, nxt = nxt, nxt_g, None
            node = t._node
            if t._retain or t in wanted:
                kept[t], reached[t] = g, t
            if needed is not None and node not in needed:
                continue
            gs = node.vjp(t, g, not retain_graph)
            if observer is not None:
                observer(node, t, g, gs)
            args = node.args
            i = -1
            for need in node.needs_input_grad:  # (indexing: a zip of three costs 1,600 instructions more)
                i += 1
                if need and gs[i] is not None:
                    p, gp = args[i], gs[i]
                    if p._node is None and type(p) is Handle:
                        p = p.leaf()  # the leaf it stands for (None if it is gone: nobody can read it)
                        if p is None:
                            continue
                    if p in grads:
                        _send(grads, owned, reached, pending, p, gp)
                    elif p is nxt:  # (an input given twice, x * x)
                        nxt_g = nxt_g + gp
                    elif p._node is None:  # (the first gradient, spelled out: most tensors get only one)
                        grads[p], reached[p] = gp, p
                    elif nxt is None:
                        nxt, nxt_g = p, gp
                    else:
                        grads[p] = gp
                        heappush(pending, (-p._node.seq, p))
            if nxt is not None and pending and -pending[0][0] > nxt._node.seq:
                grads[nxt] = nxt_g
                heappush(pending, (-nxt._node.seq, nxt))
                nxt = None
    finally:
        if paused:
            gc.enable()
    if needed is not None and not retain_graph:
        for t in order:  # tg.grad skipped the nodes that lead to no target: their saved data goes too
            t._node.release()
    grads.update(kept)
    if raw:  # an array (numpy's 0-d arithmetic gives scalars) of its tensor's dtype (float32 * float64 is float64)
        grads = {k: Tensor._make(np.asarray(g, k._data.dtype)) for k, g in grads.items()}
    else:
        grads = {k: g if g._data.dtype == k._data.dtype else g.astype(k._data.dtype) for k, g in grads.items()}
    return grads, reached


def _send(grads: dict, owned: set, reached: dict, pending: list, p: Tensor, g: Any) -> None:
    """Add gradient `g` to what `p` has received; a node's first gradient puts it in `pending`. The first
    sum makes an array only this walk holds (a vjp may hand one array to several inputs, so one it
    returned is never written); later sums go into it (NOTES.md, sixth round)."""
    prev = grads.get(p)
    if prev is None:
        grads[p] = g
        if p._node is None:
            reached[p] = p
        else:
            heappush(pending, (-p._node.seq, p))
    elif p in owned and g.dtype == prev.dtype and g.shape == prev.shape:
        prev += g
    else:
        total = grads[p] = prev + g
        if type(total) is _ndarray:  # (0-d sums come back as numpy scalars, which cannot be written)
            owned.add(p)


def _leading_to(order: list[Tensor], wanted: set) -> set:
    """The nodes in `order` from which some tensor in `wanted` can be reached (going to inputs)."""
    needed: set = set()
    for t in order:  # every tensor comes after the inputs it was made from
        for p in t._node.inputs:  # (leaves as themselves, not as their handles)
            if isinstance(p, Tensor) and (p in wanted or (p._node is not None and p._node in needed)):
                needed.add(t._node)
                break
    return needed


def _seeds(outputs: Any, gradients: Any, where: str, skip_constants: bool) -> tuple[list, list]:
    """The outputs a walk starts from and their gradients (1 for a scalar), checked."""
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    one = gradients is None or isinstance(gradients, (Tensor, np.ndarray)) or np.isscalar(gradients)
    gradients = [None] * len(outs) if gradients is None else [gradients] if one else list(gradients)
    if len(gradients) != len(outs):
        raise ValueError(f"{where}: {len(gradients)} gradients for {len(outs)} outputs")
    roots, seeds = [], []
    for out, g in zip(outs, gradients):
        if not isinstance(out, Tensor):
            raise TypeError(f"{where}: expected a Tensor, got {type(out).__name__}")
        if not out.requires_grad:
            if skip_constants:  # an output made of constants only contributes nothing
                continue
            raise RuntimeError(
                f"{where}: the tensor (shape {out.shape}) does not require grad, so there is no graph to walk; "
                "set requires_grad=True on the inputs you want gradients for (and do not compute under no_grad)"
            )
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"{where}: output has shape {out.shape}; only a scalar output gets the implicit gradient 1. "
                    f"Pass a gradient of shape {out.shape}, or reduce the output first (e.g. .sum())"
                )
            g = Tensor._make(np.array(1, out.dtype) if out._data.ndim == 0 else np.ones_like(out._data))  # (4x faster)
        elif not isinstance(g, Tensor):
            g = Tensor._make(np.asarray(g, dtype=out.dtype))
        if g.shape != out.shape:
            raise ValueError(f"{where}: gradient has shape {g.shape} but the output has shape {out.shape}")
        roots.append(out)
        seeds.append(g)
    return roots, seeds


def backward(tensors: Any, grad_tensors: Any = None, retain_graph: bool = False, create_graph: bool = False) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of every leaf that requires grad."""
    roots, seeds = _seeds(tensors, grad_tensors, "backward", skip_constants=False)
    grads, reached = walk(roots, seeds, create_graph, retain_graph or create_graph)
    handed: set = {id(s._data) for s in seeds}
    with _GRAD_LOCK:
        for t in reached:
            g = grads[t]
            if not create_graph:
                # g's array may be the seed's, or shared with (or a view of) another tensor's gradient
                if id(g._data) in handed or g._data.base is not None or not g._data.flags.writeable:
                    g = Tensor._make(g._data.copy())
                handed.add(id(g._data))
            t.grad = g if t.grad is None else t.grad + g


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

    An unused input is an error, unless ``allow_unused`` (then None, or zeros with ``materialize_grads``).

    >>> import tinygraph as tg
    >>> x = tg.tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.grad(x ** 3, [x], create_graph=True)
    >>> dx.item(), tg.grad(dx, [x])[0].item()
    (27.0, 18.0)
    """
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad, so no gradient flows to it")
    roots, seeds = _seeds(outputs, grad_outputs, "grad", skip_constants=True)
    retain = create_graph if retain_graph is None else retain_graph
    grads = walk(roots, seeds, create_graph, retain, ins)[0] if roots else {}
    out = []
    for i, t in enumerate(ins):
        g = grads.get(t)
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


def _tensor_backward(self: Tensor, gradient: Any = None, retain_graph: bool = False, create_graph: bool = False):
    """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad (a scalar needs no ``gradient``,
    others one of their shape); ``retain_graph`` keeps the graph, ``create_graph`` records the gradients' own."""
    backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)


Tensor.backward = _tensor_backward
