"""04. Initialization: zeros, large random (x10) and He, on two circles with a [2, 10, 5, 1] ReLU network.

The course's experiment with `tinygraph.nn`: the same network, data and gradient descent
(learning rate 0.01, 15,000 steps, full batch), only the initial weights differ. The data and
the weights are the course's own, number for number: its two circles come from
``make_circles(..., legacy=True)`` (seeds 1 and 2, the classic generator's recipe), and its
weights from ``numpy.random.RandomState(3).randn(n[l], n[l-1])``, layer by layer, times a scale.

- zeros: every unit of a layer computes the same thing and gets the same gradient, so the
  symmetry is never broken; here the gradients are exactly zero and the network predicts one
  class everywhere: 50% train, 50% test, the cost stays at 0.693147 (as in the course).
- large random (randn x 10): huge logits, the cost starts enormous (1773.59; the course prints
  inf because it takes the log of a sigmoid rounded to 0 or 1) and learning is slow: 83.0% train,
  86.0% test (measured; the course: 83% / 86%).
- He (randn x sqrt(2 / n[l-1])): the cost starts at 0.883054, as in the course, and falls
  quickly: 99.3% train, 96.0% test (measured; the course: 99.3% / 96%).

Large random initialization is a lottery: the same x10 recipe with other draws ends elsewhere
(measured, train / test): ``manual_seed(3)`` and then ``nn.init.normal_(W, std=10)`` on each
weight of ``nn.MLP(LAYERS, activation="relu", init="zeros")`` gives 91.0% / 86.0%, and the same
drawn after the default ``init="he"`` has drawn its own weights (biases set to zero) 74.0% / 72.0%.

    python examples/04_initialization.py [--small] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph import nn
from tinygraph.datasets import make_circles
from tinygraph.demo import accuracy, example_main, save_cost_curve, save_decision_boundary
from tinygraph.nn import functional as F
from tinygraph.optim import SGD

LAYERS = [2, 10, 5, 1]


def make_model(initialization: str, seed: int = 3) -> nn.MLP:
    """The [2, 10, 5, 1] ReLU network (logits out), biases zero, weights as the course draws them.

    ``"zeros"``: all zero. ``"large"``: ``randn(n[l], n[l-1]) * 10``. ``"he"``:
    ``randn(n[l], n[l-1]) * sqrt(2 / n[l-1])``. The ``randn`` come from one
    ``numpy.random.RandomState(seed)``, W1 first, as in the course (seed 3).
    """
    scales = {"zeros": lambda n_in: 0.0, "large": lambda n_in: 10.0, "he": lambda n_in: np.sqrt(2.0 / n_in)}
    if initialization not in scales:
        raise ValueError(f"make_model: initialization must be 'zeros', 'large' or 'he', got {initialization!r}")
    model = nn.MLP(LAYERS, activation="relu", init="zeros")
    rs = np.random.RandomState(seed)
    for layer in model.layers:
        if isinstance(layer, nn.Linear) and initialization != "zeros":
            n_out, n_in = layer.weight.shape
            layer.weight.data = rs.randn(n_out, n_in) * scales[initialization](n_in)
    return model


def predict(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Labels 0/1 for the rows of X: 1 where the logit is positive (sigmoid > 0.5)."""
    with tg.no_grad():
        return (model(tg.tensor(X)).data[:, 0] > 0).astype(int)


def train(model: nn.Module, X: np.ndarray, y: np.ndarray, steps: int, lr: float = 0.01, print_every: int = 1000):
    """Full-batch gradient descent on the cross-entropy cost; returns the cost every step."""
    Xt, Yt = tg.tensor(X), tg.tensor(y[:, None].astype(float))
    opt = SGD(model.parameters(), lr=lr)
    costs = []
    for i in range(steps):
        cost = F.binary_cross_entropy_with_logits(model(Xt), Yt)
        opt.zero_grad()
        cost.backward()
        opt.step()
        costs.append(cost.item())
        if print_every and i % print_every == 0:
            print(f"Cost after iteration {i}: {costs[-1]:f}")
    return costs


def main(small: bool = False, out: str | Path = "examples-output", plots: bool = True) -> dict:
    """Train with each initialization. ``small``: 500 steps at learning rate 0.3 instead of 15,000 at 0.01."""
    X, y = make_circles(n_samples=300, noise=0.05, seed=1, legacy=True)  # the course's train and test sets
    X_test, y_test = make_circles(n_samples=100, noise=0.05, seed=2, legacy=True)
    steps, lr = (500, 0.3) if small else (15000, 0.01)
    results, curves = {}, {}
    for initialization in ("zeros", "large", "he"):
        print(f"--- {initialization} initialization ---")
        model = make_model(initialization)
        costs = train(model, X, y, steps, lr, print_every=steps // 10)
        train_acc, test_acc = accuracy(predict(model, X), y), accuracy(predict(model, X_test), y_test)
        print(f"On the train set: {train_acc:.1f}%   On the test set: {test_acc:.1f}%")
        results[initialization] = {"train": train_acc, "test": test_acc, "costs": costs}
        curves[initialization] = costs
        if plots:
            save_decision_boundary(
                lambda P, model=model: predict(model, P),
                X,
                y,
                Path(out) / f"04_{initialization}.png",
                layout="rows",
                title=f"{initialization} initialization: train {train_acc:.0f}%, test {test_acc:.0f}%",
            )
    if plots:
        save_cost_curve(curves, Path(out) / "04_cost.png", title="cost by initialization", log=True)
    print("\n" + "\n".join(f"{k:>6}: train {v['train']:5.1f}%  test {v['test']:5.1f}%" for k, v in results.items()))
    return results


if __name__ == "__main__":
    example_main(main, __doc__)
