"""01. Logistic regression as a one-neuron network, on the course's planar "flower" data.

The course's notation, written with raw tinygraph ops (examples are columns: X is (n_x, m)):

    Z = w.T @ X + b        A = sigmoid(Z)        J = -(1/m) sum(Y log A + (1 - Y) log(1 - A))

``J.backward()`` gives dJ/dw = X (A - Y).T / m and dJ/db = mean(A - Y), the formulas the
course derives by hand. A straight line cannot separate the flower's petals: about 47%.

    python examples/01_logistic_regression.py [--small] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph.datasets import make_flower
from tinygraph.demo import accuracy, example_main, save_cost_curve, save_decision_boundary


def model(X: np.ndarray, Y: np.ndarray, num_iterations: int = 2000, learning_rate: float = 0.5, print_cost=True):
    """Gradient descent on one sigmoid neuron from w = 0, b = 0; returns (w, b, costs)."""
    X, Y = tg.tensor(X), tg.tensor(Y.astype(float))
    n_x, m = X.shape
    w = tg.tensor(np.zeros((n_x, 1)), requires_grad=True, name="w")
    b = tg.tensor(0.0, requires_grad=True, name="b")
    costs = []
    for i in range(num_iterations):
        Z = w.T @ X + b
        A = tg.sigmoid(Z)
        J = -(Y * tg.log(A) + (1 - Y) * tg.log(1 - A)).sum() / m
        w.grad = b.grad = None
        J.backward()
        with tg.no_grad():  # the update is not part of the graph
            w.data -= learning_rate * w.grad.data
            b.data -= learning_rate * b.grad.data
        costs.append(J.item())
        if print_cost and i % max(1, num_iterations // 10) == 0:
            print(f"Cost after iteration {i}: {J.item():f}")
    return w, b, costs


def predict(w: tg.Tensor, b: tg.Tensor, X: np.ndarray) -> np.ndarray:
    """Labels 0/1, shape (1, m): 1 where sigmoid(w.T X + b) > 0.5."""
    with tg.no_grad():
        return (tg.sigmoid(w.T @ tg.tensor(X) + b).data > 0.5).astype(int)


def main(small: bool = False, out: str | Path = "examples-output", plots: bool = True) -> dict:
    """Train and report; ``small`` trains for 200 steps instead of 2,000. Returns the figures."""
    X, Y = make_flower()
    print(f"The flower: X {X.shape}, Y {Y.shape}, m = {X.shape[1]}")
    w, b, costs = model(X, Y, num_iterations=200 if small else 2000)
    acc = accuracy(predict(w, b, X), Y)
    print(f"Accuracy of logistic regression: {acc:.0f}% (percentage of correctly labelled datapoints)")
    # one step's gradient from backward(), against the course's hand-derived dw = X (A - Y).T / m
    (w1, _, _) = model(X, Y, num_iterations=1, learning_rate=0.0, print_cost=False)
    by_hand = X @ (np.full(Y.shape, 0.5) - Y).T / X.shape[1]
    print(f"dJ/dw at w = 0: backward() {w1.grad.data.ravel().round(6)}, by hand {by_hand.ravel().round(6)}")
    if plots:
        out = Path(out)
        save_cost_curve(costs, out / "01_cost.png", title="logistic regression on the flower")
        save_decision_boundary(
            lambda P: predict(w, b, P), X, Y, out / "01_decision_boundary.png", title=f"logistic regression: {acc:.0f}%"
        )
    grad_error = float(np.abs(w1.grad.data - by_hand).max())
    return {"accuracy": acc, "costs": costs, "w": w.data.copy(), "b": float(b.item()), "grad_error": grad_error}


if __name__ == "__main__":
    example_main(main, __doc__)
