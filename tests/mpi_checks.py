"""Run under mpiexec by tests/test_distributed.py: many checks in one launch, one JSON file per rank.

``python tests/mpi_checks.py all DIR``: the exactness checks, each rank's results in DIR/rank_R.json; ``python tests/mpi_checks.py fault KIND``: rank 1
misbehaves (raises, dies, hangs, exits early) in the middle of training.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time

import numpy as np

import tinygraph as tg
from tinygraph import distributed as dist
from tinygraph import nn
from tinygraph.data import minibatches
from tinygraph.nn import functional as F
from tinygraph.optim import SGD, Adam
from tinygraph.random import manual_seed


def digest(model) -> str:
    h = hashlib.sha256()
    for _, p in model.named_parameters():
        h.update(p.data.tobytes())
    for _, b in model.named_buffers():
        h.update(b.data.tobytes())
    return h.hexdigest()


def gather(value):
    return dist.world().comm.allgather(value)


def data(m: int, seed: int = 5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, 6)).astype(dtype), rng.integers(0, 3, m)


def net(seed: int, dtype=np.float64, batchnorm: bool = False):
    manual_seed(seed)
    layers = [nn.Linear(6, 8, dtype=dtype)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(8))
    layers += [nn.Tanh(), nn.Linear(8, 3, dtype=dtype)]
    return nn.Sequential(*layers)


def loss_fn(model, X, y):
    return F.cross_entropy(model(tg.tensor(X)), y)


def local_grads(model, X, y, weight_examples: bool = True):
    """This rank's share of the batch (X, y): forward, backward, all-reduce; the averaged gradients."""
    part = dist.share(len(y))
    model.zero_grad()
    if part.stop > part.start:
        loss_fn(model, X[part], y[part]).backward()
    before = [id(p.grad.data) if p.grad is not None else None for p in model.parameters()]
    dist.all_reduce_gradients(model, weight=(part.stop - part.start) if weight_examples else None)
    local_grads.in_place = all(b is None or b == id(p.grad.data) for b, p in zip(before, model.parameters()))
    return [p.grad.data.copy() for p in model.parameters()]


def check_gradients() -> dict:
    out = {}
    for m in (12, 13):  # equal shares on 2 and 3 ranks; unequal (7/6, 5/4/4)
        X, y = data(m)
        model = net(1)
        got = local_grads(model, X, y)
        model.zero_grad()
        loss_fn(model, X, y).backward()
        want = [p.grad.data for p in model.parameters()]
        out[f"grad_err_{m}"] = max(float(np.abs(a - b).max()) for a, b in zip(got, want))
        out[f"grad_scale_{m}"] = max(float(np.abs(b).max()) for b in want)
        out[f"grad_digest_{m}"] = hashlib.sha256(b"".join(g.tobytes() for g in got)).hexdigest()
        out[f"share_{m}"] = dist.share(m).stop - dist.share(m).start
        out[f"in_place_{m}"] = local_grads.in_place  # the mean went into the .grad arrays backward made
    # small buckets (several MPI calls) and mixed dtypes (one buffer per dtype) give the same mean
    X, y = data(13)
    model = net(1)
    model[2].bias.data = model[2].bias.data.astype(np.float32)  # one float32 parameter among float64 ones
    part = dist.share(13)
    for bucket_bytes in (2**24, 64):
        model.zero_grad()
        loss_fn(model, X[part], y[part]).backward()
        dist.all_reduce_gradients(model, weight=part.stop - part.start, bucket_bytes=bucket_bytes)
        out[f"bucket_{bucket_bytes}"] = [p.grad.data.tolist() for p in model.parameters()]
    out["bias_grad_dtype"] = str(model[2].bias.grad.dtype)
    model.zero_grad()
    loss_fn(model, X, y).backward()
    out["mixed_err"] = max(
        float(np.abs(np.array(g) - p.grad.data).max()) for g, p in zip(out["bucket_64"], model.parameters())
    )
    # a plain average (weight None) of unequal shares is not the whole batch's gradient
    X, y = data(13)
    model = net(1)
    plain = local_grads(model, X, y, weight_examples=False)
    model.zero_grad()
    loss_fn(model, X, y).backward()
    out["plain_avg_err_13"] = max(float(np.abs(a - p.grad.data).max()) for a, p in zip(plain, model.parameters()))
    return out


def check_steps() -> dict:
    out = {}
    X, y = data(40, seed=7)
    for name, make in (("sgd", lambda ps: SGD(ps, lr=0.1, momentum=0.9)), ("adam", lambda ps: Adam(ps, lr=0.01))):
        ref, model = net(2), net(2)
        ref_opt, opt = make(ref.parameters()), make(model.parameters())
        mismatched_steps = 0
        for step in range(20):
            xb, yb = X[(step * 8) % 40 :][:9], y[(step * 8) % 40 :][:9]  # 9 examples: unequal shares
            ref_opt.zero_grad()
            loss_fn(ref, xb, yb).backward()
            ref_opt.step()
            local_grads(model, xb, yb)
            opt.step()
            ds = gather(digest(model))
            mismatched_steps += len(set(ds)) != 1
        out[f"{name}_err"] = max(
            float(np.abs(a.data - b.data).max()) for a, b in zip(ref.parameters(), model.parameters())
        )
        out[f"{name}_moved"] = max(
            float(np.abs(a.data - b.data).max()) for a, b in zip(net(2).parameters(), model.parameters())
        )
        out[f"{name}_mismatched_steps"] = mismatched_steps
    # float32 stays float32, and the ranks stay bit-identical over steps with a plain average
    model = net(3, dtype=np.float32)
    opt = Adam(model.parameters(), lr=0.01)
    X32 = X.astype(np.float32)
    mismatched = 0
    for step in range(10):
        local_grads(model, X32[step : step + 11], y[step : step + 11])
        out["f32_grad_dtype"] = str(model[0].weight.grad.dtype)
        opt.step()
        mismatched += len(set(gather(digest(model)))) != 1
    out["f32_mismatched_steps"] = mismatched
    out["f32_param_dtype"] = str(model[0].weight.dtype)
    return out


def check_broadcast() -> dict:
    model = net(100 + dist.rank(), batchnorm=True)  # a different initialization on every rank
    model[1].running_mean.data[...] = dist.rank() + 1.0  # and different batch-norm statistics
    before = len(set(gather(digest(model))))
    dist.broadcast_parameters(model)
    after = gather(digest(model))
    return {
        "distinct_before": before,
        "distinct_after": len(set(after)),
        "equals_rank0_init": after[0] == digest(_bn_rank0()),
        "running_mean": float(model[1].running_mean.data[0]),
    }


def _bn_rank0():
    m = net(100, batchnorm=True)
    m[1].running_mean.data[...] = 1.0
    return m


def check_mismatch() -> dict:
    out = {}
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3 if dist.rank() == 0 else 4))
    try:
        dist.broadcast_parameters(model)
        out["shape_error"] = None
    except dist.DistributedError as e:
        out["shape_error"] = str(e)
    extra = nn.Sequential(nn.Linear(6, 8), *([nn.Linear(8, 8)] if dist.rank() == 1 else []))
    try:
        dist.broadcast_parameters(extra)
        out["missing_error"] = None
    except dist.DistributedError as e:
        out["missing_error"] = str(e)
    return out


def check_unused() -> dict:
    """``head`` gets a gradient on rank 0 only; ``spare`` on no rank."""
    model = nn.Module()
    model.body = nn.Linear(6, 3)
    model.head = nn.Linear(3, 3)
    model.spare = nn.Linear(3, 3)
    X, y = data(10)
    model.zero_grad()
    z = model.body(tg.tensor(X))
    if dist.rank() == 0:
        z = model.head(z)
    F.cross_entropy(z, y).backward()
    mine = model.head.weight.grad.data.copy() if model.head.weight.grad is not None else None
    dist.all_reduce_gradients(model, weight=1)
    ref = gather(mine)[0]
    return {
        "head_err": float(np.abs(model.head.weight.grad.data - ref / dist.world_size()).max()),
        "spare_is_none": model.spare.weight.grad is None,
    }


def check_data() -> dict:
    m, b = 23, 5
    X, Y = np.arange(2 * m).reshape(m, 2), np.arange(m)
    mine = [yb.tolist() for _, yb in dist.minibatches(X, Y, b, seed=3)]
    rows_ok = all(
        bool((xb[:, 0] == 2 * yb).all()) for xb, yb in dist.minibatches(X, Y, b, seed=3)
    )  # X rows stay paired with their labels
    every = gather(mine)
    whole = [yb.tolist() for _, yb in minibatches(X, Y, b, seed=3)]
    joined = [sum((every[r][i] for r in range(len(every))), []) for i in range(len(whole))]
    sizes = [[len(every[r][i]) for r in range(len(every))] for i in range(len(whole))]
    # with augmentation: every rank augments the whole batch with the shared seed and keeps its share
    from tinygraph.data import Augment

    imgs = np.random.default_rng(1).random((11, 4, 4))
    labels = np.arange(11)
    aug = Augment(flip=0.5, noise=0.1)
    mine_aug = [xb for xb, _ in dist.minibatches(imgs, labels, 4, seed=2, augment=aug)]
    whole_aug = [xb[dist.share(len(xb))] for xb, _ in minibatches(imgs, labels, 4, seed=2, augment=aug)]
    return {
        "augmented_equal_whole": all(np.array_equal(a, b) for a, b in zip(mine_aug, whole_aug))
        and len(mine_aug) == len(whole_aug) == 3,
        "batches_equal_whole": joined == whole,
        "covers_once": sorted(sum(joined, [])) == list(range(m)),
        "max_size_gap": max(max(s) - min(s) for s in sizes),
        "rows_paired": rows_ok,
        "n_batches": len(mine),
    }


def check_fit() -> dict:
    from tinygraph.train import fit

    X, y = data(61, seed=11)
    Xd, yd = data(17, seed=12)
    results = {}
    for distributed in (False, True):
        model = net(4)
        opt = Adam(model.parameters(), lr=0.02)
        h = fit(
            model,
            F.cross_entropy,
            opt,
            (X, y),
            epochs=3,
            dev_data=(Xd, yd),
            batch_size=16,
            metric="accuracy_logits",
            progress=distributed,  # the one-process run stays quiet; the distributed one prints on rank 0
            verbose=distributed,
            distributed=distributed,
        )
        results[distributed] = (h, [p.data.copy() for p in model.parameters()])
    (h1, p1), (h2, p2) = results[False], results[True]
    return {
        "fit_param_err": max(float(np.abs(a - b).max()) for a, b in zip(p1, p2)),
        "fit_cost_err": max(abs(a - b) for a, b in zip(h1.train_cost + h1.dev_cost, h2.train_cost + h2.dev_cost)),
        "fit_batch_cost_err": max(abs(a - b) for a, b in zip(h1.batch_cost, h2.batch_cost)),
        "fit_metric_err": max(
            abs(a - b) for a, b in zip(h1.train_metric + h1.dev_metric, h2.train_metric + h2.dev_metric)
        ),
        "fit_diagnosis_same": h1.diagnosis == h2.diagnosis,
        "fit_digest_same": len(set(gather(hashlib.sha256(b"".join(p.tobytes() for p in p2)).hexdigest()))) == 1,
    }


def check_in_step() -> dict:
    model = net(9)
    dist.broadcast_parameters(model)
    dist.check_in_step(model)  # in step: no error
    if dist.rank() == dist.world_size() - 1:
        model[2].bias.data[1] += 1e-12  # one rank drifts by one rounding
    try:
        dist.check_in_step(model)
        return {"drift_error": None}
    except dist.DistributedError as e:
        return {"drift_error": str(e)}


def check_save() -> dict:
    folder = gather(tempfile.mkdtemp() if dist.rank() == 0 else None)[0]
    tg.save({"rank": dist.rank()}, os.path.join(folder, f"from_rank_{dist.rank()}.npz"))
    dist.barrier()
    files = sorted(f for f in os.listdir(folder) if f.endswith(".npz"))
    return {"saved": files, "no_temp_left": all(not f.endswith(".tmp") for f in os.listdir(folder))}


def fault(kind: str) -> None:
    X, y = data(40)
    model = net(1)
    opt = SGD(model.parameters(), lr=0.1)
    dist.broadcast_parameters(model)
    for step in range(50):
        if dist.rank() == 1 and step == 3:
            if kind == "raise":
                raise ValueError("boom at step 3")
            if kind == "die":
                os._exit(7)
            if kind == "hang":
                time.sleep(120)
            if kind == "exit":
                sys.exit(0)
        local_grads(model, X, y)
        opt.step()
    print(f"rank {dist.rank()} finished", flush=True)


def main() -> None:
    if sys.argv[1] == "fault":
        dist.init(timeout=float(sys.argv[3]) if len(sys.argv) > 3 else 600)
        fault(sys.argv[2])
        return
    dist.init(timeout=60)
    result = {"rank": dist.rank(), "size": dist.world_size()}
    for check in (
        check_gradients,
        check_steps,
        check_broadcast,
        check_mismatch,
        check_unused,
        check_data,
        check_save,
        check_in_step,
    ):
        result.update(check())
    result.update(check_fit())
    with open(os.path.join(sys.argv[2], f"rank_{dist.rank()}.json"), "w") as f:  # (mpiexec may mix long lines)
        json.dump(result, f)


if __name__ == "__main__":
    main()
