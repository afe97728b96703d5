"""Count the CPU instructions W4's chain costs per op, under valgrind (cachegrind).

    python benchmarks/instructions.py             # tinygraph, compiled, hand-written numpy, PyTorch if installed
    python benchmarks/instructions.py tinygraph   # just one

Timings on a shared VM move by ±30% from run to run; instruction counts do not (ASLR off, one
BLAS thread, fixed hash seed), so this is how the engine changes in benchmarks/NOTES.md were
compared. Each implementation runs W4's step (workloads.py) on a 300-op chain 2 and 42 times in
fresh processes; the difference divided by 40 × 300 is the count per op (forward and backward),
start-up cancelled.
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
sys.path[:0] = [{root!r}, {bench!r}]
import workloads as wl
impl, reps = sys.argv[1], int(sys.argv[2])
if impl == "pytorch":
    import torch
    torch.set_num_threads(1)
factories = {{"tinygraph": wl.chain_tinygraph, "compiled": wl.chain_compiled, "numpy": wl.chain_numpy}}
factory = factories.get(impl) or wl.chain_torch
step = factory(wl.chain_data({n}, 10))  # W4's own code and data, on a shorter chain
step()  # (the compiled one traces here, in both counts: it cancels)
for _ in range(reps):
    step()
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
    impls = sys.argv[1:] or ["tinygraph", "compiled", "numpy", "pytorch"]
    here = Path(__file__).resolve().parent
    script = Path("/tmp") / f"tinygraph_instructions_{os.getpid()}.py"
    script.write_text(CHILD.format(root=str(here.parent), bench=str(here), n=N_OPS))
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
