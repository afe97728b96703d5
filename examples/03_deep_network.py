"""03. A deep L-layer network with `nn.MLP`: handwritten digits (with scikit-learn) or the flower.

The course's L-layer model, [n_x, n_1, ..., n_L] with ReLU hidden layers and He initialization,
in one line: ``nn.MLP(layer_sizes)``. ``cost.backward()`` is the course's L_model_backward.

- With scikit-learn installed (``pip install tinygraph[digits]``): the 1,797 8x8 digits it
  ships, 80% to train and 20% to test, a [64, 32, 16, 10] network with softmax cross-entropy
  and Adam on mini-batches of 64, 30 epochs: 100% train, 98.3% test (measured).
- Without it (or with ``--flower``): the flower with a [2, 20, 7, 5, 1] network and full-batch
  Adam, 3,000 steps: 93.0% (measured), above the 4-tanh-unit network's 90.5%.

    python examples/03_deep_network.py [--small] [--out DIR] [--flower]
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph import nn
from tinygraph.data import minibatches
from tinygraph.datasets import load_digits, make_flower
from tinygraph.demo import accuracy, example_main, save_cost_curve, save_decision_boundary
from tinygraph.nn import functional as F
from tinygraph.optim import Adam
from tinygraph.random import manual_seed


def digits(small: bool, out: Path, plots: bool) -> dict:
    """Softmax classifier on the digits; returns train/test accuracy and the cost per epoch."""
    X, y = load_digits()
    order = np.random.default_rng(0).permutation(len(y))
    cut = int(0.8 * len(y))
    train_idx, test_idx = order[:cut], order[cut:]
    manual_seed(0)
    model = nn.MLP([64, 32, 16, 10], activation="relu")
    print(model)
    opt = Adam(model.parameters(), lr=0.01)
    epochs = 3 if small else 30
    costs = []
    for epoch in range(epochs):
        total = 0.0
        for Xb, yb in minibatches(X[train_idx], y[train_idx], 64, seed=epoch):
            cost = F.cross_entropy(model(tg.tensor(Xb)), yb)
            opt.zero_grad()
            cost.backward()
            opt.step()
            total += cost.item() * len(yb)
        costs.append(total / cut)
        if epoch % max(1, epochs // 10) == 0 or epoch == epochs - 1:
            print(f"Cost after epoch {epoch}: {costs[-1]:f}")

    def predict(Xs: np.ndarray) -> np.ndarray:
        with tg.no_grad():
            return model(tg.tensor(Xs)).data.argmax(axis=1)

    train_acc, test_acc = accuracy(predict(X[train_idx]), y[train_idx]), accuracy(predict(X[test_idx]), y[test_idx])
    print(f"Train accuracy: {train_acc:.1f}%   Test accuracy: {test_acc:.1f}%")
    if plots:
        save_cost_curve(costs, out / "03_cost.png", title="digits, [64, 32, 16, 10]", xlabel="epoch")
    return {"data": "digits", "train": train_acc, "test": test_acc, "costs": costs}


def flower(small: bool, out: Path, plots: bool) -> dict:
    """A deeper network on the flower, batch-first (rows) layout."""
    X, y = make_flower(layout="rows")
    manual_seed(1)
    model = nn.MLP([2, 20, 7, 5, 1], activation="relu")
    print(model)
    opt = Adam(model.parameters(), lr=0.01)
    Xt, Yt = tg.tensor(X), tg.tensor(y[:, None].astype(float))
    steps = 300 if small else 3000
    costs = []
    for i in range(steps):
        cost = F.binary_cross_entropy_with_logits(model(Xt), Yt)
        opt.zero_grad()
        cost.backward()
        opt.step()
        costs.append(cost.item())
        if i % max(1, steps // 10) == 0:
            print(f"Cost after iteration {i}: {costs[-1]:f}")

    def predict(P: np.ndarray) -> np.ndarray:
        with tg.no_grad():
            return (model(tg.tensor(P)).data[:, 0] > 0).astype(int)

    train_acc = accuracy(predict(X), y)
    print(f"Accuracy: {train_acc:.1f}%")
    if plots:
        save_cost_curve(costs, out / "03_cost.png", title="flower, [2, 20, 7, 5, 1]")
        save_decision_boundary(predict, X, y, out / "03_decision_boundary.png", layout="rows", title="deep network")
    return {"data": "flower", "train": train_acc, "test": None, "costs": costs}


def main(small: bool = False, out: str | Path = "examples-output", plots: bool = True, flower_only: bool = False):
    """Digits when scikit-learn is installed (and ``flower_only`` is False), else the flower."""
    if not flower_only and importlib.util.find_spec("sklearn") is not None:
        return digits(small, Path(out), plots)
    if not flower_only:
        print("scikit-learn is missing (pip install tinygraph[digits]): using the flower instead of the digits")
    return flower(small, Path(out), plots)


if __name__ == "__main__":
    flower = (
        ("--flower",),
        {"dest": "flower_only", "action": "store_true", "help": "use the flower even with sklearn"},
    )
    example_main(main, __doc__, options=[flower])
