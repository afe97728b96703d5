"""Benchmark tinygraph against hand-written numpy and PyTorch eager on the workloads of issue 8.

    python benchmarks/run.py            # the full run (a few minutes)
    python benchmarks/run.py --quick    # a smoke run (seconds)

One thread each (the BLAS thread variables are set before numpy or torch is imported), pinned to
one CPU, implementations alternating step by step after a warm-up (in a new random order each
round, so that no implementation always follows the same one), Python's garbage collector on
(with what the set-up left frozen out of it, ``gc.freeze()``, so that one column's long-lived
objects do not slow another's collections).
Before timing, every workload checks that the implementations compute the same loss and
gradients (float32 tolerances). "tinygraph (compiled)" is the tinygraph column's step with the loss
through ``tg.compile``; its first call (the trace) is timed apart, for W3 and W2 (and W5's first step is printed). Peak memory (RSS) of W2 at batch 1024 is measured for each
implementation in a fresh subprocess.
"""

from __future__ import annotations

import os

for _var in (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import gc  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import workloads as wl  # noqa: E402

torch = None  # imported in main(), so that the memory subprocesses of numpy and tinygraph never load it


def load_torch() -> None:
    global torch
    try:
        import torch as _torch
    except ImportError:  # PyTorch is optional: its columns are left out
        return
    _torch.set_num_threads(1)
    torch = _torch


IMPLS = ("tinygraph", "compiled", "numpy", "pytorch")  # "compiled": tinygraph through tg.compile (issue 18)
LABELS = {"tinygraph": "tinygraph", "compiled": "tinygraph (compiled)", "numpy": "numpy", "pytorch": "pytorch"}
# (warm-up steps, timed steps) per workload, full run and --quick
STEPS = {
    "W1": ((20, 300), (3, 20)),
    "W2": ((20, 500), (3, 30)),
    "W3": ((50, 1000), (5, 50)),
    "W4": ((10, 300), (2, 20)),
    "W5": ((1, 5), (0, 1)),
}


def pin() -> str:
    """Pin this process to one CPU (the last one) so the runs do not migrate."""
    if hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu}"
    return "not pinned (no sched_setaffinity)"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def to_numpy(x) -> np.ndarray:
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().numpy()
    if hasattr(x, "_data"):
        return np.asarray(x._data)
    return np.asarray(x)


def check(name: str, steps: dict) -> None:
    """Same loss and gradients from every implementation (one step, no update), or exit."""
    ref_loss, ref_grads = steps["numpy"](update=False)
    for impl, step in steps.items():
        if impl == "numpy":
            continue
        loss, grads = step(update=False)
        problems = []
        if not np.allclose(to_numpy(loss), to_numpy(ref_loss), rtol=1e-4, atol=1e-6):
            problems.append(f"loss {float(to_numpy(loss))} vs numpy {float(to_numpy(ref_loss))}")
        for i, (g, r) in enumerate(zip(grads, ref_grads)):
            g, r = to_numpy(g), to_numpy(r)
            if g.dtype != np.float32:
                problems.append(f"gradient {i} has dtype {g.dtype}, not float32")
            scale = float(np.abs(r).max()) or 1.0
            if g.shape != r.shape or not np.allclose(g, r, rtol=1e-3, atol=1e-4 * scale):
                problems.append(f"gradient {i} differs from numpy's (max |diff| {np.abs(g - r).max():.3g})")
        if to_numpy(loss).dtype != np.float32:
            problems.append(f"loss has dtype {to_numpy(loss).dtype}, not float32")
        if problems:
            sys.exit(f"{name}: {impl} disagrees with hand-written numpy: " + "; ".join(problems))


FIRST: dict = {}  # (workload, implementation) -> seconds of its first step (the compiled one's trace)
FAULTS: dict = {}  # workload -> {implementation: minor page faults per timed step}


def time_workload(name: str, data: dict, factories: dict, warmup: int, n: int) -> dict:
    """Per-step times in seconds for each implementation, alternating implementations every step.

    Each implementation gets its own copy of the workload's arrays (``copy.deepcopy``). Sharing them is a cross-column
    effect like the one ``gc.freeze()`` removes below: PyTorch's ``from_numpy`` reads numpy's own X
    while ``tg.tensor`` copies it, so the 10 MB X of W1 was read by two of the four steps of a round
    for numpy and PyTorch and by one for each tinygraph column, and stayed warmer in the cache for
    the first two (W1 tinygraph/numpy 1.18-1.22x shared this way, 1.06-1.07x with a copy each:
    benchmarks/NOTES.md, eighteenth round).
    """
    check_steps = {impl: f(copy.deepcopy(data)) for impl, f in factories.items()}
    check(name, check_steps)
    del check_steps
    steps = {impl: f(copy.deepcopy(data)) for impl, f in factories.items()}
    times: dict = {impl: [] for impl in steps}
    order = list(steps)
    # Each round runs the implementations in a new random order. A rotation of one fixed order (what
    # this harness did until the thirteenth round) gives every implementation the same predecessor at
    # every step, and what ran just before a step changes its time: W3's compiled/numpy was 1.13x in
    # the rotation's order and 0.95x in its reverse, in one process (benchmarks/NOTES.md).
    shuffle = random.Random(0).shuffle
    faults = dict.fromkeys(steps, 0)  # minor page faults in the timed steps, read outside the timed region
    for i in range(warmup + n):
        if i == min(1, warmup):  # after the first steps (the compiled one's trace): see below
            gc.freeze()
        if i > 0:
            shuffle(order)
        for impl in order:
            step = steps[impl]
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            step()
            dt = time.perf_counter() - t0
            if i == 0:
                FIRST[name, impl] = dt
            if i >= warmup:
                times[impl].append(dt)
                faults[impl] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
    FAULTS[name] = {impl: f / max(n, 1) for impl, f in faults.items()}
    # The objects the set-up and the first steps left (the data, PyTorch's modules, a compiled program:
    # W5's holds two million) are frozen out of the cycle collector while the steps are timed, so one
    # column's long-lived objects do not slow the others' collections; each step's own garbage is
    # collected as usual.
    gc.unfreeze()
    return times


# ----- peak memory, one fresh subprocess per implementation -------------------------------------


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def memory_child(impl: str) -> None:
    """Run W2 at batch 1024 for a few steps; print the RSS after set-up and the peak RSS (KiB)."""
    if impl == "pytorch":
        load_torch()
    if impl in ("tinygraph", "compiled"):
        import tinygraph  # noqa: F401 - imported before the baseline, like numpy and torch
    data = wl.mlp_data(1024)
    if impl == "compiled":
        import tinygraph  # noqa: F401
    makers = {
        "tinygraph": wl.mlp_tinygraph,
        "compiled": wl.mlp_compiled,
        "numpy": wl.mlp_numpy,
        "pytorch": wl.mlp_torch,
    }
    step = makers[impl](data, wl.LR["W2"])
    del data  # what each implementation keeps: tinygraph's tensors are copies, numpy's and PyTorch's X is not
    base = _rss_kib("VmRSS")
    for _ in range(10):
        step()
    print(base, _rss_kib("VmHWM"))


def measure_memory() -> dict:
    """(RSS after set-up, peak RSS) in KiB of W2 at batch 1024, per implementation, each in a fresh process.

    tinygraph's bytecode is compiled first, as an installed package has it (numpy's and PyTorch's
    is): a child that compiles tinygraph's source itself keeps about 1.5 MiB of the compiler's leftovers.
    """
    import compileall

    compileall.compile_dir(str(HERE.parent / "tinygraph"), quiet=1)
    out = {}
    for impl in IMPLS:
        if impl == "pytorch" and torch is None:
            continue
        r = subprocess.run(
            [sys.executable, __file__, "--memory-child", impl], capture_output=True, text=True, check=True
        )
        base, peak = (int(v) for v in r.stdout.split())
        out[impl] = (base, peak)
    return out


def trace_times(repeats: int = 5) -> dict:
    """Seconds of tg.compile's first call (the trace, the program's source compiled, one replay), W3 and W2.

    Each from a fresh compiled step; the best of `repeats`, and a plain replay's time to compare.
    """
    out = {}
    for name, data, make in (
        ("W3", wl.planar_data(400), lambda d: wl.course_net_compiled(d, wl.LR["W3"], "tanh")),
        ("W2", wl.mlp_data(128), lambda d: wl.mlp_compiled(d, wl.LR["W2"])),
    ):
        firsts, replays = [], []
        for _ in range(repeats):
            step = make(data)
            t0 = time.perf_counter()
            step.compiled(*step.args)
            t1 = time.perf_counter()
            step.compiled(*step.args)
            firsts.append(t1 - t0)
            replays.append(time.perf_counter() - t1)
        out[name] = (min(firsts), min(replays))
    return out


# ----- the table --------------------------------------------------------------------------------


def fmt(seconds: float) -> str:
    if seconds >= 0.1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3f} ms"
    return f"{seconds * 1e6:.2f} µs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few steps each: a smoke run, not a measurement")
    parser.add_argument("--only", default="", help="comma-separated workloads to run (e.g. W3,W4)")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return

    where = pin()
    load_torch()
    gc.enable()
    import tinygraph

    print(
        f"tinygraph {tinygraph.__version__}, numpy {np.__version__}, "
        f"PyTorch {torch.__version__ if torch else 'not installed'}, Python {platform.python_version()}"
    )
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores), one thread, {where}, gc on, float32")
    impls = [i for i in IMPLS if i != "pytorch" or torch is not None]
    only = {w.strip().upper() for w in args.only.split(",") if w.strip()}
    rows = []
    for name, (desc, data, factories) in wl.workloads().items():
        if only and name not in only:
            continue
        factories = {k: v for k, v in factories.items() if k in impls}
        warmup, n = STEPS[name][1 if args.quick else 0]
        t0 = time.perf_counter()
        times = time_workload(name, data, factories, warmup, n)
        per = 1000 if name == "W4" else 1  # W4 is reported per op
        stats = {k: (statistics.median(v) / per, min(v) / per) for k, v in times.items()}
        rows.append((name, desc, stats))
        print(f"  {name} done: {n} steps each in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    head = f"| workload | {' | '.join(f'{LABELS[i]} median (min)' for i in impls)} | tg/numpy | tg/PyTorch"
    head += " | compiled/numpy | compiled/PyTorch |"
    print()
    print(head)
    print("|" + "---|" * (len(impls) + 5))
    for name, desc, stats in rows:
        cells = [f"{fmt(stats[i][0])} ({fmt(stats[i][1])})" for i in impls]
        ratios = []
        for impl in ("tinygraph", "compiled"):
            t = stats[impl][0]
            ratios.append(f"{t / stats['numpy'][0]:.2f}×")
            ratios.append(f"{t / stats['pytorch'][0]:.2f}×" if "pytorch" in stats else "–")
        label = f"{name} {desc}" + (" (per op)" if name == "W4" else "")
        print(f"| {label} | {' | '.join(cells)} | {' | '.join(ratios)} |")
    print()
    print("Minor page faults per timed step (what this process's allocator makes each pay; a fault is a")
    print("kernel entry, so a column that faults is slower for reasons outside its own code):")
    for name, _, _ in rows:
        print(f"  {name}: " + ", ".join(f"{LABELS[i]} {FAULTS[name][i]:.1f}" for i in impls))

    if ("W5", "compiled") in FIRST:
        print()
        print(f"W5's first compiled call (trace, program built, one replay): {fmt(FIRST['W5', 'compiled'])}")

    if not only or "W3" in only or "W2" in only:
        print()
        print("tg.compile's first call (trace + source compiled + one replay), best of 5, against a replay:")
        for name, (first, replay) in trace_times().items():
            print(f"  {name}: first call {fmt(first)}, replay {fmt(replay)}")

    if not only or "MEM" in only or "W2" in only:
        mem = measure_memory()
        print()
        print("Peak memory (RSS) of W2 at batch 1024, 10 steps, each in a fresh process:")
        print()
        print("| implementation | RSS after set-up | peak RSS | peak above set-up |")
        print("|---|---|---|---|")
        for impl, (base, peak) in mem.items():
            print(f"| {impl} | {base / 1024:.1f} MiB | {peak / 1024:.1f} MiB | {(peak - base) / 1024:.1f} MiB |")
        nb, np_ = mem["numpy"]
        print()
        for impl in ("tinygraph", "compiled"):
            tb, tp = mem[impl]
            print(
                f"{LABELS[impl]}/numpy: peak RSS {tp / np_:.2f}×, peak above set-up {(tp - tb) / max(np_ - nb, 1):.2f}×"
            )


if __name__ == "__main__":
    main()
