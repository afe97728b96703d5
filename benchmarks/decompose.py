"""W4 taken apart: how much of a tinygraph op is the graph, and how much the 0.6× target leaves for it.

    python benchmarks/decompose.py            # needs PyTorch

One process, one thread, pinned, the phases in turn step by step (300 steps after 30), medians
per op of W4's 1,000-op add/multiply/tanh chain on 10 float32 values:
- tinygraph's forward and backward, and its forward on an input that does not require grad (the
  same ops, no graph recorded);
- PyTorch's forward and backward;
- hand-written numpy's forward and backward (the chain rule by hand, as in workloads.py).

Any engine that wraps numpy arrays in Python objects pays at least tinygraph's graph-less forward
plus numpy's backward. What is left of 0.6× PyTorch's time is the budget for recording the graph
in the forward pass and walking it in the backward pass; the last line compares it with what
tinygraph spends on that.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workloads import chain_data  # noqa: E402

N = 1000


def main() -> None:
    import torch

    import tinygraph as tg

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    torch.set_num_threads(1)
    d = chain_data(N, 10)
    a, b = d["a"], d["b"]
    ta, tb = tg.tensor(a), tg.tensor(b)
    x_grad, x_plain = tg.tensor(d["x"], requires_grad=True), tg.tensor(d["x"])
    pa, pb, px = torch.from_numpy(a), torch.from_numpy(b), torch.tensor(d["x"], requires_grad=True)

    def chain(x, add, mul, tanh):
        for i in range(N):
            k = i % 3
            x = add(x) if k == 0 else mul(x) if k == 1 else tanh(x)
        return x.sum()

    def tg_forward(x):
        return chain(x, lambda v: v + ta, lambda v: v * tb, tg.tanh)

    def pt_forward(x):
        return chain(x, lambda v: v + pa, lambda v: v * pb, torch.tanh)

    def numpy_step() -> tuple[float, float]:
        t0 = time.perf_counter()
        x, ys = d["x"], []
        for i in range(N):
            k = i % 3
            if k == 0:
                x = x + a
            elif k == 1:
                x = x * b
            else:
                x = np.tanh(x)
                ys.append(x)
        t1 = time.perf_counter()
        g = np.ones_like(x)
        for i in reversed(range(N)):
            k = i % 3
            if k == 1:
                g = g * b
            elif k == 2:
                y = ys.pop()
                g = g * (1 - y * y)
        return t1 - t0, time.perf_counter() - t1

    names = ("tinygraph forward", "tinygraph backward", "tinygraph forward, no graph")
    names += ("PyTorch forward", "PyTorch backward", "numpy forward", "numpy backward")
    times: dict = {k: [] for k in names}
    for step in range(330):
        t0 = time.perf_counter()
        loss = tg_forward(x_grad)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        x_grad.grad = None
        t3 = time.perf_counter()
        tg_forward(x_plain)
        t4 = time.perf_counter()
        loss = pt_forward(px)
        t5 = time.perf_counter()
        loss.backward()
        t6 = time.perf_counter()
        px.grad = None
        if step >= 30:
            for k, v in zip(names, (t1 - t0, t2 - t1, t4 - t3, t5 - t4, t6 - t5, *numpy_step())):
                times[k].append(v)
    per_op = {k: float(np.median(v)) * 1e6 / N for k, v in times.items()}
    for k, v in per_op.items():
        print(f"{k:28s} {v:5.2f} µs/op")
    pt = per_op["PyTorch forward"] + per_op["PyTorch backward"]
    tg_total = per_op["tinygraph forward"] + per_op["tinygraph backward"]
    floor = per_op["tinygraph forward, no graph"] + per_op["numpy backward"]
    print(f"tinygraph / PyTorch: {tg_total / pt:.2f}")
    print(f"graph-less forward + numpy's backward, / PyTorch: {floor / pt:.2f}")
    print(
        f"left for the graph at 0.6× PyTorch: {0.6 * pt - floor:.2f} µs/op; "
        f"tinygraph spends {tg_total - floor:.2f} µs/op on it"
    )


if __name__ == "__main__":
    main()
