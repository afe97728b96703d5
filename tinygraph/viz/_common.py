"""Shared pieces of the pictures: reading the graph, names, modules, labels, colours, rendering.

Nothing here writes to a tensor, a graph node or a ``.grad``: arrays are read
through ``t._data`` so that the in-place guard of ``Tensor.data`` is not touched.
"""

from __future__ import annotations

import functools
import html
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tinygraph.autograd import topo_order
from tinygraph.function import Context
from tinygraph.ops.describe import find as find_description
from tinygraph.tensor import Tensor

INSTALL_HELP = (
    "Graphviz's `dot` program was not found on PATH, so the picture cannot be rendered "
    "(building it and reading its DOT `.source` still work). Install Graphviz: "
    "`sudo apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
    "`conda install graphviz`, or see https://graphviz.org/download/"
)


class GraphvizNotFoundError(RuntimeError):
    """Rendering needs Graphviz's ``dot`` program and it is not installed (the message says how to install it)."""


# ----- colours ---------------------------------------------------------------------------------

FORWARD = "#2b6cb0"  # blue arrows: values flow forward
BACKWARD = "#c53030"  # red arrows: derivatives flow backward
MARK = "#d6007e"
ACCUMULATE = "#dd6b20"
FADED = "#b8b8b8"

KINDS = {
    # kind: (legend text, fill, border, style)
    "parameter": ("parameter", "#d9f0dd", "#2f7d3b", "rounded,filled"),
    "leaf": ("leaf that requires grad", "#fff2c2", "#a67c00", "rounded,filled"),
    "constant": ("constant (no grad)", "#f1f1f1", "#9a9a9a", "rounded,filled,dashed"),
    "intermediate": ("intermediate", "#e6eefc", "#5677b0", "rounded,filled"),
    "output": ("output", "#fde0cc", "#c05621", "rounded,filled,bold"),
}
OP_STYLE = {"shape": "ellipse", "style": "filled", "fillcolor": "#f1ecfa", "color": "#6b5b95"}

# a diverging scale for log10 of a gradient's norm: blue (vanishing), grey (ordinary), red (exploding)
_STOPS = [
    (-1.0, (59, 76, 192)),
    (-0.5, (141, 176, 254)),
    (0.0, (221, 221, 221)),
    (0.5, (244, 154, 123)),
    (1.0, (180, 4, 38)),
]


def scale_position(norm: float, grad_range: tuple[float, float]) -> float:
    """Where a gradient norm falls on the colour scale, -1 (vanishing) .. 1 (exploding), log10 spaced."""
    lo, hi = math.log10(grad_range[0]), math.log10(grad_range[1])
    x = math.log10(norm) if norm > 0 else -math.inf
    return max(-1.0, min(1.0, 2.0 * (x - lo) / (hi - lo) - 1.0))


def scale_colour(pos: float) -> str:
    """The hex colour at position ``pos`` (-1..1) of the diverging gradient scale."""
    for (p0, c0), (p1, c1) in zip(_STOPS, _STOPS[1:]):
        if pos <= p1:
            f = (pos - p0) / (p1 - p0)
            return "#" + "".join(f"{round(a + (b - a) * f):02x}" for a, b in zip(c0, c1))
    return "#b40426"


def grad_colours(arr: np.ndarray, grad_range: tuple[float, float]) -> tuple[str, str, str]:
    """(fill, font colour, verdict) for a gradient array: its L2 norm on the log scale."""
    with np.errstate(all="ignore"):
        a = arr.astype(np.float64, copy=False)
        if not np.isfinite(a).all():
            return "#ff4fd8", "#000000", "NaN/inf"
        norm = float(np.sqrt(np.sum(a * a)))
    if norm == 0.0:
        return "#bdbdbd", "#000000", "zero"
    pos = scale_position(norm, grad_range)
    verdict = "vanishing" if pos <= -0.75 else "exploding" if pos >= 0.75 else ""
    return scale_colour(pos), "#ffffff" if abs(pos) > 0.6 else "#000000", verdict


# ----- reading the graph ---------------------------------------------------------------------


class Walk:
    """The tensors and op nodes from the inputs to `output`, read without changing anything.

    ``order``: tensors that have a node, each after its inputs (the engine's
    ``topo_order``; backward walks it reversed). ``tensors``: every tensor of
    the graph (leaves included), each after its inputs. ``consumers[id(t)]``:
    ``(op output tensor, argument position)`` for every use of ``t``.
    """

    def __init__(self, output: Any, where: str) -> None:
        if not isinstance(output, Tensor):
            compiled = callable(getattr(output, "graph", None))  # a tg.compile'd function: its graph is per call
            hint = "; draw the graph of a call of a compiled function with its .graph(*args)" if compiled else ""
            raise TypeError(f"{where}: expected a Tensor to draw, got {type(output).__name__}{hint}")
        self.output = output
        self.order: list[Tensor] = topo_order([output])
        self.tensors: list[Tensor] = []
        self.index: dict[int, int] = {}
        for t in self.order:
            for p in t.grad_fn.inputs:
                if isinstance(p, Tensor) and p.grad_fn is None:
                    self._add(p)
            self._add(t)
        if not self.order:
            self._add(output)
        self.consumers: dict[int, list[tuple[Tensor, int]]] = defaultdict(list)
        for t in self.order:
            for i, p in enumerate(t.grad_fn.inputs):
                if isinstance(p, Tensor):
                    self.consumers[id(p)].append((t, i))
        self.by_node = {id(t.grad_fn): t for t in self.order}

    def _add(self, t: Tensor) -> None:
        if id(t) not in self.index:
            self.index[id(t)] = len(self.tensors)
            self.tensors.append(t)

    def tid(self, t: Tensor) -> str:
        return f"t{self.index[id(t)]}"

    def oid(self, t: Tensor) -> str:
        return f"op{self.index[id(t)]}"

    def released(self) -> bool:
        return any(t.grad_fn.released for t in self.order)


def param_names(params: Any, where: str) -> dict[int, str]:
    """id(tensor) -> name from a mapping, a Module (``named_parameters()``) or (name, tensor) pairs."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        items: Iterable = params.named_parameters()
    elif isinstance(params, Mapping):
        items = params.items()
    else:
        items = params
    out: dict[int, str] = {}
    try:
        for name, t in items:
            if not isinstance(t, Tensor):
                raise TypeError(f"{where}: params[{name!r}] is a {type(t).__name__}, not a Tensor")
            out.setdefault(id(t), str(name))
    except (TypeError, ValueError) as e:
        if str(e).startswith(where):
            raise
        raise TypeError(
            f"{where}: params must map names to tensors (e.g. dict(model.named_parameters())), "
            f"got {type(params).__name__}"
        ) from None
    return out


def kind(t: Tensor, walk: Walk, names: dict[int, str]) -> str:
    if t is walk.output:
        return "output"
    if t.grad_fn is not None:
        return "intermediate"
    if id(t) in names:
        return "parameter"
    return "leaf" if t.requires_grad else "constant"


def modules(walk: Walk, names: dict[int, str]) -> tuple[dict[int, str], dict[int, str]]:
    """Module of each op (keyed by id of its output) and of each tensor, from dotted parameter names.

    A parameter ``layers.0.weight`` belongs to module ``layers.0``. An op belongs to a
    module when it reads a parameter of that module, directly or through ops that read
    only that module's parameters and scalar constants (``W.T`` before ``x @ W.T``). Ops
    that read no parameter (activations, the loss) stay outside every module.
    """

    # a 0-d constant (a Python number an op wrapped, mean's 1/n) is neutral; a larger constant is data
    def neutral(p: Tensor) -> bool:
        return p.grad_fn is None and not p.requires_grad and p._data.ndim == 0

    pure: dict[int, str] = {}
    for t in walk.tensors:
        if t.grad_fn is None and "." in names.get(id(t), ""):
            pure[id(t)] = names[id(t)].rpartition(".")[0]
    op_mod: dict[int, str] = {}
    for t in walk.order:
        ins = [p for p in t.grad_fn.inputs if isinstance(p, Tensor)]
        mods = {pure[id(p)] for p in ins if id(p) in pure}
        if len(mods) == 1:
            (m,) = mods
            op_mod[id(t)] = m
            if all(id(p) in pure or neutral(p) for p in ins):
                pure[id(t)] = m
    t_mod: dict[int, str] = {}
    for t in walk.tensors:
        if t.grad_fn is None:
            if id(t) in pure:
                t_mod[id(t)] = pure[id(t)]
            elif neutral(t) and t is not walk.output:
                users = {op_mod.get(id(c)) for c, _ in walk.consumers[id(t)]}
                if len(users) == 1 and None not in users:
                    t_mod[id(t)] = users.pop()
        elif id(t) in op_mod and t is not walk.output:
            t_mod[id(t)] = op_mod[id(t)]
    return op_mod, t_mod


def _counterpart(report: Any, node: Context, walk: Walk) -> Context | None:
    """A gradcheck report's culprit is a node of the float64 copy of the graph gradcheck ran: the node of
    this graph in its place (the same op, the same rank among that op's nodes in forward order), if the
    two graphs hold as many of that op's nodes."""
    theirs = [c.node for c in getattr(report, "nodes", ()) if c.node.fn is node.fn]
    ours = [t.grad_fn for t in walk.order if t.grad_fn.fn is node.fn]
    rank = next((i for i, n in enumerate(theirs) if n is node), None)
    return ours[rank] if rank is not None and len(theirs) == len(ours) else None


def marked(mark: Any, walk: Walk, where: str) -> tuple[set[int], set[int]]:
    """(ids of marked tensors, ids of marked op nodes (Context)) from `mark`.

    `mark` is a Tensor, a Context, an object with ``.culprit`` (a gradcheck report)
    or ``.node`` (an AnomalyError), or a list of those.
    """
    if mark is None:
        return set(), set()
    items = list(mark) if isinstance(mark, (list, tuple, set)) else [mark]
    tensors, nodes = set(), set()
    missing = []
    for m in items:
        report = m if not isinstance(m, (Tensor, Context)) and hasattr(m, "culprit") else None
        for attr in ("culprit", "node"):
            if not isinstance(m, (Tensor, Context)) and hasattr(m, attr):
                m = getattr(m, attr)
        if m is None:
            continue
        if report is not None and isinstance(m, Context) and id(m) not in walk.by_node:
            m = _counterpart(report, m, walk) or m
        if isinstance(m, Tensor):
            (tensors.add(id(m)) if id(m) in walk.index else missing.append(m))
        elif isinstance(m, Context):
            (nodes.add(id(m)) if id(m) in walk.by_node else missing.append(m))
        else:
            raise TypeError(f"{where}: mark= takes tensors or graph nodes (Context), got {type(m).__name__}")
    if missing:
        warnings.warn(f"{where}: mark= names {len(missing)} item(s) not in this graph: {missing!r}", stacklevel=3)
    return tensors, nodes


# ----- text --------------------------------------------------------------------------------------


def esc(s: Any) -> str:
    """Text for an HTML label: escaped, a newline a line break (graphviz would drop it)."""
    return html.escape(str(s), quote=False).replace("\n", "<BR/>")


def num(x: Any, precision: int = 4) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    x = float(x)
    if x == 0:
        return "0"
    return f"{x:.{precision}g}"


def shape_text(t: Tensor) -> str:
    a = t._data
    return f"{'scalar' if a.ndim == 0 else tuple(a.shape)} {a.dtype}"


def value_lines(a: np.ndarray, max_elements: int, precision: int = 4) -> list[str]:
    """The values of a small array, or a summary (mean, std, min, max) of a large one."""
    if a.size == 0:
        return ["empty"]
    if a.size <= max_elements:
        if a.ndim == 0:
            return [num(a.item(), precision)]
        if a.ndim == 1:
            return ["[" + ", ".join(num(v, precision) for v in a) + "]"]
        if a.ndim == 2 and a.shape[1] == 1 and a.shape[0] > 1:  # a column, written as a transposed row
            return ["[" + ", ".join(num(v, precision) for v in a[:, 0]) + "]ᵀ"]
        rows = a.reshape(-1, a.shape[-1])
        body = ["[" + ", ".join(num(v, precision) for v in r) + "]" for r in rows]
        if len(body) == 1:
            return ["[" + body[0] + "]"]
        return ["[" + body[0]] + [" " + b for b in body[1:-1]] + [" " + body[-1] + "]"]
    if a.dtype.kind == "b":
        return [f"{int(a.sum())} of {a.size} True"]
    with np.errstate(all="ignore"):
        f = a.astype(np.float64, copy=False)
        ok = f[np.isfinite(f)]
        bad = a.size - ok.size
        if not ok.size:
            return [f"all {a.size} NaN/inf"]
        lines = [
            f"mean {num(ok.mean(), 3)}  std {num(ok.std(), 3)}",
            f"min {num(ok.min(), 3)}  max {num(ok.max(), 3)}",
        ]
    if bad:
        lines.append(f"{bad} NaN/inf")
    return lines


def grad_lines(a: np.ndarray, max_elements: int, precision: int = 4) -> list[str]:
    if a.size <= max_elements:
        return value_lines(a, max_elements, precision)
    with np.errstate(all="ignore"):
        f = a.astype(np.float64, copy=False)
        return [f"‖g‖ {num(np.sqrt(np.sum(f * f)), 3)}", f"max |g| {num(np.max(np.abs(f)), 3)}"]


def op_args(name: str, inputs: tuple) -> list[str]:
    """The non-tensor arguments of an op as short ``name=value`` texts (None and False left out).

    The names come from the op's description (`tinygraph.ops.describe`); an op without one
    shows its arguments' values alone.

    >>> x = Tensor(1.0)
    >>> op_args("sum", (x, (0,), True)), op_args("clip", (x, -1.0, None)), op_args("my_op", (x, 2))
    (['axis=(0,)', 'keepdims'], ['min=-1'], ['2'])
    """
    args = [a for a in inputs if not isinstance(a, Tensor)]
    description = find_description(name)
    names = description.args if description is not None else ()
    out = []
    for k, a in enumerate(args):
        key = names[k] if k < len(names) else ""
        if a is None or (a is False and key):
            continue
        if a is True and key:
            out.append(key)
        else:
            out.append(f"{key}={fmt_arg(a)}" if key else fmt_arg(a))
    return out


def fmt_arg(x: Any) -> str:
    """A non-tensor op argument (axis, shape, index) as short text."""
    if isinstance(x, slice):
        parts = ["" if v is None else str(v) for v in (x.start, x.stop, x.step)]
        return ":".join(parts[:2]) + (f":{parts[2]}" if x.step is not None else "")
    if isinstance(x, np.ndarray):
        return f"array{tuple(x.shape)}"
    if isinstance(x, (np.dtype, type)):
        return str(np.dtype(x))
    if isinstance(x, tuple):
        if len(x) and all(isinstance(v, (slice, int, np.integer, type(None), type(Ellipsis))) for v in x):
            if any(isinstance(v, slice) for v in x):
                return "[" + ", ".join("None" if v is None else "..." if v is Ellipsis else fmt_arg(v) for v in x) + "]"
        return "(" + ", ".join(fmt_arg(v) for v in x) + ("," if len(x) == 1 else "") + ")"
    if isinstance(x, (list,)):
        return "[" + ", ".join(fmt_arg(v) for v in x) + "]"
    if isinstance(x, float):
        return num(x)
    s = repr(x)
    return s if len(s) <= 24 else s[:21] + "..."


def table(rows: list[str], border: str = "0") -> str:
    """An HTML-like graphviz label made of rows (each already escaped/marked up)."""
    body = "".join(f"<TR>{r}</TR>" if r.startswith("<TD") else f"<TR><TD>{r}</TD></TR>" for r in rows)
    return f'<<TABLE BORDER="{border}" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{body}</TABLE>>'


def small(text: str, colour: str = "#555555", size: int = 9) -> str:
    return f'<FONT POINT-SIZE="{size}" COLOR="{colour}">{text}</FONT>'


def lines_html(lines: list[str]) -> str:
    return "<BR/>".join(esc(s) for s in lines)


# ----- the Digraph and rendering -------------------------------------------------------------


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            "tinygraph.viz needs the graphviz Python package: pip install graphviz "
            "(and Graphviz's dot program to render: apt-get install graphviz, or https://graphviz.org/download/)"
        ) from None
    return graphviz


@functools.cache
def _picture_class() -> type:
    graphviz = _import_graphviz()

    class Picture(graphviz.Digraph):
        """A ``graphviz.Digraph`` whose rendering explains how to install Graphviz when ``dot`` is missing."""

        def pipe(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise GraphvizNotFoundError(INSTALL_HELP) from e

        def render(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise GraphvizNotFoundError(INSTALL_HELP) from e

        def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **kwargs: Any) -> dict:
            try:
                return super()._repr_mimebundle_(include, exclude, **kwargs)
            except GraphvizNotFoundError:
                return {"text/plain": INSTALL_HELP}

    return Picture


def new_digraph(rankdir: str, title: str | None, where: str) -> Any:
    if rankdir not in ("LR", "RL", "TB", "BT"):
        raise ValueError(f"{where}: rankdir must be 'LR', 'RL', 'TB' or 'BT', got {rankdir!r}")
    g = _picture_class()(
        name="tinygraph",
        graph_attr={
            "rankdir": rankdir,
            "fontname": "Helvetica",
            "nodesep": "0.25",
            "ranksep": "0.35",
            "bgcolor": "white",
            "labelloc": "t",
            "fontsize": "14",
        },
        node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "box", "margin": "0.08,0.04"},
        edge_attr={"fontname": "Helvetica", "fontsize": "9", "arrowsize": "0.7"},
    )
    if title:
        g.attr(label=table([f"<B>{esc(title)}</B>"]))
    return g


def render(graph: Any, path: str | Path, format: str | None = None) -> Path:  # noqa: A002 - graphviz's name
    """Render a picture to a file (SVG, PNG, PDF, ...) and return its path.

    The format comes from ``format`` or the file's suffix (default SVG). When
    Graphviz's ``dot`` program is missing this raises `GraphvizNotFoundError`
    saying how to install it.

    >>> import tempfile, os, tinygraph as tg
    >>> from tinygraph.viz import draw_forward, render
    >>> x = tg.tensor(2.0, requires_grad=True, name="x")
    >>> p = render(draw_forward(x * x), os.path.join(tempfile.mkdtemp(), "square.svg"))
    >>> p.suffix, p.read_text().count("<svg") == 1
    ('.svg', True)
    """
    graphviz = _import_graphviz()
    path = Path(path)
    fmt = format or (path.suffix[1:].lower() if path.suffix else "svg")
    if not path.suffix:
        path = path.with_suffix("." + fmt)
    try:
        data = graph.pipe(format=fmt)
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFoundError(INSTALL_HELP) from e
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def to_svg(graph: Any) -> str:
    """The picture as SVG text (needs Graphviz's ``dot``).

    >>> import tinygraph as tg
    >>> from tinygraph.viz import draw_forward, to_svg
    >>> x = tg.tensor(2.0, requires_grad=True)
    >>> to_svg(draw_forward(x + 1)).lstrip().startswith("<?xml")
    True
    """
    graphviz = _import_graphviz()
    try:
        return graph.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFoundError(INSTALL_HELP) from e


def legend_node(kinds_present: list[str], extra_rows: list[str] | None = None) -> str:
    """The label of the legend: one swatch per tensor kind present, the op, then extra rows."""
    rows = ['<TD COLSPAN="2"><B>legend</B></TD>']
    for k in kinds_present:
        text, fill, border, style = KINDS[k]
        rows.append(
            f'<TD BGCOLOR="{fill}" BORDER="1" COLOR="{border}" WIDTH="18"> </TD><TD ALIGN="LEFT">{esc(text)}</TD>'
        )
    rows.append(
        f'<TD BGCOLOR="{OP_STYLE["fillcolor"]}" BORDER="1" COLOR="{OP_STYLE["color"]}" WIDTH="18"> </TD>'
        '<TD ALIGN="LEFT">op (ellipse)</TD>'
    )
    rows.extend(extra_rows or [])
    body = "".join(f"<TR>{r}</TR>" for r in rows)
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">{body}</TABLE>>'


def scale_legend_rows(grad_range: tuple[float, float]) -> list[str]:
    """Legend rows showing the gradient-norm colour bar."""
    lo, hi = math.log10(grad_range[0]), math.log10(grad_range[1])
    cells = []
    for k in range(9):
        pos = -1 + k / 4
        e = lo + (pos + 1) / 2 * (hi - lo)
        text = f"1e{round(e)}" if k % 2 == 0 else ""
        font = "#ffffff" if abs(pos) > 0.6 else "#000000"
        inner = f'<FONT POINT-SIZE="8" COLOR="{font}">{text}</FONT>' if text else " "
        cells.append(f'<TD BGCOLOR="{scale_colour(pos)}" WIDTH="26">{inner}</TD>')
    bar = '<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2"><TR>' + "".join(cells) + "</TR></TABLE>"
    return [
        '<TD COLSPAN="2" ALIGN="LEFT">gradient norm ‖g‖ (log scale)</TD>',
        f'<TD COLSPAN="2">{bar}</TD>',
        '<TD COLSPAN="2" ALIGN="LEFT"><FONT POINT-SIZE="9">blue: vanishing · red: exploding · grey: zero</FONT></TD>',
    ]
