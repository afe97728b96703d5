"""W4 taken apart: how much of a tinygraph op is the graph, and how much the 0.6× target leaves for it.

    python benchmarks/decompose.py            # needs PyTorch

One process, one thread, pinned, the phases in turn step by step (300 steps after 30), medians
per op of W4's 1,000-op add/multiply/tanh chain on 10 float32 values:
- tinygraph's forward and backward, and its forward on an input that does not require grad (the
  same ops, no graph recorded);
- PyTorch's forward and backward;
- hand-written numpy's forward and backward (the chain rule by hand).

All three run the chain code of workloads.py (`chain`, `chain_numpy_backward`).

tinygraph pays at least its graph-less forward plus numpy's backward. What is left of 0.6×
PyTorch's time is the budget for recording the graph in the forward pass and walking it in the
backward pass; the last line compares it with what tinygraph spends on that. (The graph-less
forward is tinygraph's own floor, not every engine's: a bare wrapper of one call and one object
per op costs about 0.4 µs over numpy, tinygraph's about 0.9 µs; see NOTES.md, seventh round.)
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tinygraph itself, when not installed
from workloads import chain, chain_data, chain_numpy_backward  # noqa: E402

N = 1000


def timed(forward, backward) -> list[float]:
    """Seconds taken by ``out = forward()`` and, unless `backward` is None, by ``backward(out)``."""
    t0 = time.perf_counter()
    out = forward()
    t1 = time.perf_counter()
    if backward is None:
        return [t1 - t0]
    backward(out)
    return [t1 - t0, time.perf_counter() - t1]


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

    def backward(x):  # tinygraph's and PyTorch's: the sum's gradient into x.grad, cleared after
        def run(loss) -> None:
            loss.backward()
            x.grad = None

        return run

    ys: list = []  # numpy's tanh outputs, kept by the forward for the backward
    phases = [  # (what, forward, backward or None to time the forward only)
        ("tinygraph", lambda: chain(x_grad, ta, tb, N, tg.tanh).sum(), backward(x_grad)),
        ("tinygraph, no graph", lambda: chain(x_plain, ta, tb, N, tg.tanh).sum(), None),
        ("PyTorch", lambda: chain(px, pa, pb, N, torch.tanh).sum(), backward(px)),
        ("numpy", lambda: chain(d["x"], a, b, N, np.tanh, ys), lambda x: chain_numpy_backward(x, b, ys, N)),
    ]
    times: dict = {}
    for step in range(330):
        for what, forward, back in phases:
            for phase, t in zip(("forward", "backward"), timed(forward, back)):
                if step >= 30:
                    times.setdefault(f"{what} {phase}", []).append(t)
    per_op = {k: float(np.median(v)) * 1e6 / N for k, v in times.items()}
    for k, v in per_op.items():
        print(f"{k:28s} {v:5.2f} µs/op")
    pt = per_op["PyTorch forward"] + per_op["PyTorch backward"]
    tg_total = per_op["tinygraph forward"] + per_op["tinygraph backward"]
    floor = per_op["tinygraph, no graph forward"] + per_op["numpy backward"]
    print(f"tinygraph / PyTorch: {tg_total / pt:.2f}")
    print(f"graph-less forward + numpy's backward, / PyTorch: {floor / pt:.2f}")
    print(
        f"left for the graph at 0.6× PyTorch: {0.6 * pt - floor:.2f} µs/op; "
        f"tinygraph spends {tg_total - floor:.2f} µs/op on it"
    )


if __name__ == "__main__":
    main()
