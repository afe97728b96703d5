"""Data-parallel training over MPI (mpi4py): each process computes the gradient of its share of a batch.

Every process ("rank") holds the whole model. Each step, a global mini-batch is
cut into one share per rank; each rank runs forward and backward on its share;
`all_reduce_gradients` replaces every ``.grad`` by the mean over the whole
global batch (each rank's gradient weighted by its share's size); every rank
then takes the same optimizer step, so the parameters stay identical, bit for
bit. Launch a script on N processes with ``mpiexec -n N python script.py``
(or ``python -m tinygraph.distributed -n N script.py``, which finds the
``mpiexec`` installed next to Python)::

    from tinygraph import distributed as dist
    dist.init()                          # a world of one when not started by mpiexec
    dist.broadcast_parameters(model)     # everyone starts from rank 0's parameters and buffers
    for epoch in range(epochs):
        for xb, yb in dist.minibatches(X, Y, 64, seed=epoch):   # this rank's share of each batch
            opt.zero_grad()
            if len(yb):
                loss_fn(model(tg.tensor(xb)), yb).backward()
            dist.all_reduce_gradients(model, weight=len(yb))      # the whole batch's mean gradient
            opt.step()

`tinygraph.train.fit(..., distributed=True)` does all of this, with the
metrics averaged over ranks and the progress bar printed by rank 0 only;
`tinygraph.save` writes from rank 0 only.

Faults: a rank whose script raises tells the others, which raise
`DistributedError` naming it (through ``sys.excepthook``, installed by
`init`); a rank that exits early says so at exit; a rank that dies is
noticed by its peers on the same machine (its process is gone) or by MPICH's
launcher, which ends the job; and every wait
has a deadline (``timeout``), after which the waiting rank asks the others
where they are and raises, naming the ones that did not answer.

Install: ``pip install tinygraph[distributed]`` (mpi4py and the ``mpich``
wheel: no system MPI needed).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygraph.tensor import Tensor

if importlib.util.find_spec("mpi4py") is None:
    raise ImportError(
        "tinygraph.distributed needs mpi4py and an MPI library: pip install tinygraph[distributed] "
        "(it brings mpi4py and the mpich wheel)"
    )

from tinygraph.distributed.launcher import command, launch, mpiexec  # noqa: E402
from tinygraph.distributed.world import DistributedError, World, excepthook  # noqa: E402

__all__ = [
    "DistributedError",
    "World",
    "all_reduce_gradients",
    "average",
    "barrier",
    "broadcast_parameters",
    "check_in_step",
    "command",
    "init",
    "is_initialized",
    "launch",
    "minibatches",
    "mpiexec",
    "rank",
    "share",
    "world",
    "world_size",
]

_BUCKET_BYTES = 16 * 2**20


_world: World | None = None


def init(timeout: float | None = None) -> World:
    """Join the MPI world (once; later calls return the same world) and install the fault handling.

    Started by ``mpiexec -n N``, this process becomes one of N ranks; started
    plainly, it is a world of one and everything here still works (the
    reductions return their input). ``timeout`` (seconds; default
    ``TINYGRAPH_DIST_TIMEOUT`` or 600) bounds every wait for the other ranks.

    An uncaught exception on a rank prints its traceback headed by the rank,
    tells the other ranks (they raise `DistributedError` naming it), and ends
    the job with ``MPI_Abort``, so no rank waits forever.

    >>> from tinygraph import distributed as dist
    >>> world = dist.init()
    >>> dist.rank() < dist.world_size()
    True
    """
    global _world
    if _world is not None:
        return _world
    if timeout is None:
        timeout = float(os.environ.get("TINYGRAPH_DIST_TIMEOUT", "600"))
    if not timeout > 0:
        raise ValueError(f"init: timeout must be positive, got {timeout!r}")
    try:
        from mpi4py import MPI  # noqa: F401 - initializes MPI
    except (ImportError, RuntimeError) as e:
        raise ImportError(
            f"tinygraph.distributed: mpi4py could not load an MPI library ({e}); "
            "pip install tinygraph[distributed] brings the mpich wheel"
        ) from None
    _world = World(timeout)
    if _world.size > 1:
        previous = sys.excepthook

        def hook(kind, value, tb):
            excepthook(_world, previous, kind, value, tb)

        sys.excepthook = hook
        atexit.register(_world.notify_exit)  # at interpreter exit, before mpi4py finalizes MPI
    return _world


def world() -> World:
    """The world `init` made (calls `init` first if needed)."""
    return _world if _world is not None else init()


def is_initialized() -> bool:
    """Whether `init` has run in this process."""
    return _world is not None


def rank() -> int:
    """This process's index in the world, 0 .. world_size() - 1."""
    return world().rank


def world_size() -> int:
    """The number of processes training together."""
    return world().size


def is_writer() -> bool:
    """True unless this is a rank other than 0 of an initialized world: who writes files (`tinygraph.save`)."""
    return _world is None or _world.rank == 0


def barrier() -> None:
    """Wait until every rank gets here (with the deadline and fault checks of every wait)."""
    w = world()
    w.calls += 1
    if w.size > 1:
        w.wait(w.comm.Ibarrier(), f"barrier #{w.calls}")


# ----- the model's state ---------------------------------------------------------------------------


def _named(model: Any, where: str) -> tuple[list[tuple[str, Tensor]], list[tuple[str, Tensor]]]:
    """(name, tensor) of the parameters and of the buffers of a Module, an object with parameters(), or a list."""
    if hasattr(model, "named_parameters"):
        params = list(model.named_parameters())
        buffers = list(model.named_buffers()) if hasattr(model, "named_buffers") else []
    elif hasattr(model, "parameters"):
        params, buffers = [(f"parameter {i}", p) for i, p in enumerate(model.parameters())], []
    elif isinstance(model, Iterable) and not isinstance(model, Tensor):
        params, buffers = [(f"parameter {i}", p) for i, p in enumerate(model)], []
    else:
        raise TypeError(
            f"{where}: expected a model (parameters() or named_parameters()) or a list of Tensors, "
            f"got {type(model).__name__}"
        )
    for name, t in params + buffers:
        if not isinstance(t, Tensor):
            raise TypeError(f"{where}: {name} is a {type(t).__name__}, not a Tensor")
    return params, buffers


def _signature(params, buffers) -> list:
    return [["parameter", n, list(t.shape), str(t.dtype), bool(t.requires_grad)] for n, t in params] + [
        ["buffer", n, list(t.shape), str(t.dtype), False] for n, t in buffers
    ]


def _first_difference(sigs: list[list]) -> str:
    """The first entry on which some rank's model differs from rank 0's, in words."""
    ref = {(k, n): e for k, n, *e in sigs[0]}
    for r, sig in enumerate(sigs[1:], start=1):
        mine = {(k, n): e for k, n, *e in sig}
        for (k, n), e in ref.items():
            if (k, n) not in mine:
                return f"rank {r} has no {k} {n!r} (rank 0 has one of shape {tuple(e[0])})"
            o = mine[(k, n)]
            if o[0] != e[0]:
                return f"{k} {n!r} has shape {tuple(e[0])} on rank 0 and {tuple(o[0])} on rank {r}"
            if o[1] != e[1]:
                return f"{k} {n!r} has dtype {e[1]} on rank 0 and {o[1]} on rank {r}"
            if o[2] != e[2]:
                return f"{k} {n!r} has requires_grad={e[2]} on rank 0 and {o[2]} on rank {r}"
        for k, n in mine:
            if (k, n) not in ref:
                return f"rank {r} has a {k} {n!r} that rank 0 lacks"
        if [(k, n) for k, n, *_ in sig] != [(k, n) for k, n, *_ in sigs[0]]:
            return f"rank {r} lists its parameters in another order than rank 0"
    return "the models' descriptions differ"


def _check_same_model(w: World, params, buffers) -> None:
    """Every rank compares a digest of its model's names, shapes and dtypes; on a difference, the details."""
    text = json.dumps(_signature(params, buffers)).encode()
    digest = np.frombuffer(hashlib.sha256(text).digest(), dtype=np.uint8).copy()
    digests = np.empty((w.size, 32), dtype=np.uint8)
    w.calls += 1
    w.wait(w.comm.Iallgather(digest, digests), f"broadcast_parameters #{w.calls} (comparing models)")
    if (digests == digests[0]).all():
        return
    lengths = np.empty(w.size, dtype=np.int64)
    w.wait(w.comm.Iallgather(np.array([len(text)], dtype=np.int64), lengths), "broadcast_parameters (lengths)")
    everything = np.empty(int(lengths.sum()), dtype=np.uint8)
    mine = np.frombuffer(text, dtype=np.uint8).copy()
    w.wait(w.comm.Iallgatherv(mine, [everything, lengths]), "broadcast_parameters (descriptions)")
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    sigs = [json.loads(bytes(everything[a:b]).decode()) for a, b in zip(bounds[:-1], bounds[1:])]
    raise DistributedError(f"broadcast_parameters: the models differ between ranks: {_first_difference(sigs)}")


def _buckets(tensors: list, bucket_bytes: int) -> list[list[int]]:
    """Indices of ``tensors`` grouped by dtype, in order, cut into buckets of at most ``bucket_bytes``."""
    by_dtype: dict = {}
    for i, t in enumerate(tensors):
        by_dtype.setdefault(t.dtype, []).append(i)
    out = []
    for idx in by_dtype.values():
        cur, size = [], 0
        for i in idx:
            nbytes = tensors[i].size * tensors[i].dtype.itemsize
            if cur and size + nbytes > bucket_bytes:
                out.append(cur)
                cur, size = [], 0
            cur.append(i)
            size += nbytes
        out.append(cur)
    return out


def broadcast_parameters(model: Any, root: int = 0) -> None:
    """Every rank takes rank ``root``'s parameters and buffers (batch norm's statistics), in place.

    Call it once after building the model (and before making the optimizer's
    state, which starts at zeros on every rank). The ranks first compare their
    models (names, shapes, dtypes, requires_grad) and all raise
    `DistributedError` naming the first parameter that differs. One broadcast
    per dtype (float32 stays float32).

    >>> import tinygraph as tg
    >>> from tinygraph import distributed as dist, nn
    >>> net = nn.Linear(3, 2)
    >>> before = net.weight.data.copy()
    >>> dist.broadcast_parameters(net)     # a world of one: nothing to take
    >>> bool((net.weight.data == before).all())
    True
    """
    w = world()
    params, buffers = _named(model, "broadcast_parameters")
    if isinstance(root, bool) or not isinstance(root, int) or not 0 <= root < w.size:
        raise ValueError(f"broadcast_parameters: root must be a rank in 0..{w.size - 1}, got {root!r}")
    if w.size == 1:
        return
    _check_same_model(w, params, buffers)
    tensors = [t for _, t in params + buffers]
    for bucket in _buckets(tensors, 2**62):
        flat = np.concatenate([tensors[i].data.reshape(-1) for i in bucket])
        w.calls += 1
        w.wait(w.comm.Ibcast(flat, root=root), f"broadcast_parameters #{w.calls}")
        at = 0
        for i in bucket:
            t = tensors[i]
            t.data[...] = flat[at : at + t.size].reshape(t.shape)
            t.mark_written("broadcast_parameters")
            at += t.size


def all_reduce_gradients(model: Any, weight: float | None = None, bucket_bytes: int = _BUCKET_BYTES) -> None:
    """Replace every parameter's ``.grad`` by its mean over the ranks, in place; the same on every rank.

    ``weight`` is the number of examples this rank's gradient is the mean over
    (its share of the global batch): the result is Σ_r weight_r·grad_r / Σ_r
    weight_r, the gradient of the whole batch's mean cost even when the
    shares differ in size; ``None`` weighs every rank alike (a plain average).
    A rank with an empty share passes ``weight=0``.

    The gradients are packed, by dtype, into flat buffers of at most
    ``bucket_bytes`` (16 MiB; one buffer for most models), each reduced with
    one MPI call and unpacked into the ``.grad`` arrays (float32 stays
    float32). A parameter without a gradient on a rank counts as zeros there;
    one without a gradient on every rank keeps ``.grad = None`` everywhere.
    Parameters with ``requires_grad=False`` are skipped.

    >>> import tinygraph as tg
    >>> from tinygraph import distributed as dist
    >>> w = tg.tensor([1.0, 2.0], requires_grad=True)
    >>> (w * w).sum().backward()
    >>> dist.all_reduce_gradients([w], weight=10)   # a world of one: the mean of one gradient
    >>> w.grad
    Tensor([2., 4.])
    """
    w = world()
    named = [(name, p) for name, p in _named(model, "all_reduce_gradients")[0] if p.requires_grad]
    for name, p in named:
        if p.grad is not None and p.grad.shape != p.shape:
            raise ValueError(f"all_reduce_gradients: {name} has shape {p.shape} but its .grad has shape {p.grad.shape}")
    params = [p for _, p in named]
    if weight is None:
        weight = 1.0
    weight = float(weight)
    if not (weight >= 0 and np.isfinite(weight)):
        raise ValueError(f"all_reduce_gradients: weight must be a finite number >= 0, got {weight!r}")
    if w.size == 1:
        if weight == 0:
            raise ValueError("all_reduce_gradients: every rank passed weight=0 (no examples anywhere)")
        return  # the mean of one gradient is itself (no rounding through weight·grad/weight)
    for bucket in _buckets(params, bucket_bytes):
        dtype = params[bucket[0]].dtype
        n = sum(params[i].size for i in bucket)
        flat = np.empty(n + 1 + len(bucket), dtype=dtype)  # gradients, then the weight, then has-grad flags
        at = 0
        for k, i in enumerate(bucket):
            p = params[i]
            part = flat[at : at + p.size]
            if p.grad is None:
                part[...] = 0
                flat[n + 1 + k] = 0
            else:
                np.multiply(np.asarray(p.grad.data, dtype=dtype).reshape(-1), weight, out=part)
                flat[n + 1 + k] = 1
            at += p.size
        flat[n] = weight
        w.calls += 1
        w.wait(w.comm.Iallreduce(w.MPI.IN_PLACE, flat, op=w.MPI.SUM), f"all_reduce_gradients #{w.calls}")
        total = flat[n]
        if total == 0:
            raise ValueError("all_reduce_gradients: every rank passed weight=0 (no examples anywhere)")
        np.divide(flat[:n], total, out=flat[:n])
        at = 0
        for k, i in enumerate(bucket):
            p = params[i]
            part = flat[at : at + p.size].reshape(p.shape)
            at += p.size
            if flat[n + 1 + k] == 0:
                p.grad = None
            elif _writable(p.grad, p):
                p.grad.data[...] = part
            else:
                p.grad = Tensor(part)  # (a copy)


def _writable(g: Tensor | None, p: Tensor) -> bool:
    """Whether the gradient's own array can take the mean in place (not shared, not part of a graph)."""
    if g is None or g.requires_grad or g.shape != p.shape or g.dtype != p.dtype:
        return False
    a = g.data
    return a.base is None and a.flags.writeable and a.flags.c_contiguous


# ----- the data ---------------------------------------------------------------------------------


def share(m: int, rank: int | None = None, size: int | None = None) -> slice:  # noqa: A002 - the rank asked about
    """This rank's (or ``rank``'s, in a world of ``size``) contiguous share of ``m`` items.

    The shares' sizes differ by at most one; together they cover the items once.

    >>> from tinygraph.distributed import share
    >>> [share(10, r, 3) for r in range(3)]
    [slice(0, 4, None), slice(4, 7, None), slice(7, 10, None)]
    """
    r = world().rank if rank is None else int(rank)
    n = world().size if size is None else int(size)
    if not 0 <= r < n:
        raise ValueError(f"share: rank {r} is outside a world of {n}")
    base, extra = divmod(int(m), n)
    start = r * base + min(r, extra)
    return slice(start, start + base + (1 if r < extra else 0))


def minibatches(
    X: Any,
    Y: Any,
    batch_size: int = 64,
    *,
    seed: Any = None,
    shuffle: bool = True,
    layout: str = "rows",
    drop_last: bool = False,
    augment: Any = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """This rank's share of each mini-batch of `tinygraph.data.minibatches` (same arguments).

    Every rank draws the same permutation (pass the same ``seed`` everywhere:
    an int, not None), cuts the same global batches of ``batch_size``, and
    keeps its `share` of each: the list has the same length on every rank, a
    share may be empty (fewer examples than ranks), and over the ranks every
    example is used once per epoch. With ``augment``, every rank augments the
    whole batch with the shared seed and keeps its share, so the run equals
    the one-process run.

    >>> import numpy as np
    >>> from tinygraph import distributed as dist
    >>> X, Y = np.arange(20).reshape(10, 2), np.arange(10)
    >>> [len(y) for _, y in dist.minibatches(X, Y, 4, seed=0)]   # a world of one: whole batches
    [4, 4, 2]
    """
    from tinygraph.data import _check_pair, _take
    from tinygraph.data import minibatches as whole

    if seed is None and shuffle and world_size() > 1:
        raise ValueError("minibatches: pass the same int seed on every rank (None would shuffle differently)")
    X, Y, m = _check_pair(X, Y, layout, "distributed.minibatches")
    if augment is not None:
        batches = whole(
            X, Y, batch_size, seed=seed, shuffle=shuffle, layout=layout, drop_last=drop_last, augment=augment
        )
        out = []
        for xb, yb in batches:
            b = yb.shape[0] if (layout == "rows" or yb.ndim == 1) else yb.shape[-1]
            idx = np.arange(b)[share(b)]
            out.append((_take(xb, idx, layout), _take(yb, idx, layout)))
        return out
    index = np.arange(m)
    parts = whole(index, index, batch_size, seed=seed, shuffle=shuffle, drop_last=drop_last)
    return [(_take(X, idx[share(len(idx))], layout), _take(Y, idx[share(len(idx))], layout)) for _, idx in parts]


def check_in_step(model: Any) -> None:
    """Raise `DistributedError` naming the first parameter or buffer whose bytes differ between ranks.

    Data-parallel training keeps the ranks identical bit for bit (the same
    reduced gradient, the same step); this checks it, with one small
    all-gather of a digest per tensor. `tinygraph.train.fit` calls it after
    every epoch.

    >>> from tinygraph import distributed as dist, nn
    >>> dist.check_in_step(nn.Linear(2, 2))     # a world of one is always in step
    """
    w = world()
    params, buffers = _named(model, "check_in_step")
    if w.size == 1:
        return
    items = params + buffers
    mine = np.empty((len(items), 16), dtype=np.uint8)
    for i, (_, t) in enumerate(items):
        mine[i] = np.frombuffer(
            hashlib.blake2b(np.ascontiguousarray(t.data).tobytes(), digest_size=16).digest(), np.uint8
        )
    every = np.empty((w.size, len(items), 16), dtype=np.uint8)
    w.calls += 1
    w.wait(w.comm.Iallgather(mine, every), f"check_in_step #{w.calls}")
    for r in range(1, w.size):
        differ = np.flatnonzero((every[r] != every[0]).any(axis=1))
        if len(differ):
            name = items[differ[0]][0]
            raise DistributedError(
                f"check_in_step: the ranks are out of step: {name!r} differs between rank 0 and rank {r} "
                f"({len(differ)} of {len(items)} tensors differ)"
            )


def average(value: float, weight: float = 1.0) -> float:
    """The mean of ``value`` over the ranks, each weighted by ``weight`` (its share size); the same on every rank.

    A metric that is a mean over examples (cost, accuracy) computed on each
    rank's share, weighted by the share's size, gives the metric of the whole
    set. A rank with weight 0 contributes nothing.

    >>> from tinygraph import distributed as dist
    >>> dist.average(0.25, weight=4)
    0.25
    """
    w = world()
    buf = np.array([float(value) * float(weight) if weight else 0.0, float(weight)], dtype=np.float64)
    if w.size > 1:
        w.calls += 1
        w.wait(w.comm.Iallreduce(w.MPI.IN_PLACE, buf, op=w.MPI.SUM), f"average #{w.calls}")
    if buf[1] == 0:
        raise ValueError("average: every rank passed weight 0")
    return float(buf[0] / buf[1])
