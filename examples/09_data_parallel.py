"""09. Data-parallel training over MPI: example 03's digits network on 1, 2 and 3 processes, the same result.

Each process (rank) holds the whole [64, 32, 16, 10] network; each mini-batch of 64 is split into
one share per rank, each rank backpropagates its share, the gradients are averaged (weighted by the
shares' sizes) with one MPI all-reduce, and every rank takes the same Adam step. So 1, 2 and 3
ranks train the same network: the same final cost and accuracy (to rounding), only the time
per epoch changes. Needs ``pip install tinygraph[distributed]`` (mpi4py and the mpich wheel);
the digits need scikit-learn (``tinygraph[digits]``), else the flower is used.

Run it plainly: it launches itself with ``mpiexec -n 1``, ``-n 2`` and ``-n 3`` (the mpiexec
installed next to Python) and prints one line per world size::

    python examples/09_data_parallel.py [--small] [--out DIR] [--ranks 1 2 3]

Each run is also a script you can start yourself, on a laptop or a cluster's MPI::

    mpiexec -n 4 python examples/09_data_parallel.py --worker [--small] [--out DIR]

Measured, 30 epochs: 1, 2 and 3 ranks all give 100% train / 98.3% test accuracy, train cost
0.008002, test cost 0.035914 (example 03's 98.3%). Batches of 64 are too small to gain from
splitting: on this shared 2-core machine an epoch took 34-73 ms on 1 rank, 140-150 ms on 2 and
231-258 ms on 3 (two runs; each step's all-reduce and the scheduling of ranks that share cores
outweigh the work saved; see benchmarks/distributed.py for a batch large enough to scale).
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np

from tinygraph.demo import example_main


def load_data() -> dict:
    """The digits (with scikit-learn) or the flower, with the network, loss and name that go with them."""
    if importlib.util.find_spec("sklearn") is not None:
        from tinygraph.datasets import load_digits

        X, y = load_digits()
        return {"X": X, "y": y, "sizes": [64, 32, 16, 10], "name": "digits"}
    from tinygraph.datasets import make_flower

    X, y = make_flower(layout="rows")
    return {"X": X, "y": y[:, None].astype(float), "sizes": [2, 20, 7, 5, 1], "name": "flower"}


def run_worker(small: bool, out: Path, data: str | None = None) -> dict:
    """One rank's part: build, broadcast, fit(distributed=True); rank 0 writes the result to ``out``.

    ``data``: an .npz the launcher wrote (so the ranks need not each import scikit-learn), else loaded here.
    """
    from tinygraph import distributed as dist
    from tinygraph import nn
    from tinygraph.nn import functional as F
    from tinygraph.optim import Adam
    from tinygraph.random import manual_seed
    from tinygraph.train import fit

    dist.init()
    if data is None:
        d = load_data()
    else:
        with np.load(data, allow_pickle=False) as f:
            d = {"X": f["X"], "y": f["y"], "sizes": f["sizes"].tolist(), "name": str(f["name"])}
    X, y, sizes, name = d["X"], d["y"], d["sizes"], d["name"]
    loss = F.cross_entropy if name == "digits" else F.binary_cross_entropy_with_logits
    metric = "accuracy_logits"
    order = np.random.default_rng(0).permutation(len(y))  # example 03's split: 80% train, 20% test
    cut = int(0.8 * len(y))
    train, test = order[:cut], order[cut:]
    manual_seed(0)
    model = nn.MLP(sizes, activation="relu")
    opt = Adam(model.parameters(), lr=0.01)
    epochs = 3 if small else 30
    stamps = []
    start = time.perf_counter()
    history = fit(
        model,
        loss,
        opt,
        (X[train], y[train]),
        epochs=epochs,
        dev_data=(X[test], y[test]),
        batch_size=64,
        metric=metric,
        progress=False,
        verbose=False,
        distributed=True,
        callbacks=[lambda epoch, h: stamps.append(time.perf_counter())],
    )
    per_epoch = (stamps[-1] - start) / len(stamps)
    result = {
        "data": name,
        "ranks": dist.world_size(),
        "train_accuracy": 100 * history.train_metric[-1],
        "test_accuracy": 100 * history.dev_metric[-1],
        "train_cost": history.train_cost[-1],
        "test_cost": history.dev_cost[-1],
        "epoch_seconds": dist.average(per_epoch),  # the ranks' mean
    }
    if dist.rank() == 0:
        out.mkdir(parents=True, exist_ok=True)
        (out / f"09_ranks_{dist.world_size()}.json").write_text(json.dumps(result))
    return result


def main(
    small: bool = False,
    out: str | Path = "examples-output",
    ranks: tuple = (1, 2, 3),
    worker: bool = False,
    data: str | None = None,
) -> dict:
    """Launch the worker on each world size in ``ranks``; print and return {ranks: result}.

    With ``worker=True`` (``--worker``, as mpiexec starts it) be one rank of a run instead.
    """
    from tinygraph.distributed import launch

    if worker:
        return run_worker(small, Path(out), data)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    d = load_data()
    np.savez(out / "09_data.npz", X=d["X"], y=d["y"], sizes=np.array(d["sizes"]), name=np.array(d["name"]))
    results = {}
    for n in ranks:
        args = [str(Path(__file__).resolve()), "--worker", "--out", str(out), "--data", str(out / "09_data.npz")]
        args += ["--small"] if small else []
        proc = launch(n, args, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"09_data_parallel: the run on {n} ranks failed:\n{proc.stdout}{proc.stderr}")
        r = json.loads((out / f"09_ranks_{n}.json").read_text())
        results[n] = r
        print(
            f"{n} rank{'s' if n > 1 else ' '}: {r['data']}, train accuracy {r['train_accuracy']:.1f}%, "
            f"test accuracy {r['test_accuracy']:.1f}%, train cost {r['train_cost']:.6f}, "
            f"test cost {r['test_cost']:.6f}, {1000 * r['epoch_seconds']:.1f} ms per epoch"
        )
    return results


if __name__ == "__main__":
    example_main(
        main,
        __doc__,
        small_help="a quick run with few epochs",
        out_help="folder for the results",
        options=[
            (("--ranks",), {"type": int, "nargs": "+", "default": [1, 2, 3], "help": "the world sizes to run"}),
            (("--worker",), {"action": "store_true", "help": "be one rank (when started by mpiexec)"}),
            (("--data",), {"default": None, "help": "(worker) the .npz of the data the launcher wrote"}),
        ],
    )
