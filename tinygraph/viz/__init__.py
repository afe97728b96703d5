"""Pictures of the computation graph: forward, backward, and both at once.

Every function reads a graph and returns a ``graphviz.Digraph``; none changes a
tensor, a ``.grad`` or a graph node. In Jupyter the picture displays inline; elsewhere
``render(picture, "graph.svg")`` (or ``.png``, ``.pdf``) writes a file, and
``picture.source`` is the DOT text, which needs no Graphviz installation.

- `draw_forward`: tensors (name, shape, dtype, values) and ops, inputs to output.
- `draw_backward`: the vjps backward runs, numbered in order; ``of_gradient=`` draws
  the graph of a gradient made with ``create_graph=True``.
- `draw`: forward edges in blue, backward edges in red, values and gradients, gradient
  colours on a log scale of their norm, dead ReLUs flagged.
- `backward_steps`: one picture per step of the backward walk (``html=`` writes a page).
- `render`, `to_svg`, `steps_html`: output; `GraphvizNotFoundError` when ``dot`` is missing.

>>> import tinygraph as tg
>>> from tinygraph import viz
>>> x = tg.tensor([1.0, -2.0], requires_grad=True, name="x")
>>> picture = viz.draw(tg.relu(x).sum())
>>> type(picture).__mro__[1].__name__, "50% zero grad" in picture.source
('Digraph', True)
"""

from tinygraph.viz._common import GraphvizNotFoundError, render, to_svg
from tinygraph.viz._draw import backward_steps, draw, draw_backward, draw_forward, steps_html

__all__ = [
    "GraphvizNotFoundError",
    "backward_steps",
    "draw",
    "draw_backward",
    "draw_forward",
    "render",
    "steps_html",
    "to_svg",
]
