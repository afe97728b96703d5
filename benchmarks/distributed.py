"""W2 (MLP 784-256-128-10, softmax cross-entropy, SGD) at batch 1024, data-parallel over 1 and 2 ranks.

    python benchmarks/distributed.py [--steps 40] [--ranks 1 2]

Launches itself with ``mpiexec -n N`` (tinygraph.distributed.launch) for each N. Each rank
runs forward and backward on its share of the 1,024 examples (1024/N), `all_reduce_gradients`
(one float32 buffer of 235,146 gradients, 0.94 MB), and the SGD step. One BLAS thread per rank.
Reported, as medians over the timed steps on rank 0:

- time per step;
- the share of the step spent in ``all_reduce_gradients`` (this includes waiting for the
  slower rank), and the all-reduce alone on a buffer of the same size after a barrier;
- scaling efficiency, t(1 rank) / (N · t(N ranks)): 100% is a perfect N-fold speed-up.

Before timing, the gradients of the N-rank run are checked against the one-process gradient of
the whole batch (float32 tolerance).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

BATCH = 1024


def worker(steps: int) -> None:
    from workloads import LR, mlp_data

    import tinygraph as tg
    from tinygraph import distributed as dist
    from tinygraph.nn import functional as F  # noqa: N812

    dist.init()
    data = mlp_data(m=BATCH)
    part = dist.share(BATCH)
    X, labels = tg.tensor(data["X"][part]), data["labels"][part]
    params = [tg.tensor(p, requires_grad=True) for p in data["params"]]

    def backward():
        for p in params:
            p.grad = None
        W1, b1, W2, b2, W3, b3 = params
        loss = F.cross_entropy(tg.relu(tg.relu(X @ W1 + b1) @ W2 + b2) @ W3 + b3, labels)
        loss.backward()

    # check: the averaged gradient is the whole batch's
    backward()
    dist.all_reduce_gradients(params, weight=part.stop - part.start)
    got = [p.grad.data.copy() for p in params]
    whole = [tg.tensor(p, requires_grad=True) for p in data["params"]]
    W1, b1, W2, b2, W3, b3 = whole
    F.cross_entropy(tg.relu(tg.relu(tg.tensor(data["X"]) @ W1 + b1) @ W2 + b2) @ W3 + b3, data["labels"]).backward()
    err = max(float(np.abs(a - w.grad.data).max() / (np.abs(w.grad.data).max() + 1e-30)) for a, w in zip(got, whole))
    assert err < 1e-4, f"the averaged gradient differs from the whole batch's by {err:.2e} (relative)"

    step_t, reduce_t, alone_t = [], [], []
    flat = np.zeros(sum(p.size for p in params) + 1 + len(params), dtype=np.float32)
    w = dist.world()
    for i in range(steps + 5):
        dist.barrier()
        t0 = time.perf_counter()
        backward()
        t1 = time.perf_counter()
        dist.all_reduce_gradients(params, weight=part.stop - part.start)
        t2 = time.perf_counter()
        with tg.no_grad():
            for p in params:
                p.data -= LR["W2"] * p.grad.data
        t3 = time.perf_counter()
        dist.barrier()
        t4 = time.perf_counter()
        if w.size > 1:
            w.comm.Allreduce(w.MPI.IN_PLACE, flat, op=w.MPI.SUM)
        t5 = time.perf_counter()
        if i >= 5:
            step_t.append(t3 - t0)
            reduce_t.append(t2 - t1)
            alone_t.append(t5 - t4)
    if dist.rank() == 0:
        result = {
            "ranks": dist.world_size(),
            "step": statistics.median(step_t),
            "reduce": statistics.median(reduce_t),
            "alone": statistics.median(alone_t),
            "grad_rel_err": err,
        }
        print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.worker:
        worker(a.steps)
        return
    from tinygraph.distributed import launch

    env = {**os.environ, "PYTHONPATH": str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    rows = []
    for n in a.ranks:
        proc = launch(n, [__file__, "--worker", "--steps", str(a.steps)], timeout=600, env=env)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if proc.returncode != 0 or line is None:
            raise SystemExit(f"the run on {n} ranks failed:\n{proc.stdout}{proc.stderr}")
        rows.append(json.loads(line[7:]))
    t1 = next((r["step"] for r in rows if r["ranks"] == 1), None)
    print(f"W2 MLP 784-256-128-10, batch {BATCH}, float32, SGD; {os.cpu_count()} CPUs; medians of {a.steps} steps")
    print(
        "| ranks | examples per rank | time per step | in all_reduce_gradients | all-reduce alone | scaling efficiency |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        n = r["ranks"]
        eff = f"{100 * t1 / (n * r['step']):.0f}%" if t1 else "-"
        print(
            f"| {n} | {BATCH // n if BATCH % n == 0 else f'{BATCH // n}-{BATCH // n + 1}'} | {1000 * r['step']:.2f} ms "
            f"| {1000 * r['reduce']:.2f} ms ({100 * r['reduce'] / r['step']:.0f}%) | {1000 * r['alone']:.2f} ms | {eff} |"
        )


if __name__ == "__main__":
    main()
