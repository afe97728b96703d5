"""`tinygraph demo`: the main job."""

from __future__ import annotations

import argparse

import numpy as np

import tinygraph as tg


def run(args: argparse.Namespace) -> int:
    print("tinygraph demo: the course's computation graph J = 3(a + b*c)")
    a, b, c = (tg.tensor(v, requires_grad=True) for v in (5.0, 3.0, 2.0))
    u = b * c
    v = a + u
    J = 3 * v
    J.backward()
    print(f"  forward:  u = b*c = {u.item():g}, v = a + u = {v.item():g}, J = 3v = {J.item():g}")
    print(f"  backward: dJ/da = {a.grad.item():g}, dJ/db = {b.grad.item():g}, dJ/dc = {c.grad.item():g}")

    print("gradient check of a 2-4-1 tanh/sigmoid network on 5 examples:")
    rng = np.random.default_rng(0)
    X = tg.tensor(rng.standard_normal((2, 5)))
    Y = tg.tensor((rng.random((1, 5)) > 0.5).astype(float))
    W1, b1 = tg.tensor(rng.standard_normal((4, 2)) * 0.5), tg.tensor(np.zeros((4, 1)))
    W2, b2 = tg.tensor(rng.standard_normal((1, 4)) * 0.5), tg.tensor(np.zeros((1, 1)))

    def cost(W1, b1, W2, b2):
        A1 = tg.tanh(W1 @ X + b1)
        A2 = tg.sigmoid(W2 @ A1 + b2)
        return -(Y * tg.log(A2) + (1 - Y) * tg.log(1 - A2)).mean()

    report = tg.gradcheck(cost, [W1, b1, W2, b2])
    print("  " + str(report).replace("\n", "\n  "))
    return 0 if report.passed else 1
