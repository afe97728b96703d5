"""The public drawing functions: `draw_forward`, `draw_backward`, `draw`, `backward_steps`."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from tinygraph.tensor import Tensor
from tinygraph.viz import _common as C
from tinygraph.viz._pictures import Extras, make_options, tensor_graph, tensor_name
from tinygraph.viz._replay import Unavailable, replay

_SCALE_DEFAULT = (1e-6, 1e4)


def draw_forward(
    output: Tensor,
    params: Any = None,
    *,
    mark: Any = None,
    rankdir: str = "LR",
    legend: bool = True,
    show_values: bool = True,
    max_elements: int = 6,
    cluster: bool = True,
    collapse: bool = False,
    title: str | None = None,
) -> Any:
    """Draw the forward graph: every tensor and op from the inputs to `output`.

    Tensors are boxes labelled with their name, shape, dtype and values (a tensor
    with more than `max_elements` elements shows mean, std, min and max instead).
    Names come from `params` (a mapping name -> tensor such as
    ``dict(model.named_parameters())``, a Module, or (name, tensor) pairs), else from
    ``t.name``. Parameters (named in `params`), other leaves that require grad,
    constants (leaves without grad, including Python numbers an op wrapped), intermediates
    and the output get their own colour, explained by a legend; ops are ellipses showing
    their non-tensor arguments (axes, shapes); an edge into an order-sensitive op
    (``sub``, ``matmul``, ...) carries the argument's position.

    Options: ``mark`` tensors or graph nodes (a `Context`, a gradcheck report's
    ``.culprit``, an ``AnomalyError.node``, or the report/error itself) to highlight;
    ``rankdir`` "LR" (inputs left, default) or "TB"/"RL"/"BT"; ``cluster`` groups ops
    into one box per module from dotted parameter names (``layers.0.weight`` ->
    ``layers.0``); ``collapse`` draws each module as one box; ``title``.

    Drawing reads the graph only: no tensor, ``.grad`` or graph node changes.
    Returns a ``graphviz.Digraph`` (`.source`, `.render`, `.pipe`, inline in Jupyter).

    >>> import tinygraph as tg
    >>> from tinygraph.viz import draw_forward
    >>> a, b, c = (tg.tensor(v, requires_grad=True, name=n) for v, n in ((5.0, "a"), (3.0, "b"), (2.0, "c")))
    >>> g = draw_forward(3 * (a + b * c), legend=False)
    >>> g.source.count("->")     # 6 tensor -> op edges, 3 op -> tensor edges
    9
    >>> "<B>a</B>" in g.source and ">33<" in g.source
    True
    """
    walk = C.Walk(output, "draw_forward")
    o = make_options(
        "draw_forward",
        params,
        mark,
        walk,
        rankdir=rankdir,
        legend=legend,
        show_values=show_values,
        max_elements=max_elements,
        cluster=cluster,
        collapse=collapse,
        title=title,
    )
    return tensor_graph(walk, o, Extras(), "draw_forward")


def draw_backward(
    output: Tensor,
    params: Any = None,
    *,
    of_gradient: Tensor | None = None,
    mark: Any = None,
    rankdir: str = "LR",
    legend: bool = True,
    cluster: bool = True,
    title: str | None = None,
) -> Any:
    """Draw the graph that ``output.backward()`` walks: one node per vjp, numbered in walk order.

    Node ``k. op`` is the k-th vjp the engine runs (the reverse of
    ``tinygraph.topo_order([output])``); an edge goes from it to each input it
    sends a gradient to: another vjp, or a leaf's ``.grad`` (``AccumulateGrad``, coloured
    like the leaf). A tensor whose gradient is the sum of several consumers' gradients is an
    accumulation point, drawn with an orange border and ``Σ of n gradients``. The arrows
    run against the forward direction: with the default ``rankdir="LR"`` the inputs are on
    the left, so gradients flow right to left.

    ``of_gradient=g``: draw instead the real graph that computes the gradient tensor ``g``,
    which ``tg.grad(output, [x], create_graph=True)`` made (second derivatives come from
    differentiating it). Tensors and ops of ``output``'s forward pass that the gradient
    reuses are drawn faded; the rest are the ops the vjps created.

    >>> import tinygraph as tg
    >>> from tinygraph.viz import draw_backward
    >>> x = tg.tensor(3.0, requires_grad=True, name="x")
    >>> y = x * x + x                                  # x is used twice: gradients add up at x
    >>> src = draw_backward(y, legend=False).source
    >>> "1. add" in src and "2. mul" in src and "Σ of 3 gradients" in src
    True
    >>> (dx,) = tg.grad(y, [x], create_graph=True)     # 2x + 1, itself a graph
    >>> "gradient" in draw_backward(y, of_gradient=dx).source
    True
    """
    where = "draw_backward"
    walk = C.Walk(output, where)
    if of_gradient is not None:
        return _draw_gradient_graph(walk, of_gradient, params, mark, rankdir, legend, cluster, title)
    names = C.param_names(params, where)
    mt, mn = C.marked(mark, walk, where)
    back = {"LR": "RL", "RL": "LR", "TB": "BT", "BT": "TB"}
    if rankdir not in back:
        raise ValueError(f"{where}: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    g = C.new_digraph(back[rankdir], title, where)
    op_mod, t_mod = C.modules(walk, names) if cluster else ({}, {})

    steps = list(reversed(walk.order))
    bid = {id(t): f"b{k + 1}" for k, t in enumerate(steps)}
    incoming: Counter = Counter({id(output): 1})
    edges = []
    leaves = []
    for t in steps:
        node = t.grad_fn
        for i, (p, need) in enumerate(zip(node.inputs, node.needs_input_grad)):
            if not need:
                continue
            incoming[id(p)] += 1
            if p.grad_fn is None and id(p) not in bid:
                bid[id(p)] = f"acc{walk.index[id(p)]}"
                leaves.append(p)
            label = str(i) if sum(isinstance(q, Tensor) for q in node.inputs) > 1 else ""
            edges.append((bid[id(t)], bid[id(p)], label))
    if not walk.order and output.requires_grad:
        bid[id(output)] = f"acc{walk.index[id(output)]}"
        leaves.append(output)

    def acc_row(t: Tensor) -> list[str]:
        n = incoming[id(t)]
        return [f'<FONT COLOR="{C.ACCUMULATE}"><B>Σ of {n} gradients</B></FONT>'] if n > 1 else []

    def mark_row(hit: bool) -> list[str]:
        return [f'<FONT COLOR="{C.MARK}"><B>◆ marked</B></FONT>'] if hit else []

    clusters: dict[str | None, list] = {}
    for k, t in enumerate(steps, 1):
        node = t.grad_fn
        hit = id(node) in mn or id(t) in mt
        rows = [f"<B>{k}. {C.esc(node.name)}</B>", C.small(f"vjp · grad {C.esc(C.shape_text(t))}")]
        rows += acc_row(t) + mark_row(hit)
        attrs = dict(C.OP_STYLE, shape="box", style="rounded,filled", label=C.table(rows))
        if incoming[id(t)] > 1:
            attrs.update(color=C.ACCUMULATE, penwidth="2.5")
        if hit:
            attrs.update(color=C.MARK, penwidth="3.5")
        clusters.setdefault(op_mod.get(id(t)), []).append((bid[id(t)], attrs))
    for p in leaves:
        k = C.kind(p, walk, names)
        k = "parameter" if k == "output" and id(p) in names else "leaf" if k == "output" else k
        _, fill, border, style = C.KINDS[k]
        name = names.get(id(p)) or p.name or ""
        rows = ([f"<B>{C.esc(name)}</B>"] if name else []) + [
            C.small(C.esc(C.shape_text(p))),
            C.small("AccumulateGrad → .grad", "#333333"),
        ]
        rows += acc_row(p) + mark_row(id(p) in mt)
        attrs = {"shape": "box", "style": style, "fillcolor": fill, "color": border, "label": C.table(rows)}
        if incoming[id(p)] > 1:
            attrs.update(color=C.ACCUMULATE, penwidth="2.5")
        if id(p) in mt:
            attrs.update(color=C.MARK, penwidth="3.5")
        clusters.setdefault(t_mod.get(id(p)), []).append((bid[id(p)], attrs))
    for k, (module, nodes) in enumerate(clusters.items()):
        if module is None:
            for nid, attrs in nodes:
                g.node(nid, **attrs)
        else:  # (the name as an HTML label, escaped: a backslash or a quote in it must not break the DOT)
            with g.subgraph(name=f"cluster_{k}") as c:
                c.attr(label=f"<{C.esc(module)}>", style="rounded,dashed", color="#7a9e7e", fontcolor="#2f5d34")
                for nid, attrs in nodes:
                    c.node(nid, **attrs)

    if output.requires_grad:
        out_name = names.get(id(output)) or output.name or "out"
        seed = "1" if output._data.size == 1 else "the gradient passed to backward()"
        g.node(
            "seed",
            label=C.table([f"∂{C.esc(out_name)}/∂{C.esc(out_name)} = {C.esc(seed)}"]),
            shape="cds",
            style="filled",
            fillcolor="#fde0cc",
            color="#c05621",
        )
        g.edge("seed", bid[id(output)], color=C.BACKWARD)
    for a, b, label in edges:
        g.edge(a, b, color=C.BACKWARD, label=label, fontcolor="#666666")
    if legend:
        present = [k for k in ("parameter", "leaf") if any(C.kind(p, walk, names) == k for p in leaves)]
        rows = [
            f'<TD BGCOLOR="{C.OP_STYLE["fillcolor"]}" BORDER="1" COLOR="{C.OP_STYLE["color"]}"> </TD>'
            '<TD ALIGN="LEFT">vjp, numbered in the order backward runs it</TD>',
            f'<TD BORDER="2" COLOR="{C.ACCUMULATE}"> </TD><TD ALIGN="LEFT">Σ accumulation point (fan-out)</TD>',
            f'<TD><FONT COLOR="{C.BACKWARD}">◀──</FONT></TD><TD ALIGN="LEFT">gradient sent to an input</TD>',
        ]
        body = "".join(f"<TR>{r}</TR>" for r in [rows[0], *[_legend_kind(k) for k in present], *rows[1:]])
        g.node(
            "legend",
            label=f'<<TABLE BORDER="0" CELLSPACING="3" CELLPADDING="2"><TR><TD COLSPAN="2"><B>legend</B></TD></TR>{body}</TABLE>>',
            shape="plaintext",
        )
        if output.requires_grad:
            g.edge("legend", "seed", style="invis")
    return g


def _legend_kind(k: str) -> str:
    text, fill, border, _ = C.KINDS[k]
    return (
        f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{border}" WIDTH="18"> </TD><TD ALIGN="LEFT">{C.esc(text)} (.grad)</TD>'
    )


def _draw_gradient_graph(
    walk: C.Walk, grad: Any, params: Any, mark: Any, rankdir: str, legend: bool, cluster: bool, title: str | None
) -> Any:
    where = "draw_backward"
    if not isinstance(grad, Tensor):
        raise TypeError(f"{where}: of_gradient must be a gradient Tensor, got {type(grad).__name__}")
    if grad.grad_fn is None:
        raise ValueError(
            f"{where}: of_gradient has no graph (shape {grad.shape}); compute it with "
            "tg.grad(output, inputs, create_graph=True) so the gradient is itself a graph"
        )
    gwalk = C.Walk(grad, where)
    forward = {id(t) for t in walk.tensors}
    o = make_options(where, params, mark, gwalk, rankdir=rankdir, legend=legend, cluster=cluster, title=None)
    o.title = title or "graph of a gradient (create_graph=True): differentiate it for second derivatives"
    x = Extras(faded={id(t) for t in gwalk.tensors if id(t) in forward and t is not grad})
    if legend:
        x.legend_rows = [
            f'<TD BGCOLOR="#fafafa" BORDER="1" COLOR="{C.FADED}"> </TD><TD ALIGN="LEFT">from the forward pass</TD>'
        ]
    return tensor_graph(gwalk, o, x, where)


def _grads(walk: C.Walk, gradient: Any) -> tuple[dict[int, np.ndarray], dict, str | None]:
    """Every tensor's gradient to show: ∂output/∂t as the replay of this output's backward gives it, else .grad
    where the engine kept it (a .grad that earlier losses accumulated is not this output's). And why not, if not."""
    try:
        rep = replay(walk, gradient)
        totals, sent, why = rep.totals, rep.sent, None
    except Unavailable as e:
        totals, sent, why = {}, {}, str(e)
    shown: dict[int, np.ndarray] = {}
    out = walk.output
    if out.requires_grad and (gradient is not None or out._data.size == 1):  # the seed is always known
        seed = gradient._data if isinstance(gradient, Tensor) else gradient
        shown[id(out)] = np.ones_like(out._data) if seed is None else np.asarray(seed, dtype=out.dtype)
    for t in walk.tensors:
        kept = t.grad is not None and (t.grad_fn is None or t.retains_grad)
        if id(t) in totals and t.requires_grad:
            shown[id(t)] = totals[id(t)]
        elif kept and t.requires_grad:
            shown[id(t)] = t.grad._data
    return shown, sent, why


def draw(
    output: Tensor,
    params: Any = None,
    *,
    gradient: Any = None,
    mark: Any = None,
    rankdir: str = "LR",
    legend: bool = True,
    show_values: bool = True,
    max_elements: int = 6,
    cluster: bool = True,
    collapse: bool = False,
    title: str | None = None,
    grad_range: tuple[float, float] = _SCALE_DEFAULT,
    dead_relu: float = 0.5,
    edge_labels: bool = True,
) -> Any:
    """The course's picture: the forward pass in blue, the backward pass in red, values and gradients.

    Every tensor shows its value and its gradient (``∂out/∂t``). Gradients come from
    ``.grad`` where the engine kept them (leaves after ``backward()``, tensors that
    called ``retain_grad()``); the others are computed here by replaying the backward
    walk on the side (nothing is written and the graph is not released), which needs
    the graph: draw before ``backward()``, or after ``backward(retain_graph=True)``.
    When the graph was released the picture says which gradients are missing and why.
    For a non-scalar output pass ``gradient=`` (the seed, as for ``backward``).

    Red arrows run from each op back to the inputs it sends gradients to, labelled
    with the gradient sent when it is a single number (``edge_labels``). Each gradient
    is coloured by its L2 norm on a log scale (``grad_range``, default 1e-6 .. 1e4, grey in the middle at 0.1):
    blue is vanishing, red exploding, grey zero, magenta NaN/inf. A ``relu`` op shows
    the fraction of zero gradients it passes back, flagged as dead ReLUs at or
    above ``dead_relu``. Other options as for `draw_forward`; with ``collapse=True``
    each module box lists its parameters' gradient norms.

    >>> import tinygraph as tg
    >>> from tinygraph.viz import draw
    >>> a, b, c = (tg.tensor(v, requires_grad=True, name=n) for v, n in ((5.0, "a"), (3.0, "b"), (2.0, "c")))
    >>> J = 3 * (a + b * c); J.name = "J"
    >>> J.backward()
    >>> src = draw(J).source
    >>> all(f"∂J/∂{n} = {v}" in src for n, v in (("a", 3), ("b", 6), ("c", 9)))
    True
    """
    where = "draw"
    walk = C.Walk(output, where)
    _check_range(grad_range, where)
    o = make_options(
        where,
        params,
        mark,
        walk,
        rankdir=rankdir,
        legend=legend,
        show_values=show_values,
        max_elements=max_elements,
        cluster=cluster,
        collapse=collapse,
        title=title,
    )
    shown, sent, why = _grads(walk, gradient)
    out_name = tensor_name(output, o)
    x = Extras(forward_colour=C.FORWARD)
    x.tensor_rows = lambda t: _grad_rows(t, shown.get(id(t)), out_name, o, grad_range, missing=t.requires_grad)
    x.op_rows, x.op_attrs = _relu_flags(walk, sent, dead_relu)
    for t in walk.order:
        x.red_out.add(id(t))
        for i, need in enumerate(t.grad_fn.needs_input_grad):
            if need:
                g = sent.get((id(t), i))
                x.red[(id(t), i)] = (
                    C.num(g.item(), o.precision) if edge_labels and g is not None and g.size == 1 else ""
                )
    x.module_rows = lambda m, ps: [
        r
        for p in ps
        if id(p) in shown
        for r in _norm_row(tensor_name(p, o).rpartition(".")[2], shown[id(p)], grad_range)
    ]
    missing = [t for t in walk.tensors if t.requires_grad and id(t) not in shown]
    if missing and why:
        x.notes.append(f"{len(missing)} gradient(s) not available: {why}.")
    if legend:
        x.legend_rows = [
            f'<TD><FONT COLOR="{C.FORWARD}">──▶</FONT></TD><TD ALIGN="LEFT">forward: values</TD>',
            f'<TD><FONT COLOR="{C.BACKWARD}">◀──</FONT></TD><TD ALIGN="LEFT">backward: gradients</TD>',
            *C.scale_legend_rows(grad_range),
        ]
    return tensor_graph(walk, o, x, where)


def _check_range(grad_range: Any, where: str) -> None:
    try:
        lo, hi = (float(v) for v in grad_range)
    except (TypeError, ValueError):
        raise TypeError(f"{where}: grad_range must be a pair (low, high), got {grad_range!r}") from None
    if not 0 < lo < hi:
        raise ValueError(f"{where}: grad_range must satisfy 0 < low < high, got {grad_range!r}")


def _grad_symbol(t: Tensor, out_name: str, o: Any) -> str:
    name = tensor_name(t, o)
    return f"∂{out_name}/∂{name}" if name and out_name else "grad"


def _grad_rows(
    t: Tensor, g: np.ndarray | None, out_name: str, o: Any, grad_range: Any, missing: bool, prefix: str = ""
) -> list[str]:
    if g is None:
        return [C.small(f"{_grad_symbol(t, out_name, o)}: not available", "#999999")] if missing else []
    fill, font, verdict = C.grad_colours(g, grad_range)
    lines = C.grad_lines(g, o.max_elements, o.precision)
    lines[0] = f"{prefix}{_grad_symbol(t, out_name, o)} = {lines[0]}"
    if verdict and verdict != "zero":
        lines.append(f"({verdict})")
    return [f'<TD BGCOLOR="{fill}"><FONT COLOR="{font}">{C.lines_html(lines)}</FONT></TD>']


def _norm_row(name: str, g: np.ndarray, grad_range: Any) -> list[str]:
    fill, font, verdict = C.grad_colours(g, grad_range)
    norm = float(np.sqrt(np.sum(g.astype(np.float64) ** 2)))
    text = f"‖∂/∂{name}‖ {C.num(norm, 3)}" + (f" ({verdict})" if verdict else "")
    return [f'<TD BGCOLOR="{fill}"><FONT COLOR="{font}" POINT-SIZE="9">{C.esc(text)}</FONT></TD>']


def _relu_flags(walk: C.Walk, sent: dict, threshold: float) -> tuple[Any, Any]:
    fractions = {}
    for t in walk.order:
        if t.grad_fn.name == "relu" and t._data.size:
            g = sent.get((id(t), 0))
            fractions[id(t)] = float(np.mean(g == 0)) if g is not None else float(np.mean(t._data == 0))

    def rows(t: Tensor) -> list[str]:
        if id(t) not in fractions:
            return []
        f = fractions[id(t)]
        if f >= threshold:
            return [f'<FONT COLOR="{C.BACKWARD}"><B>⚠ dead ReLUs: {f:.0%} zero grad</B></FONT>']
        return [C.small(f"{f:.0%} zero grad")]

    def attrs(t: Tensor) -> dict:
        if fractions.get(id(t), 0.0) >= threshold:
            return {"fillcolor": "#ffd6d6", "color": C.BACKWARD, "penwidth": "2"}
        return {}

    return rows, attrs


def backward_steps(
    output: Tensor,
    params: Any = None,
    *,
    gradient: Any = None,
    html: str | Path | None = None,
    rankdir: str = "LR",
    show_values: bool = True,
    max_elements: int = 6,
    mark: Any = None,
    grad_range: tuple[float, float] = _SCALE_DEFAULT,
) -> list:
    """One picture per step of the backward walk, in the engine's order.

    Step k processes the k-th node of the walk (highlighted in yellow): its output's
    gradient (the upstream gradient, complete by then) goes through the op's vjp, which
    sends each input ``upstream × local derivative``; the input's accumulated gradient
    so far is shown next to it. Tensors not reached yet show ``grad: —``, partial sums
    say ``so far``. A note beside the graph spells out the step's numbers: upstream,
    local derivative (the vjp of ones: the derivative itself for an elementwise op, summed
    over the output in general), gradient sent and accumulated result per input.

    Needs the graph (call it before ``backward()``, or after ``backward(retain_graph=True)``);
    changes nothing. ``html=path`` also writes one HTML page with every step as SVG
    (needs Graphviz's ``dot``). Returns the list of ``graphviz.Digraph``.

    >>> import tinygraph as tg
    >>> from tinygraph.viz import backward_steps
    >>> a, b, c = (tg.tensor(v, requires_grad=True, name=n) for v, n in ((5.0, "a"), (3.0, "b"), (2.0, "c")))
    >>> J = 3 * (a + b * c); J.name = "J"
    >>> pics = backward_steps(J)
    >>> len(pics), "step 3 of 3: mul" in pics[2].source, "∂J/∂c = 9" in pics[2].source
    (3, True, True)
    """
    where = "backward_steps"
    walk = C.Walk(output, where)
    _check_range(grad_range, where)
    try:
        rep = replay(walk, gradient, local=True)
    except Unavailable as e:
        raise RuntimeError(f"{where}: cannot replay the backward walk: {e}") from None
    o = make_options(
        where, params, mark, walk, rankdir=rankdir, legend=False, show_values=show_values, max_elements=max_elements
    )
    out_name = tensor_name(output, o)
    n = len(rep.steps)
    pictures = []
    acc: dict[int, np.ndarray] = {id(output): rep.steps[0].upstream} if n else {}
    done: set[int] = set()
    red: dict[tuple[int, int], str] = {}
    for k, step in enumerate(rep.steps, 1):
        t = step.tensor
        done.add(id(t))
        red = {key: "" for key in red}
        bold = set()
        for i, p, sent, _local, accumulated in step.sends:
            acc[id(p)] = accumulated
            red[(id(t), i)] = C.num(sent.item(), o.precision) if sent.size == 1 else ""
            bold.add((id(t), i))
        complete = {id(s.tensor) for s in rep.steps[:k]}

        rows = _step_rows(walk, dict(acc), complete, out_name, o, grad_range)
        x = Extras(forward_colour="#9fb6d6", tensor_rows=rows, red=dict(red), red_bold=bold, red_out=set(done))
        x.op_attrs = lambda u, cur=t: {"fillcolor": "#ffe066", "color": "#b7950b", "penwidth": "3"} if u is cur else {}
        x.side_node = _step_note(k, n, step, o, out_name)
        o.title = f"backward step {k} of {n}: {t.grad_fn.name}"
        pictures.append(tensor_graph(walk, o, x, where))
    if html is not None:
        Path(html).write_text(steps_html(pictures, f"Backward pass of {out_name or 'the output'}, step by step"))
    return pictures


def _step_rows(walk: C.Walk, acc: dict, complete: set, out_name: str, o: Any, grad_range: Any) -> Any:
    """The gradient row of each tensor at one step: final, partial ("so far") or not reached yet."""

    def rows(u: Tensor) -> list[str]:
        if not u.requires_grad:
            return []
        if id(u) not in acc:
            return [C.small(f"{_grad_symbol(u, out_name, o)}: —", "#999999")]
        final = id(u) in complete or all(id(c) in complete for c, _ in walk.consumers[id(u)])
        return _grad_rows(u, acc[id(u)], out_name, o, grad_range, True, "" if final else "so far: ")

    return rows


def _step_note(k: int, n: int, step: Any, o: Any, out_name: str) -> str:
    def val(a: np.ndarray | None) -> str:
        if a is None:
            return "—"
        return C.lines_html(C.value_lines(a, o.max_elements, o.precision))

    t = step.tensor
    tname = C.esc(tensor_name(t, o) or "out")
    rows = [
        f"<B>step {k} of {n}: {C.esc(t.grad_fn.name)}</B>",
        f"upstream ∂{C.esc(out_name or 'out')}/∂{tname} = {val(step.upstream)}",
    ]
    for i, p, sent, local, accumulated in step.sends:
        name = tensor_name(p, o) or f"input {i}"
        rows.append(f"<B>→ {C.esc(name)}</B>")
        rows.append(f"local ∂{tname}/∂{C.esc(name)} = {val(local)}")
        rows.append(f"sent = upstream × local = {val(sent)}")
        rows.append(f"accumulated at {C.esc(name)} = {val(accumulated)}")
    body = "".join(f'<TR><TD ALIGN="LEFT">{r}</TD></TR>' for r in rows)
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="2">{body}</TABLE>>'


def steps_html(pictures: list, title: str = "Backward pass, step by step") -> str:
    """One HTML page with each picture as inline SVG (needs Graphviz's ``dot``).

    >>> import tinygraph as tg
    >>> from tinygraph.viz import backward_steps, steps_html
    >>> x = tg.tensor(2.0, requires_grad=True, name="x")
    >>> page = steps_html(backward_steps(x * x))
    >>> page.startswith("<!DOCTYPE html>") and page.count("<svg") == 1
    True
    """
    import html as _html

    parts = []
    for k, g in enumerate(pictures, 1):
        svg = C.to_svg(g)
        svg = svg[svg.find("<svg") :]
        parts.append(f'<section id="step{k}"><h2>Step {k}</h2>\n{svg}\n</section>')
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{_html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;margin:2em} section{margin-bottom:3em}</style></head>"
        f"<body><h1>{_html.escape(title)}</h1>\n" + "\n".join(parts) + "\n</body></html>\n"
    )
