"""tinygraph.viz: DOT structure of the pictures, the values and gradients they carry, and no side effects."""

import html
import re
import shutil
import warnings
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import numpy as np
import pytest

import tinygraph as tg
from tinygraph import viz
from tinygraph.autograd import topo_order

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")

NODE = re.compile(r"^\s*(\w+) \[(.*)\]$", re.M)
EDGE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)


def nodes(src):
    """node id -> attribute text, for every node statement in the DOT source."""
    return {m.group(1): m.group(2) for m in NODE.finditer(src) if m.group(1) not in ("graph", "node", "edge")}


def edges(src, visible=True):
    out = [(a, b, attrs or "") for a, b, attrs in EDGE.findall(src)]
    return [e for e in out if not visible or "invis" not in e[2]]


def text(attrs):
    """The visible text of a node's HTML label: tags dropped, one string."""
    m = re.search(r"label=<(.*)>", attrs)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1))).strip() if m else ""


def course():
    a, b, c = (tg.tensor(v, requires_grad=True, name=n) for v, n in ((5.0, "a"), (3.0, "b"), (2.0, "c")))
    u = b * c
    v = a + u
    J = 3 * v
    u.name, v.name, J.name = "u", "v", "J"
    return a, b, c, u, v, J


def two_layer(seed=0):
    rng = np.random.default_rng(seed)
    shapes = {"layers.0.weight": (3, 2), "layers.0.bias": (3,), "layers.2.weight": (1, 3), "layers.2.bias": (1,)}
    P = {k: tg.tensor(rng.normal(size=s), requires_grad=True) for k, s in shapes.items()}
    x = tg.tensor(rng.normal(size=(5, 2)), name="x")
    h = tg.relu(x @ P["layers.0.weight"].T + P["layers.0.bias"])
    out = tg.sigmoid(h @ P["layers.2.weight"].T + P["layers.2.bias"])
    return P, x, h, (out * out).mean()


# ----- draw_forward ------------------------------------------------------------------------------


def test_forward_counts_match_the_graph():
    a, b, c, u, v, J = course()
    src = viz.draw_forward(J, legend=False).source
    ns = nodes(src)
    assert sorted(k for k in ns if k.startswith("t")) == [f"t{i}" for i in range(7)]  # a b c u 3 v J
    assert len([k for k in ns if k.startswith("op")]) == 3
    assert len(edges(src)) == 9  # 6 tensor -> op, 3 op -> tensor

    x = tg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * x - x).sum(axis=0)  # x used three times; sum has non-tensor arguments
    order = topo_order([y])
    tensors = {id(t) for t in order} | {id(p) for t in order for p in t._node.inputs if isinstance(p, tg.Tensor)}
    uses = sum(isinstance(p, tg.Tensor) for t in order for p in t._node.inputs)
    src = viz.draw_forward(y, legend=False).source
    ns = nodes(src)
    assert len([k for k in ns if k.startswith("t")]) == len(tensors) == 4
    assert len([k for k in ns if k.startswith("op")]) == len(order) == 3
    assert len(edges(src)) == uses + len(order) == 8
    x_id = [k for k, a in ns.items() if k.startswith("t") and "[[1, 2]" in text(a)][0]
    assert sum(1 for s, _, _ in edges(src) if s == x_id) == 3
    assert "axis=(0,)" in text(ns[[k for k, a in ns.items() if "sum" in text(a)][0]])


def test_course_labels_carry_values_and_kinds():
    a, b, c, u, v, J = course()
    ns = nodes(viz.draw_forward(J).source)
    labels = {text(attrs).split(" ")[0]: text(attrs) for k, attrs in ns.items() if k.startswith("t")}
    for name, value in (("a", "5"), ("b", "3"), ("c", "2"), ("u", "6"), ("v", "11"), ("J", "33")):
        assert f"scalar float64 {value}" in labels[name], labels[name]
    # kinds: leaves that require grad, the wrapped 3 as a constant, intermediates, the output
    fills = {
        text(attrs).split(" ")[0]: re.search(r'fillcolor="(#\w+)"', attrs).group(1)
        for k, attrs in ns.items()
        if k.startswith("t")
    }
    assert fills["a"] == fills["b"] == fills["c"] == viz._common.KINDS["leaf"][1]
    assert fills["u"] == fills["v"] == viz._common.KINDS["intermediate"][1]
    assert fills["J"] == viz._common.KINDS["output"][1]
    assert fills["scalar"] == viz._common.KINDS["constant"][1]  # the unnamed constant 3
    legend = text(ns["legend"])
    for word in ("leaf that requires grad", "constant (no grad)", "intermediate", "output", "op"):
        assert word in legend


def test_params_names_and_summaries():
    P, x, h, loss = two_layer()
    ns = nodes(viz.draw_forward(loss, P, max_elements=5).source)
    labels = [text(a) for k, a in ns.items() if k.startswith("t")]
    w = [s for s in labels if s.startswith("layers.0.weight")][0]
    assert (
        "(3, 2) float64" in w and "mean" in w and "std" in w and "min" in w and "max" in w
    )  # 6 elements > 5: a summary
    assert any(s.startswith("layers.0.bias (3,) float64 [") for s in labels)  # 3 elements: values
    assert any(s.startswith("x (5, 2) float64 mean") for s in labels)
    param_fill = viz._common.KINDS["parameter"][1]
    assert sum(param_fill in a for k, a in ns.items() if k.startswith("t")) == 4
    with pytest.raises(TypeError, match="draw_forward: params"):
        viz.draw_forward(loss, {"w": 3.0})
    with pytest.raises(TypeError, match="draw_forward: expected a Tensor"):
        viz.draw_forward(np.ones(3))
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw_forward(loss, rankdir="sideways")


def test_module_clusters_and_collapse():
    P, x, h, loss = two_layer()
    src = viz.draw_forward(loss, P, legend=False).source
    # each module a cluster, named by its label (an HTML label: the name escaped, whatever it holds)
    blocks = {
        m.group(1): m.group(0)
        for m in re.finditer(r"subgraph cluster_\d+ \{\n\t\t[^\n]*label=<([^>]*)>.*?\n\t\}", src, re.S)
    }
    assert set(blocks) == {"layers.0", "layers.2"}
    ns = nodes(src)

    def ids_in(block):
        return {m.group(1) for m in NODE.finditer(block) if m.group(1) in ns}

    def ops(ids):
        return sorted(text(ns[i]).split(" ")[0] for i in ids if i.startswith("op"))

    assert ops(ids_in(blocks["layers.0"])) == ["add", "matmul", "transpose"]
    assert ops(ids_in(blocks["layers.2"])) == ["add", "matmul", "transpose"]
    names0 = {text(ns[i]).split(" ")[0] for i in ids_in(blocks["layers.0"])}
    assert {"layers.0.weight", "layers.0.bias"} <= names0 and "x" not in names0
    outside = set(ns) - ids_in(blocks["layers.0"]) - ids_in(blocks["layers.2"])
    assert "relu" in ops(outside) and "sigmoid" in ops(outside)

    src = viz.draw_forward(loss, P, collapse=True, legend=False).source
    ns = nodes(src)
    boxes = {k: text(a) for k, a in ns.items() if k.startswith("m")}
    assert sorted(t.split(" ")[0] for t in boxes.values()) == ["layers.0", "layers.2"]
    assert all("3 ops" in t for t in boxes.values())
    assert not any("layers.0.weight" in text(a) for k, a in ns.items() if k.startswith("t"))
    m0 = [k for k, t in boxes.items() if t.startswith("layers.0")][0]
    x_id = [k for k, a in ns.items() if text(a).startswith("x ")][0]
    assert (x_id, m0) in {(s, d) for s, d, _ in edges(src)}
    assert len([k for k in ns if k.startswith("op")]) == len(topo_order([loss])) - 6


def test_clusters_with_nn_linear():
    nn = pytest.importorskip("tinygraph.nn")
    if not hasattr(nn, "Linear") or not hasattr(nn, "Sequential"):
        pytest.skip("tinygraph.nn.Linear/Sequential not there yet")
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    loss = model(tg.tensor(np.ones((4, 2)))).sum()
    names = dict(model.named_parameters())
    modules = sorted({n.rpartition(".")[0] for n in names})
    src = viz.draw_forward(loss, model, legend=False).source
    assert sorted(re.findall(r"subgraph cluster_\d+ \{\n\t\t[^\n]*label=<([^>]*)>", src)) == modules


# ----- draw (values and gradients) ---------------------------------------------------------------


def test_draw_after_backward_shows_gradients_3_6_9():
    a, b, c, u, v, J = course()
    J.backward()
    src = viz.draw(J).source
    for name, g in (("a", 3), ("b", 6), ("c", 9), ("J", 1)):
        assert f"∂J/∂{name} = {g}<" in src
    assert "∂J/∂u: not available" in src and "released" in src  # not retained, graph gone: said so
    reds = [e for e in edges(src) if "#c53030" in e[2]]
    assert len(reds) == 5 + 3  # each input that needs grad (5), each op output (3)
    assert all("dir=back" in e[2] for e in reds)


def test_draw_before_backward_replays_gradients_without_side_effects():
    a, b, c, u, v, J = course()
    versions = [t._version for t in (a, b, c, u, v, J)]
    src = viz.draw(J).source
    for name, g in (("a", 3), ("b", 6), ("c", 9), ("u", 3), ("v", 3)):
        assert f"∂J/∂{name} = {g}<" in src
    assert "label=6 " in src or "label=6]" in src  # the red edge mul -> b carries the 6 it sends
    assert all(t.grad is None for t in (a, b, c, u, v, J))
    assert not any(t._node.released for t in topo_order([J]))
    assert [t._version for t in (a, b, c, u, v, J)] == versions and all(
        t._mem is None or not t._mem.handed for t in (a, b, c)
    )
    J.backward()
    assert (a.grad.item(), b.grad.item(), c.grad.item()) == (3.0, 6.0, 9.0)


def test_drawing_changes_nothing_after_backward():
    P, x, h, loss = two_layer()
    h.retain_grad()
    loss.backward(retain_graph=True)
    before = {k: (p.grad, p.grad._data.copy(), p._data.copy()) for k, p in P.items()}
    hgrad = h.grad._data.copy()
    for fn in (viz.draw, viz.draw_forward, viz.draw_backward):
        fn(loss, P)
    viz.draw(loss, P, collapse=True)
    viz.backward_steps(loss, P)
    for k, p in P.items():
        g, gd, d = before[k]
        assert p.grad is g and np.array_equal(p.grad._data, gd) and np.array_equal(p._data, d)
    assert np.array_equal(h.grad._data, hgrad)
    assert not any(t._node.released for t in topo_order([loss]))


def test_replayed_intermediate_gradients_match_the_engine():
    P, x, h, loss = two_layer()
    pre = h._node.inputs[0]  # relu's input
    (gh, gpre) = tg.grad(loss, [h, pre], retain_graph=True)
    src = viz.draw(loss, P, max_elements=100).source
    ns = nodes(src)
    h_label = [text(a) for k, a in ns.items() if k == f"t{viz._common.Walk(loss, 't').index[id(h)]}"][0]
    first = float(re.search(r"grad = \[\[([-\de.]+)", h_label).group(1))
    assert first == pytest.approx(gh._data[0, 0], rel=1e-3, abs=1e-6)
    # replay leaves equal the engine's .grad
    rep = viz._replay.replay(viz._common.Walk(loss, "t"))
    loss.backward(retain_graph=True)
    for p in P.values():
        np.testing.assert_allclose(rep.totals[id(p)], p.grad._data, rtol=1e-12)
    np.testing.assert_allclose(rep.totals[id(pre)], gpre._data, rtol=1e-12)


def test_gradient_colours_and_dead_relus():
    x = tg.tensor([1.0, -2.0, 3.0, 4.0], requires_grad=True, name="x")
    src = viz.draw(tg.relu(x).sum() * 1e-9).source
    assert "(vanishing)" in src and "25% zero grad" in src and "dead ReLUs" not in src
    assert "dead ReLUs: 25% zero grad" in viz.draw(tg.relu(x).sum(), dead_relu=0.2).source
    assert "(exploding)" in viz.draw((x * 1e6).sum()).source
    lo = viz._common.grad_colours(np.array([1e-9]), (1e-6, 1e4))[0]
    mid = viz._common.grad_colours(np.array([0.1]), (1e-6, 1e4))[0]
    hi = viz._common.grad_colours(np.array([1e6]), (1e-6, 1e4))[0]
    assert (lo, mid, hi) == ("#3b4cc0", "#dddddd", "#b40426")
    assert viz._common.grad_colours(np.array([np.nan]), (1e-6, 1e4))[2] == "NaN/inf"
    with pytest.raises(ValueError, match="grad_range"):
        viz.draw(x.sum(), grad_range=(1.0, 0.1))


def test_mark_highlights_tensors_and_nodes():
    a, b, c, u, v, J = course()
    walk = viz._common.Walk(J, "t")
    src = viz.draw_forward(J, mark=[u, v._node], legend=False).source
    ns = nodes(src)
    marked = {k for k, a in ns.items() if "penwidth=3.5" in a}
    assert marked == {walk.tid(u), walk.oid(v)}
    assert "marked" in text(ns[walk.tid(u)]) and "add" in text(ns[walk.oid(v)])
    report = SimpleNamespace(culprit=u._node)  # what gradcheck's report / AnomalyError carry
    bsrc = viz.draw_backward(J, mark=report, legend=False).source
    marked = [text(a) for k, a in nodes(bsrc).items() if "penwidth=3.5" in a]
    assert len(marked) == 1 and "mul" in marked[0] and "marked" in marked[0]
    assert sum("penwidth=3.5" in a for a in nodes(viz.draw(J, mark=a).source).values()) == 1
    other = tg.tensor(1.0, requires_grad=True)
    with pytest.warns(UserWarning, match="not in this graph"):
        viz.draw_forward(J, mark=other)


# ----- draw_backward ------------------------------------------------------------------------------


def test_backward_order_matches_the_engine():
    rng = np.random.default_rng(1)
    X = tg.tensor(rng.normal(size=(2, 5)))
    Y = tg.tensor((rng.random((1, 5)) > 0.5).astype(float))
    w = tg.tensor(rng.normal(size=(2, 1)), requires_grad=True, name="w")
    b = tg.tensor(0.0, requires_grad=True, name="b")
    A = tg.sigmoid(w.T @ X + b)
    cost = -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).mean()
    walk_order = list(reversed(topo_order([cost])))
    src = viz.draw_backward(cost, legend=False).source
    ns = nodes(src)
    steps = sorted((int(k[1:]), text(a)) for k, a in ns.items() if re.fullmatch(r"b\d+", k))
    assert [s for s, _ in steps] == list(range(1, len(walk_order) + 1))
    assert [lab.split(" ")[1] for _, lab in steps] == [t._node.name for t in walk_order]
    # edges: one per input that needs a gradient, plus the seed
    sends = sum(sum(t._node.needs_input_grad) for t in walk_order)
    assert len(edges(src)) == sends + 1
    # A feeds log(A) and 1 - A: an accumulation point; so does sigmoid's output? no: only A
    acc = [lab for _, lab in steps if "Σ of 2 gradients" in lab]
    assert len(acc) == 1 and "sigmoid" in acc[0]
    leaves = sorted(text(a).split(" ")[0] for k, a in ns.items() if k.startswith("acc"))
    assert leaves == ["b", "w"]


def test_backward_graph_of_a_gradient():
    x = tg.tensor(2.0, requires_grad=True, name="x")
    y = x**3
    (dx,) = tg.grad(y, [x], create_graph=True)
    src = viz.draw_backward(y, of_gradient=dx).source
    assert "graph of a gradient" in src and "from the forward pass" in src
    ns = nodes(src)
    gwalk = viz._common.Walk(dx, "t")
    assert len([k for k in ns if k.startswith("op")]) == len(gwalk.order)
    assert "12" in text(ns[gwalk.tid(dx)])  # 3 x^2 = 12
    with pytest.raises(ValueError, match="create_graph=True"):
        viz.draw_backward(y, of_gradient=tg.grad(x**3, [x])[0])


# ----- backward_steps -------------------------------------------------------------------------------


def test_backward_steps_show_upstream_local_and_accumulated(tmp_path):
    x = tg.tensor(3.0, requires_grad=True, name="x")
    y = x * x + x
    y.name = "y"
    pics = viz.backward_steps(y)
    assert len(pics) == len(topo_order([y])) == 2
    s1, s2 = (p.source for p in pics)
    assert "step 1 of 2: add" in s1 and "so far: ∂y/∂x = 1" in s1
    info = text(nodes(s2)["info"])
    assert "upstream ∂y/∂out = 3" not in info and "local ∂out/∂x = 3" in info  # the mul's output is unnamed
    assert "accumulated at x = 4" in info and "accumulated at x = 7" in info  # 1 + 3, then + 3
    assert "∂y/∂x = 7<" in s2  # final: 2x + 1
    assert x.grad is None
    if shutil.which("dot"):
        page = tmp_path / "steps.html"
        viz.backward_steps(y, html=page)
        assert page.read_text().count("<svg") == 2
    y.backward()
    with pytest.raises(RuntimeError, match="backward_steps: .*released"):
        viz.backward_steps(y)


# ----- output ------------------------------------------------------------------------------------------


@needs_dot
def test_real_svg_parses_and_has_the_nodes(tmp_path):
    a, b, c, u, v, J = course()
    J.backward(retain_graph=True)
    path = viz.render(viz.draw(J), tmp_path / "J.svg")
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    titles = {g.find(f"{ns}title").text for g in root.iter(f"{ns}g") if g.get("class") == "node"}
    assert {f"t{i}" for i in range(7)} | {"op0", "op1", "op2"} <= titles or len(
        [t for t in titles if t.startswith("t")]
    ) == 7
    assert len([t for t in titles if t.startswith("op")]) == 3
    words = " ".join(t.text or "" for t in root.iter(f"{ns}text"))
    assert "∂J/∂c = 9" in words and "33" in words
    # every value layout (row, column, matrix, summary, bool) and the collapsed legend render
    P, x, h, loss = two_layer()
    row = tg.tensor([[1.0, 2.0]], requires_grad=True) @ tg.tensor([[1.0], [2.0]]) + h.sum()
    for pic in (viz.draw(row, P), viz.draw(loss, P, collapse=True), viz.draw_forward(loss, P, rankdir="TB")):
        ET.fromstring(viz.to_svg(pic).encode())
    png = viz.render(viz.draw_backward(J), tmp_path / "J", format="png")
    assert png.suffix == ".png" and png.read_bytes()[:4] == b"\x89PNG"


def test_missing_dot_says_how_to_install(monkeypatch, tmp_path):
    a, b, c, u, v, J = course()
    g = viz.draw(J)
    monkeypatch.setenv("PATH", "")
    assert "digraph" in g.source  # building and the DOT text need no Graphviz
    for call in (lambda: viz.render(g, tmp_path / "x.svg"), lambda: g.pipe(format="svg"), lambda: viz.to_svg(g)):
        with pytest.raises(viz.GraphvizNotFoundError, match="apt-get install graphviz") as e:
            call()
        assert "https://graphviz.org/download/" in str(e.value)
    assert "apt-get install graphviz" in g._repr_mimebundle_()["text/plain"]
    assert not (tmp_path / "x.svg").exists()


def test_value_formatting():
    C = viz._common
    assert C.value_lines(np.array(33.0), 6) == ["33"]
    assert C.value_lines(np.array([[1.0, 2.0], [3.0, 4.0]]), 6) == ["[[1, 2]", " [3, 4]]"]
    assert C.value_lines(np.array([[1.5], [2.0]]), 6) == ["[1.5, 2]ᵀ"]
    big = C.value_lines(np.arange(10.0), 6)
    assert big == ["mean 4.5  std 2.87", "min 0  max 9"]
    assert C.value_lines(np.array([1.0, np.nan, 2.0, 3.0, 4.0, 5.0, 6.0]), 6)[-1] == "1 NaN/inf"
    assert C.op_args("sum", (tg.tensor(1.0), (0,), True)) == ["axis=(0,)", "keepdims"]
    assert C.op_args("getitem", (tg.tensor(1.0), (slice(0, 2), 1))) == ["[0:2, 1]"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        C.scale_colour(C.scale_position(0.0, (1e-6, 1e4)))


@needs_dot
def test_example_08_writes_the_readme_pictures(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "08_computation_graph.py"
    spec = importlib.util.spec_from_file_location("example_08", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    r = module.main(tmp_path)
    assert r["J"] == 33.0 and r["grads"] == (3.0, 6.0, 9.0)
    assert {"computation_graph_J.svg", "logistic_regression.svg", "network_forward_backward.svg"} <= set(r["files"])
    svg = ET.parse(tmp_path / "computation_graph_J.svg").getroot()
    words = " ".join(t.text or "" for t in svg.iter("{http://www.w3.org/2000/svg}text"))
    for s in ("∂J/∂a = 3", "∂J/∂b = 6", "∂J/∂c = 9", "∂J/∂u = 3", "∂J/∂v = 3"):
        assert s in words
    net = (tmp_path / "network_forward_backward.svg").read_text()
    assert "layers.0" in net and "layers.2" in net and "dead ReLUs" in net


def test_draw_shows_this_outputs_gradients_not_what_earlier_losses_left_in_grad():
    w = tg.tensor(2.0, requires_grad=True, name="w")
    (w * 3).backward()  # an earlier loss: w.grad = 3
    J = w * w
    J.name = "J"
    labels = " ".join(viz.draw(J).source.split())
    assert "∂J/∂w = 4" in labels and "∂J/∂w = 3" not in labels  # dJ/dw = 2 w = 4, by hand
    u = tg.tensor(1.0, requires_grad=True, name="u")
    m = u * 5
    m.name = "m"
    L = m * 2
    L.name = "L"
    L.backward(retain_graph=True)
    L.backward(retain_graph=True)  # u.grad = 20: accumulated, not dL/du
    labels = " ".join(viz.draw(L).source.split())
    assert "∂L/∂u = 10" in labels and "∂L/∂m = 2" in labels


def test_a_module_name_with_dot_syntax_in_it_renders_as_its_name():
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed")
    W = tg.tensor([[1.0, 2.0]], requires_grad=True)
    for name in ("enc\\.weight", 'a"b<c>&.weight'):
        g = viz.draw_forward((W * 3).sum(), {name: W})
        svg = viz.to_svg(g)
        module = name.rpartition(".")[0]
        assert html.escape(module) in svg  # the cluster's label, as written


def test_mark_with_a_real_gradcheck_report_highlights_the_culprit_in_the_users_graph():
    class Off(tg.Function):  # a planted bug: the vjp 1% off
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return np.sin(x.data)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * tg.cos(x) * 1.01

    def fn(x):
        return tg.tanh(Off.apply(x * 2)).sum()

    x = tg.tensor([0.3, -0.7, 1.2], requires_grad=True, name="x")
    report = tg.gradcheck(fn, [x])
    assert not report.passed and report.culprit.fn is Off  # found on gradcheck's own float64 copy
    J = fn(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # (it warned: "names 1 item(s) not in this graph; 0 marked")
        for src in (viz.draw(J, mark=report).source, viz.draw_backward(J, mark=report).source):
            marked = [text(a) for a in nodes(src).values() if "penwidth=3.5" in a]
            assert len(marked) == 1 and "Off" in marked[0]


def test_a_newline_in_a_name_is_a_line_break_in_the_picture():
    x = tg.tensor([1.0, 2.0], requires_grad=True, name="first\nsecond")
    J = (x * 3).sum()
    src = viz.draw_forward(J).source
    assert "<B>first<BR/>second</B>" in src  # (graphviz dropped the bare newline: "firstsecond")
    if shutil.which("dot") is not None:
        svg = viz.to_svg(viz.draw_forward(J))
        assert ">first<" in svg and ">second<" in svg and "firstsecond" not in svg
