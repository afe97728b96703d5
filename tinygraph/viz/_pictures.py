"""The tensor-and-op picture shared by `draw_forward`, `draw` and `backward_steps`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tinygraph.tensor import Tensor
from tinygraph.viz import _common as C

_COMMUTATIVE = {"add", "mul", "maximum", "minimum"}


@dataclass
class Options:
    """Drawing options common to every picture (see `draw_forward` for their meaning)."""

    names: dict[int, str]
    mark_tensors: set[int]
    mark_nodes: set[int]
    rankdir: str = "LR"
    legend: bool = True
    show_values: bool = True
    max_elements: int = 6
    cluster: bool = True
    collapse: bool = False
    title: str | None = None
    precision: int = 4


@dataclass
class Extras:
    """What a particular picture adds to the plain forward picture."""

    forward_colour: str = "#4a5568"
    tensor_rows: Callable[[Tensor], list[str]] = lambda t: []
    op_rows: Callable[[Tensor], list[str]] = lambda t: []
    op_attrs: Callable[[Tensor], dict] = lambda t: {}
    # (op output tensor, input position) -> edge label; a red edge from the op back to that input
    red: dict[tuple[int, int], str] = field(default_factory=dict)
    red_bold: set[tuple[int, int]] = field(default_factory=set)
    # ids of op outputs whose gradient has reached their op: a red edge from the tensor back to its op
    red_out: set[int] = field(default_factory=set)
    faded: set[int] = field(default_factory=set)  # ids of tensors drawn faded
    module_rows: Callable[[str, list[Tensor]], list[str]] = lambda m, ps: []
    legend_rows: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    side_node: str | None = None  # an extra HTML label drawn next to the graph (the step's explanation)


def make_options(where: str, params: Any, mark: Any, walk: C.Walk, **kw: Any) -> Options:
    names = C.param_names(params, where)
    if kw.get("max_elements", 6) < 0:
        raise ValueError(f"{where}: max_elements must be >= 0, got {kw['max_elements']}")
    mt, mn = C.marked(mark, walk, where)
    return Options(names, mt, mn, **kw)


def tensor_name(t: Tensor, o: Options) -> str:
    return o.names.get(id(t)) or (t.name or "")


def tensor_label(t: Tensor, walk: C.Walk, o: Options, extra_rows: list[str], faded: bool = False) -> str:
    rows = []
    name = tensor_name(t, o)
    if name:
        rows.append(f"<B>{C.esc(name)}</B>")
    rows.append(C.small(C.esc(C.shape_text(t))))
    if o.show_values:
        rows.append(C.lines_html(C.value_lines(t._data, o.max_elements, o.precision)))
    if id(t) in o.mark_tensors:
        rows.append(f'<FONT COLOR="{C.MARK}"><B>◆ marked</B></FONT>')
    if faded:
        rows.append(C.small("from the forward pass", C.FADED))
    return C.table(rows + extra_rows)


def tensor_attrs(t: Tensor, walk: C.Walk, o: Options, faded: bool = False) -> dict:
    k = C.kind(t, walk, o.names)
    _, fill, border, style = C.KINDS[k]
    attrs = {"shape": "box", "style": style, "fillcolor": fill, "color": border}
    if faded:
        attrs.update(fillcolor="#fafafa", color=C.FADED, fontcolor="#888888")
    if id(t) in o.mark_tensors:
        attrs.update(color=C.MARK, penwidth="3.5")
    return attrs


def op_label(t: Tensor, o: Options, extra_rows: list[str]) -> str:
    node = t.grad_fn
    rows = [f"<B>{C.esc(node.name)}</B>"]
    args = C.op_args(node.name, node.inputs)
    if args:
        rows.append(C.small(C.esc(", ".join(args)), "#444444"))
    if id(node) in o.mark_nodes:
        rows.append(f'<FONT COLOR="{C.MARK}"><B>◆ marked</B></FONT>')
    return C.table(rows + extra_rows)


def tensor_graph(walk: C.Walk, o: Options, x: Extras, where: str) -> Any:
    """Build the picture: tensor boxes, op ellipses, forward edges, and whatever `x` adds."""
    g = C.new_digraph(o.rankdir, o.title, where)
    if o.cluster or o.collapse:
        op_mod, t_mod = C.modules(walk, o.names)
    else:
        op_mod, t_mod = {}, {}
    collapse = o.collapse and bool(op_mod)
    hidden: dict[int, str] = {}  # id(tensor) -> module hiding it (collapse mode)
    if collapse:
        for t in walk.tensors:
            m = t_mod.get(id(t))
            if m is None or t is walk.output:
                continue
            users = walk.consumers[id(t)]
            if t.grad_fn is None or all(op_mod.get(id(c)) == m for c, _ in users):
                hidden[id(t)] = m
    module_ids = {m: f"m{k}" for k, m in enumerate(dict.fromkeys(op_mod.values()))}

    clusters: dict[str | None, list[tuple[str, dict]]] = {}

    def put(module: str | None, nid: str, attrs: dict) -> None:
        clusters.setdefault(module if o.cluster else None, []).append((nid, attrs))

    for t in walk.tensors:
        if id(t) in hidden:
            continue
        faded = id(t) in x.faded
        attrs = tensor_attrs(t, walk, o, faded)
        attrs["label"] = tensor_label(t, walk, o, x.tensor_rows(t), faded)
        put(None if collapse else t_mod.get(id(t)), walk.tid(t), attrs)
    for t in walk.order:
        if collapse and id(t) in op_mod:
            continue
        attrs = dict(C.OP_STYLE)
        if id(t) in x.faded:
            attrs.update(fillcolor="#fafafa", color=C.FADED, fontcolor="#888888")
        attrs.update(x.op_attrs(t))
        if id(t.grad_fn) in o.mark_nodes:
            attrs.update(color=C.MARK, penwidth="3.5")
        attrs["label"] = op_label(t, o, x.op_rows(t))
        put(op_mod.get(id(t)), walk.oid(t), attrs)
    if collapse:
        for m, mid in module_ids.items():
            params = [t for t in walk.tensors if t.grad_fn is None and t_mod.get(id(t)) == m and t.requires_grad]
            n_ops = sum(1 for v in op_mod.values() if v == m)
            rows = [f"<B>{C.esc(m)}</B>", C.small(f"{n_ops} ops")]
            for p in params:
                short = tensor_name(p, o).rpartition(".")[2]
                rows.append(C.small(C.esc(f"{short} {C.shape_text(p)}"), "#333333"))
            rows += x.module_rows(m, params)
            marked = any(id(p) in o.mark_tensors for p in params) or any(
                id(t.grad_fn) in o.mark_nodes for t in walk.order if op_mod.get(id(t)) == m
            )
            attrs = {"shape": "box3d", "style": "filled", "fillcolor": "#eef5ea", "color": "#2f7d3b"}
            if marked:
                attrs.update(color=C.MARK, penwidth="3.5")
            attrs["label"] = C.table(rows)
            put(None, mid, attrs)

    for k, (module, nodes) in enumerate(clusters.items()):
        if module is None:
            for nid, attrs in nodes:
                g.node(nid, **attrs)
        else:  # (the name as an HTML label, escaped: a backslash or a quote in it must not break the DOT)
            with g.subgraph(name=f"cluster_{k}") as c:
                c.attr(
                    label=f"<{C.esc(module)}>",
                    style="rounded,dashed",
                    color="#7a9e7e",
                    fontcolor="#2f5d34",
                    fontsize="12",
                )
                for nid, attrs in nodes:
                    c.node(nid, **attrs)

    fwd = {"color": x.forward_colour}
    seen_edges: set[tuple[str, str]] = set()

    def src_of(p: Tensor) -> str:
        return module_ids[hidden[id(p)]] if id(p) in hidden else walk.tid(p)

    for t in walk.order:
        node = t.grad_fn
        m = op_mod.get(id(t)) if collapse else None
        n_tensor_in = sum(isinstance(p, Tensor) for p in node.inputs)
        for i, p in enumerate(node.inputs):
            if not isinstance(p, Tensor):
                continue
            if m is not None:
                if hidden.get(id(p)) == m or (src_of(p), module_ids[m]) in seen_edges:
                    continue
                seen_edges.add((src_of(p), module_ids[m]))
                g.edge(src_of(p), module_ids[m], **fwd)
                continue
            attrs = dict(fwd)
            if n_tensor_in > 1 and node.name not in _COMMUTATIVE:
                attrs.update(headlabel=str(i), labelfontsize="8", labelfontcolor="#666666")
            g.edge(src_of(p), walk.oid(t), **attrs)
            key = (id(t), i)
            if key in x.red:
                red = {"color": C.BACKWARD, "dir": "back", "fontcolor": C.BACKWARD}
                if x.red[key]:
                    red["label"] = x.red[key]
                if key in x.red_bold:
                    red["penwidth"] = "2.5"
                g.edge(src_of(p), walk.oid(t), **red)
        if m is not None:
            if id(t) not in hidden:
                g.edge(module_ids[m], walk.tid(t), **fwd)
        else:
            g.edge(walk.oid(t), walk.tid(t), **fwd)
            if id(t) in x.red_out:
                g.edge(walk.oid(t), walk.tid(t), color=C.BACKWARD, dir="back")

    # extra boxes go to the right of (or below) the output: an invisible edge places them there
    out_id = walk.tid(walk.output)
    if x.side_node:
        g.node("info", label=x.side_node, shape="note", style="filled", fillcolor="#fffbea", color="#b7950b")
        g.edge(out_id, "info", style="invis")
    if x.notes:
        text = "<BR/>".join(C.esc(n) for n in x.notes)
        g.node("notes", label=C.table([C.small(text, "#7a2e0e", 10)]), shape="plaintext")
        g.edge(out_id, "notes", style="invis")
    if o.legend:
        present = []
        for k in C.KINDS:
            if any(C.kind(t, walk, o.names) == k and id(t) not in hidden for t in walk.tensors):
                present.append(k)
        rows = list(x.legend_rows)
        if collapse:
            rows.insert(
                0, '<TD BGCOLOR="#eef5ea" BORDER="1" COLOR="#2f7d3b"> </TD><TD ALIGN="LEFT">module (collapsed)</TD>'
            )
        g.node("legend", label=C.legend_node(present, rows), shape="plaintext")
        g.edge(out_id, "legend", style="invis")
    return g
