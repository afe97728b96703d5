"""`tinygraph demo`: the course's planar-data exercise end to end, plus the helpers the examples share.

``run(args)`` builds the flower data, trains logistic regression (one neuron) and a network
with one hidden layer of 4 tanh units, prints both accuracies, checks the network's gradients
against finite differences, and writes pictures into ``args.out``: the course's first graph,
J = 3(a + b·c), and the network's forward, backward and combined graphs (SVG, via
`tinygraph.viz` and Graphviz's ``dot``), the cost curve and the
decision boundary (PNG, via matplotlib). What cannot be drawn is skipped with a message naming
what to install.

The helpers ``progress``, ``save_cost_curve`` and ``save_decision_boundary`` are used by the
scripts in ``examples/`` too, and ``example_main`` is their shared command line.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph.datasets import make_flower

__all__ = [
    "accuracy",
    "example_main",
    "have_matplotlib",
    "progress",
    "run",
    "save_cost_curve",
    "save_decision_boundary",
    "shallow_net",
    "train_logistic_regression",
    "train_shallow_net",
]

MATPLOTLIB_HINT = "pip install tinygraph[examples]"
GRAPHVIZ_HINT = "apt-get install graphviz"


def have_matplotlib() -> bool:
    """True when matplotlib can be imported (the ``examples`` extra).

    >>> isinstance(have_matplotlib(), bool)
    True
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def progress(iterable: Iterable, total: int | None = None, desc: str = "", enabled: bool = True) -> Iterator:
    """Iterate with a progress bar: tqdm when installed, otherwise a plain line every 10%.

    With ``enabled=False`` it is the bare iterable.

    >>> list(progress(range(3), enabled=False))
    [0, 1, 2]
    """
    if not enabled:
        yield from iterable
        return
    total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
    try:
        from tqdm import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        yield from tqdm(iterable, total=total, desc=desc, leave=True, mininterval=0.2, ncols=80)
        return
    step = max(1, (total or 10) // 10)
    start = time.perf_counter()
    for i, item in enumerate(iterable):
        yield item
        if (i + 1) % step == 0 or (total is not None and i + 1 == total):
            done = f"{i + 1}/{total}" if total else f"{i + 1}"
            print(f"{desc}: {done} ({time.perf_counter() - start:.1f}s)", flush=True)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Percentage of predictions equal to the labels (shapes must have the same size).

    >>> accuracy(np.array([1, 0, 1, 1]), np.array([[1, 0, 0, 1]]))
    75.0
    """
    p, y = np.asarray(predictions).ravel(), np.asarray(labels).ravel()
    if p.size != y.size:
        raise ValueError(f"accuracy: {p.size} predictions for {y.size} labels")
    return float(100.0 * np.mean(p == y))


def save_cost_curve(
    costs: Sequence[float] | Mapping[str, Sequence[float]],
    path: str | os.PathLike,
    *,
    every: int = 1,
    title: str = "cost",
    xlabel: str = "iteration",
    log: bool = False,
) -> Path | None:
    """Plot one cost curve (a sequence) or several (a mapping label -> sequence) into a PNG.

    ``every`` is the number of iterations between recorded costs (the x axis is scaled by it).
    Returns the path written, or None (with a message) when matplotlib is missing.

    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_cost_curve([0.7, 0.5, 0.4], pathlib.Path(d) / "cost.png", every=100)
    ...     p is None or p.stat().st_size > 0
    True
    """
    if not have_matplotlib():
        print(f"  (no cost curve: matplotlib is missing; {MATPLOTLIB_HINT})")
        return None
    from matplotlib.figure import Figure

    curves = dict(costs) if isinstance(costs, Mapping) else {"": costs}
    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    for label, c in curves.items():
        ax.plot(np.arange(len(c)) * every, np.asarray(c, dtype=float), label=label or None)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cost")
    ax.set_title(title)
    if any(curves):
        ax.legend()
    ax.grid(alpha=0.3)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


def save_decision_boundary(
    predict: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    path: str | os.PathLike,
    *,
    layout: str = "columns",
    title: str = "decision boundary",
    resolution: int = 200,
) -> Path | None:
    """Colour the plane by ``predict`` and scatter the 2-D points ``X`` coloured by label ``y``, into a PNG.

    ``layout`` is that of ``X``, and ``predict`` receives grid points in the same layout
    (``(2, k)`` for ``"columns"``, ``(k, 2)`` for ``"rows"``) and returns k labels in any shape.
    Returns the path written, or None (with a message) when matplotlib is missing.

    >>> import tempfile, pathlib
    >>> X = np.array([[0.0, 1.0], [1.0, 0.0]])
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = save_decision_boundary(lambda P: P[0] > 0.5, X, np.array([[0, 1]]), pathlib.Path(d) / "b.png")
    ...     p is None or p.stat().st_size > 0
    True
    """
    if layout not in ("rows", "columns"):
        raise ValueError(f"save_decision_boundary: layout must be 'rows' or 'columns', got {layout!r}")
    pts = np.asarray(X, dtype=float)
    pts = pts.T if layout == "columns" else pts
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"save_decision_boundary: needs 2-D points, got X of shape {np.shape(X)} ({layout})")
    if not have_matplotlib():
        print(f"  (no decision boundary: matplotlib is missing; {MATPLOTLIB_HINT})")
        return None
    from matplotlib.figure import Figure

    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = 0.1 * (hi - lo) + 1e-9
    xx, yy = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution), np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution)
    )
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    zz = np.asarray(predict(grid.T if layout == "columns" else grid), dtype=float).reshape(xx.shape)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.contourf(xx, yy, zz, alpha=0.35, cmap="Spectral")
    ax.scatter(pts[:, 0], pts[:, 1], c=np.asarray(y).ravel(), s=12, cmap="Spectral", edgecolors="k", linewidths=0.3)
    ax.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    return path


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help keeps the description's line breaks and shows every option's default."""


def example_main(
    main: Callable[..., object],
    doc: str | None,
    argv: Sequence[str] | None = None,
    *,
    out: str | os.PathLike = "examples-output",
    small_help: str = "a quick run with few steps",
    out_help: str = "folder for the plots",
    options: Sequence[tuple[tuple[str, ...], dict]] = (),
) -> object:
    """The command line every script in ``examples/`` shares: ``--small``, ``--out DIR``, ``--help``.

    Parses ``argv`` (default: ``sys.argv[1:]``) and returns ``main(small=..., out=..., ...)``.
    ``doc`` (the script's docstring) is the help text; ``options`` adds ``(flags, kwargs)``
    pairs for ``add_argument``, passed on to ``main`` under their ``dest``. Bad arguments end
    with argparse's usage message and exit code 2; ``--help`` shows the defaults.

    >>> example_main(lambda small, out: (small, out), "An example.", ["--small", "--out", "plots"])
    (True, 'plots')
    """
    parser = argparse.ArgumentParser(description=doc, formatter_class=_HelpFormatter)
    parser.add_argument("--small", action="store_true", help=small_help)
    parser.add_argument("--out", metavar="DIR", default=str(out), help=out_help)
    for flags, kwargs in options:
        parser.add_argument(*flags, **kwargs)
    return main(**vars(parser.parse_args(argv)))


def train_logistic_regression(
    X: np.ndarray, Y: np.ndarray, steps: int = 2000, lr: float = 0.5, print_every: int = 0, bar: bool = False
) -> tuple[tg.Tensor, tg.Tensor, list[float]]:
    """Logistic regression as one neuron, course notation (``X`` is ``(n_x, m)``, ``Y`` is ``(1, m)``).

    ``Z = w.T @ X + b``, ``A = sigmoid(Z)``, ``J = -mean(Y log A + (1 - Y) log(1 - A))``, plain
    gradient descent from zeros. Returns ``(w, b, costs)`` with the cost of every step.

    >>> X = np.array([[-2.0, -1.0, 1.0, 2.0]]); Y = np.array([[0, 0, 1, 1]])
    >>> w, b, costs = train_logistic_regression(X, Y, steps=100, lr=1.0)
    >>> costs[-1] < costs[0], float(w.data[0, 0]) > 0
    (True, True)
    """
    Xt, Yt = tg.tensor(X), tg.tensor(np.asarray(Y, dtype=np.float64))
    w = tg.tensor(np.zeros((Xt.shape[0], 1)), requires_grad=True, name="w")
    b = tg.tensor(0.0, requires_grad=True, name="b")
    costs: list[float] = []
    for i in progress(range(steps), desc="logistic regression", enabled=bar):
        A = tg.sigmoid(w.T @ Xt + b)
        cost = -(Yt * tg.log(A) + (1 - Yt) * tg.log(1 - A)).mean()
        w.grad = b.grad = None
        cost.backward()
        with tg.no_grad():
            w.data -= lr * w.grad.data
            b.data -= lr * b.grad.data
        costs.append(cost.item())
        if print_every and i % print_every == 0:
            print(f"Cost after iteration {i}: {costs[-1]:f}")
    return w, b, costs


def shallow_net(params: Sequence[tg.Tensor], X: tg.Tensor) -> tg.Tensor:
    """Forward pass of the course's one-hidden-layer network: ``sigmoid(W2 tanh(W1 X + b1) + b2)``.

    >>> P = [tg.tensor(np.zeros((4, 2))), tg.tensor(np.zeros((4, 1))), tg.tensor(np.zeros((1, 4))), tg.tensor(0.0)]
    >>> shallow_net(P, tg.tensor(np.ones((2, 3)))).data.tolist()
    [[0.5, 0.5, 0.5]]
    """
    W1, b1, W2, b2 = params
    A1 = tg.tanh(W1 @ X + b1)
    return tg.sigmoid(W2 @ A1 + b2)


def train_shallow_net(
    X: np.ndarray,
    Y: np.ndarray,
    n_h: int = 4,
    steps: int = 10000,
    lr: float = 1.2,
    seed: int = 2,
    print_every: int = 0,
    bar: bool = False,
) -> tuple[list[tg.Tensor], list[float]]:
    """Train the course's ``n_x -> n_h (tanh) -> 1 (sigmoid)`` network with gradient descent.

    Weights start as ``0.01 * randn`` from ``numpy.random.RandomState(seed)`` (``W1`` then ``W2``,
    the course's order, so ``seed=2`` reproduces its numbers), biases at zero. Returns
    ``([W1, b1, W2, b2], costs)`` with the cross-entropy cost of every step.

    >>> X, Y = make_flower(m=40)
    >>> params, costs = train_shallow_net(X, Y, steps=50)
    >>> [p.shape for p in params], round(costs[0], 3)
    ([(4, 2), (4, 1), (1, 4), (1, 1)], 0.693)
    """
    rs = np.random.RandomState(seed)
    n_x = X.shape[0]
    W1 = tg.tensor(rs.randn(n_h, n_x) * 0.01, requires_grad=True, name="W1")
    b1 = tg.tensor(np.zeros((n_h, 1)), requires_grad=True, name="b1")
    W2 = tg.tensor(rs.randn(1, n_h) * 0.01, requires_grad=True, name="W2")
    b2 = tg.tensor(np.zeros((1, 1)), requires_grad=True, name="b2")
    params = [W1, b1, W2, b2]
    Xt, Yt = tg.tensor(X), tg.tensor(np.asarray(Y, dtype=np.float64))
    costs: list[float] = []
    for i in progress(range(steps), desc=f"network, {n_h} hidden units", enabled=bar):
        A2 = shallow_net(params, Xt)
        cost = -(Yt * tg.log(A2) + (1 - Yt) * tg.log(1 - A2)).mean()
        for p in params:
            p.grad = None
        cost.backward()
        with tg.no_grad():
            for p in params:
                p.data -= lr * p.grad.data
        costs.append(cost.item())
        if print_every and i % print_every == 0:
            print(f"Cost after iteration {i}: {costs[-1]:f}")
    return params, costs


def _write_graphs(out: Path, params: list[tg.Tensor], X: np.ndarray, Y: np.ndarray) -> list[Path]:
    """The course's J = 3(a + b·c), and the forward, backward and combined pictures of the network's cost on
    5 examples (SVG, or .dot without dot)."""
    try:
        from tinygraph import viz

        drawers = {"forward": viz.draw_forward, "backward": viz.draw_backward, "combined": viz.draw}
    except (ImportError, AttributeError) as e:
        print(f"  (no graph pictures: tinygraph.viz is not usable here: {e})")
        return []
    a, b, c = (tg.tensor(v, requires_grad=True, name=n) for n, v in (("a", 5.0), ("b", 3.0), ("c", 2.0)))
    u = b * c
    v = a + u
    J = 3 * v
    u.name, v.name, J.name = "u", "v", "J"
    course = viz.draw(J, title="the course's J = 3(a + b·c): forward in blue, backward in red")
    J.backward()
    print(f"   the course's J = 3(a + b·c) at a = 5, b = 3, c = 2: J = {J.item():g}, dJ/da, dJ/db, dJ/dc = "
          f"{a.grad.item():g}, {b.grad.item():g}, {c.grad.item():g}")  # fmt: skip
    leaves = [tg.tensor(p.data, requires_grad=True, name=p.name) for p in params]
    Xs = tg.tensor(X[:, :5], name="X")
    Ys = tg.tensor(np.asarray(Y[:, :5], dtype=np.float64), name="Y")
    A2 = shallow_net(leaves, Xs)
    cost = -(Ys * tg.log(A2) + (1 - Ys) * tg.log(1 - A2)).mean()
    cost.name = "J"
    titles = {
        "forward": "forward: J of the 4-unit network on 5 examples",
        "backward": "backward: the vjps J.backward() runs",
        "combined": "forward (blue) and backward (red)",
    }
    have_dot = shutil.which("dot") is not None
    written: list[Path] = []
    pictures = {"computation_graph_J": course}
    pictures.update({f"graph_{kind}": draw(cost, title=titles[kind]) for kind, draw in drawers.items()})
    for name, picture in pictures.items():
        if have_dot:
            written.append(viz.render(picture, out / f"{name}.svg"))
        else:
            path = out / f"{name}.dot"
            path.write_text(picture.source)
            written.append(path)
    if not have_dot:
        print(f"  (Graphviz's dot is missing: wrote the .dot sources instead; {GRAPHVIZ_HINT})")
    return written


class OutFolderError(ValueError):
    """The demo's --out folder cannot be made (the command line reports it as a usage error)."""


def run(args: argparse.Namespace) -> int:
    """Run the demo into ``args.out``; returns 0 when the gradient check passed, 1 otherwise.

    ``args`` carries ``out`` (folder), and optionally ``steps`` (network training steps,
    default 10,000) and ``quiet`` (no progress bars).

    >>> import tempfile, contextlib, io
    >>> with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()) as s:
    ...     code = run(argparse.Namespace(out=d, steps=200, lr_steps=200, quiet=True))
    >>> code, "gradient check" in s.getvalue()
    (0, True)
    """
    out = Path(getattr(args, "out", "tinygraph-demo"))
    steps, lr_steps = getattr(args, "steps", 10000), getattr(args, "lr_steps", 1000)
    for name, n in (("steps", steps), ("lr_steps", lr_steps)):
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"tinygraph demo: {name} must be a whole number of at least 1, got {n!r}")
    bar = not getattr(args, "quiet", False)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutFolderError(f"--out {out}: cannot make that folder ({e.strerror or e})") from None
    start = time.perf_counter()
    print(f"tinygraph {tg.__version__} demo: the course's planar 'flower' data, into {out}/")

    X, Y = make_flower()
    print(f"  data: X {X.shape}, Y {Y.shape}, {int((Y == 0).sum())} red and {int((Y == 1).sum())} blue points")

    print(f"1. logistic regression (one sigmoid neuron), {lr_steps} steps of gradient descent, lr 0.5")
    w, b, lr_costs = train_logistic_regression(X, Y, steps=lr_steps, lr=0.5, bar=bar)
    with tg.no_grad():
        lr_pred = (tg.sigmoid(w.T @ tg.tensor(X) + b).data > 0.5).astype(int)
    lr_acc = accuracy(lr_pred, Y)
    print(f"   accuracy of logistic regression: {lr_acc:.2f}% (a straight line cannot separate the petals)")

    print(f"2. one hidden layer of 4 tanh units, {steps} steps, lr 1.2")
    params, costs = train_shallow_net(X, Y, n_h=4, steps=steps, lr=1.2, bar=bar)

    def predict(P: np.ndarray) -> np.ndarray:
        with tg.no_grad():
            return (shallow_net(params, tg.tensor(P)).data > 0.5).astype(int)

    nn_acc = accuracy(predict(X), Y)
    print(f"   cost {costs[0]:.6f} -> {costs[-1]:.6f}; accuracy of the network: {nn_acc:.2f}%")

    print("3. gradient check of the network's cost (finite differences vs. backward), on 20 examples")
    Xs, Ys = tg.tensor(X[:, ::20]), tg.tensor(np.asarray(Y[:, ::20], dtype=np.float64))

    def cost_fn(W1: tg.Tensor, b1: tg.Tensor, W2: tg.Tensor, b2: tg.Tensor) -> tg.Tensor:
        A2 = shallow_net([W1, b1, W2, b2], Xs)
        return -(Ys * tg.log(A2) + (1 - Ys) * tg.log(1 - A2)).mean()

    report = tg.gradcheck(cost_fn, [p.detach() for p in params])
    print(f"   difference {report.difference:.2e}: " + ("passed" if report.passed else "FAILED") + " (< 1e-7 is great)")

    print("4. pictures")
    written = _write_graphs(out, params, X, Y)
    for p in (
        save_cost_curve(
            {"logistic regression": lr_costs, "4 tanh units": costs},
            out / "cost.png",
            title="cross-entropy cost, flower data",
        ),
        save_decision_boundary(predict, X, Y, out / "decision_boundary.png", title=f"4 tanh units: {nn_acc:.1f}%"),
    ):
        if p is not None:
            written.append(p)
    print("wrote:")
    for p in written:
        print(f"  {p}")
    print(f"done in {time.perf_counter() - start:.1f}s")
    sys.stdout.flush()
    return 0 if report.passed else 1
