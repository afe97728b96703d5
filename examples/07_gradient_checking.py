"""07. Gradient checking: finite differences against backward(), and a planted bug that gets named.

The course's recipe: nudge every parameter by +-eps, take (J(θ + eps) - J(θ - eps)) / (2 eps),
and compare with the gradient from backpropagation by the relative difference

    difference = ||g_num - g|| / (||g_num|| + ||g||)      (< 1e-7 great, > 1e-5 probably a bug)

1. the 1-D case J(θ) = θ x;
2. the course's 3-layer network (ReLU, ReLU, sigmoid) on 3 examples: passes;
3. the same network with its sigmoid replaced by a hand-written custom op whose backward has a
   planted bug (it uses s (1 + s) instead of s (1 - s)): the check fails, and tinygraph checks
   every node of the graph on its own and names the wrong op.

    python examples/07_gradient_checking.py [--small] [--out DIR]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import tinygraph as tg
from tinygraph.demo import example_main


class MySigmoid(tg.Function):
    """sigmoid written as a custom op, with the right backward: ds = s (1 - s)."""

    @staticmethod
    def forward(ctx, z):
        s = 1.0 / (1.0 + np.exp(-z.data))
        out = tg.tensor(s)
        ctx.save_for_backward(out)
        return s

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * s * (1 - s)


class BuggySigmoid(tg.Function):
    """The same op with a planted bug in its backward: s (1 + s) instead of s (1 - s)."""

    @staticmethod
    def forward(ctx, z):
        s = 1.0 / (1.0 + np.exp(-z.data))
        ctx.save_for_backward(tg.tensor(s))
        return s

    @staticmethod
    def backward(ctx, grad):
        (s,) = ctx.saved_tensors
        return grad * s * (1 + s)


def three_layer_cost(sigmoid, X: tg.Tensor, Y: tg.Tensor):
    """The course's LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID cost, as a function of its six parameters."""

    def cost(W1, b1, W2, b2, W3, b3):
        A1 = tg.relu(W1 @ X + b1)
        A2 = tg.relu(W2 @ A1 + b2)
        A3 = sigmoid(W3 @ A2 + b3)
        return -(Y * tg.log(A3) + (1 - Y) * tg.log(1 - A3)).mean()

    return cost


def main(small: bool = False, out: str | Path = "examples-output", plots: bool = True) -> dict:
    """Run the three checks; returns their reports. (``small``, ``out`` and ``plots`` change nothing here.)"""
    print("1. J(θ) = θ x at θ = 4, x = 3: dJ/dθ = x = 3")
    theta = tg.tensor(4.0, requires_grad=True)
    J = theta * 3.0
    J.backward()
    [g_num] = tg.numerical_grad(lambda t: t * 3.0, [theta], eps=1e-7)
    one_d = tg.gradcheck(lambda t: t * 3.0, [theta], eps=1e-7)
    print(f"   backward: {theta.grad.item():.10f}   finite differences: {float(g_num):.10f}")
    print(f"   difference = {one_d.difference:.2e}: {'passed' if one_d else 'FAILED'}")

    rng = np.random.default_rng(1)
    X = tg.tensor(rng.standard_normal((4, 3)), name="X")
    Y = tg.tensor([[1.0, 1.0, 0.0]], name="Y")
    sizes = [4, 5, 3, 1]
    params = []
    for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params += [
            tg.tensor(rng.standard_normal((n_out, n_in)), name=f"W{layer}"),
            tg.tensor(rng.standard_normal((n_out, 1)), name=f"b{layer}"),
        ]

    print("\n2. the 3-layer network [4, 5, 3, 1] on 3 examples, sigmoid as a correct custom op")
    good = tg.gradcheck(three_layer_cost(MySigmoid.apply, X, Y), params)
    print("   " + str(good).replace("\n", "\n   "))

    print("\n3. the same network with a planted bug in the sigmoid's backward")
    bad = tg.gradcheck(three_layer_cost(BuggySigmoid.apply, X, Y), params)
    print("   " + str(bad).replace("\n", "\n   "))
    culprit = getattr(bad, "culprit", None)
    name = None if culprit is None else culprit.name
    print(f"\n   the culprit: {name!r}" if name else "\n   (this build of gradcheck does not localize the op)")
    return {"one_d": one_d, "good": good, "bad": bad, "culprit": name}


if __name__ == "__main__":
    example_main(
        main,
        __doc__,
        small_help="accepted like the other examples' (the checks are quick)",
        out_help="accepted like the other examples' (this example draws nothing)",
    )
