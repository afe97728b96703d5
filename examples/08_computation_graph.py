"""Pictures of computation graphs with tinygraph.viz.

Writes the SVGs the README shows into docs/images/:

- computation_graph_J.svg: the course's J = 3(a + b*c), forward values in blue and
  derivatives in red, after backward();
- backward_graph_J.svg: the vjps backward runs for J, in order;
- logistic_regression.svg: logistic regression's forward graph (4 examples, 2 features);
- network_forward_backward.svg: a small two-layer network, both passes, gradients
  coloured by their norm (one module box per layer);
- network_collapsed.svg: a four-layer sigmoid network, each layer collapsed to one
  box, where the first layers' gradients are visibly smaller (vanishing);
- backward_steps_J.html: the backward pass of J one step at a time.

    python examples/08_computation_graph.py [--small] [--out DIR]    (default DIR: docs/images)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph import viz
from tinygraph.demo import example_main

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "docs" / "images"


def course_graph():
    """J = 3(a + b*c) with a=5, b=3, c=2, every tensor named as in the course (u = bc, v = a + u)."""
    a = tg.tensor(5.0, requires_grad=True, name="a")
    b = tg.tensor(3.0, requires_grad=True, name="b")
    c = tg.tensor(2.0, requires_grad=True, name="c")
    u = b * c
    v = a + u
    J = 3 * v
    u.name, v.name, J.name = "u", "v", "J"
    return a, b, c, J


def linear_params(rng, prefix, n_in, n_out, scale):
    """A weight (n_out, n_in) and a zero bias, named like nn.Linear's inside an nn.Sequential."""
    W = tg.tensor(rng.normal(size=(n_out, n_in)) * scale, requires_grad=True)
    b = tg.tensor(np.zeros(n_out), requires_grad=True)
    return {f"{prefix}.weight": W, f"{prefix}.bias": b}


def main(out: str | Path = DEFAULT_OUT, small: bool = False) -> dict:
    """Write the pictures into `out`; return J's value and gradients and the files written.

    (``small`` changes nothing: drawing is quick.)
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    # ----- the course's J = 3(a + b*c) -------------------------------------------------------------
    a, b, c, J = course_graph()
    viz.backward_steps(J, html=out / "backward_steps_J.html")  # before backward(): the steps replay the graph
    viz.render(viz.draw_backward(J, title="what J.backward() runs"), out / "backward_graph_J.svg")
    # draw() before backward() computes every gradient on the side (u's and v's too); after
    # backward() the graph is released and only the leaves' .grad (and retain_grad()) remain
    viz.render(viz.draw(J, title="J = 3(a + b·c): forward in blue, backward in red"), out / "computation_graph_J.svg")
    J.backward()
    print("J =", J.item(), " dJ/da, dJ/db, dJ/dc =", a.grad.item(), b.grad.item(), c.grad.item())

    # ----- logistic regression, in the course's notation (X is (n_x, m)) ----------------------------
    X = tg.tensor(rng.normal(size=(2, 4)), name="X")
    Y = tg.tensor([[1.0, 0.0, 1.0, 0.0]], name="Y")
    w = tg.tensor(rng.normal(size=(2, 1)) * 0.1, requires_grad=True, name="w")
    bias = tg.tensor(0.0, requires_grad=True, name="b")
    Z = w.T @ X + bias
    A = tg.sigmoid(Z)
    cost = -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).mean()
    Z.name, A.name, cost.name = "Z", "A", "cost"
    title = "logistic regression: cost = -mean(Y log A + (1-Y) log(1-A))"
    viz.render(viz.draw_forward(cost, title=title), out / "logistic_regression.svg")

    # ----- a small network, named like an nn.Sequential ------------------------------------------------
    params = {**linear_params(rng, "layers.0", 2, 3, 1.0), **linear_params(rng, "layers.2", 3, 1, 1.0)}
    x = tg.tensor(rng.normal(size=(4, 2)), name="x")
    y = tg.tensor([[1.0], [0.0], [1.0], [1.0]], name="y")
    h = tg.relu(x @ params["layers.0.weight"].T + params["layers.0.bias"])
    p = tg.sigmoid(h @ params["layers.2.weight"].T + params["layers.2.bias"])
    loss = ((p - y) ** 2).mean()
    loss.name = "loss"
    picture = viz.draw(loss, params, max_elements=4, rankdir="TB", title="a two-layer network: forward and backward")
    viz.render(picture, out / "network_forward_backward.svg")

    # ----- vanishing gradients: a deep sigmoid network, one box per layer ------------------------------
    deep = {}
    sizes = [2, 8, 8, 8, 8, 8, 1]
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        deep.update(linear_params(rng, f"layers.{i}", n_in, n_out, 6.0 / np.sqrt(n_in)))
    hh = x
    for i in range(len(sizes) - 1):
        hh = tg.sigmoid(hh @ deep[f"layers.{i}.weight"].T + deep[f"layers.{i}.bias"])
    deep_loss = ((hh - y) ** 2).mean()
    deep_loss.name = "loss"
    title = "a deep sigmoid network: earlier layers get smaller gradients"
    picture = viz.draw(deep_loss, deep, collapse=True, show_values=False, rankdir="TB", title=title)
    viz.render(picture, out / "network_collapsed.svg")

    files = sorted(f.name for f in out.iterdir() if f.suffix in (".svg", ".html"))
    print("wrote", ", ".join(files), "to", out)
    return {"J": J.item(), "grads": (a.grad.item(), b.grad.item(), c.grad.item()), "files": files}


if __name__ == "__main__":
    here = Path.cwd()
    shown = DEFAULT_OUT.relative_to(here) if DEFAULT_OUT.is_relative_to(here) else DEFAULT_OUT
    example_main(
        main,
        __doc__,
        out=shown,
        small_help="accepted like the other examples' (drawing is quick)",
        out_help="folder for the pictures",
    )
