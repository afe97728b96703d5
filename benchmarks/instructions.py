"""Count the CPU instructions W4's chain costs per op, under valgrind (cachegrind).

    python benchmarks/instructions.py             # tinygraph, hand-written numpy, PyTorch if installed
    python benchmarks/instructions.py tinygraph   # just one

Timings on a shared VM move by ±30% from run to run; instruction counts do not (ASLR off, one
BLAS thread, fixed hash seed), so this is how the engine changes in benchmarks/NOTES.md were
compared. Each implementation runs the 300-op chain 2 and 42 times in fresh processes; the
difference divided by 40 × 300 is the count per op (forward and backward), start-up cancelled.
Needs valgrind and setarch on PATH. The count is not a time: numpy's C loops and PyTorch's C++
retire more instructions per cycle than CPython's interpreter does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

N_OPS = 300
REPS = (2, 42)

CHILD = r"""
import sys
sys.path.insert(0, {root!r})
import numpy as np
impl, reps, n = sys.argv[1], int(sys.argv[2]), {n}
rng = np.random.default_rng(4)
x0, a, b = (rng.uniform(lo, hi, 10).astype(np.float32) for lo, hi in ((-1, 1), (-0.1, 0.1), (0.9, 1.1)))
if impl == "tinygraph":
    import tinygraph as tg
    a, b, x0 = tg.tensor(a), tg.tensor(b), tg.tensor(x0, requires_grad=True)
    tanh = tg.tanh
elif impl == "pytorch":
    import torch
    torch.set_num_threads(1)
    a, b, x0 = torch.from_numpy(a), torch.from_numpy(b), torch.tensor(x0, requires_grad=True)
    tanh = torch.tanh
for _ in range(reps):
    x, ys = x0, []
    for i in range(n):
        k = i % 3
        if k == 0:
            x = x + a
        elif k == 1:
            x = x * b
        else:
            if impl == "numpy":
                x = np.tanh(x)
                ys.append(x)  # the tanh outputs, all the manual backward needs
            else:
                x = tanh(x)
    if impl == "numpy":  # the course's manual backward, as in workloads.chain_numpy
        g = np.ones_like(x)
        for i in reversed(range(n)):
            if i % 3 == 1:
                g = g * b
            elif i % 3 == 2:
                y = ys.pop()
                g = g * (1 - y * y)
    else:
        x.sum().backward()
        x0.grad = None
"""


def count(impl: str, reps: int, script: Path) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = ["setarch", "-R", "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    r = subprocess.run([*cmd, sys.executable, str(script), impl, str(reps)], capture_output=True, text=True, env=env)
    m = re.search(r"I\s+refs:\s+([\d,]+)", r.stderr)
    if r.returncode != 0 or m is None:
        sys.exit(f"{impl}: valgrind run failed:\n{r.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def main() -> None:
    for tool in ("valgrind", "setarch"):
        if shutil.which(tool) is None:
            sys.exit(f"instructions.py needs {tool} on PATH (Debian: apt-get install valgrind util-linux)")
    impls = sys.argv[1:] or ["tinygraph", "numpy", "pytorch"]
    root = str(Path(__file__).resolve().parent.parent)
    script = Path("/tmp") / f"tinygraph_instructions_{os.getpid()}.py"
    script.write_text(CHILD.format(root=root, n=N_OPS))
    try:
        for impl in impls:
            if impl == "pytorch":
                try:
                    import torch  # noqa: F401
                except ImportError:
                    print("pytorch: not installed, skipped")
                    continue
            lo, hi = (count(impl, r, script) for r in REPS)
            print(f"{impl}: {(hi - lo) / ((REPS[1] - REPS[0]) * N_OPS):,.0f} instructions per op (forward + backward)")
    finally:
        script.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
