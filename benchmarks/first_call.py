"""Where the first call of a compiled chain goes (issue 18, W5): recording, program, frame, first replay.

    python benchmarks/first_call.py                   # chains of 2,000, 20,000 and 200,000 ops
    python benchmarks/first_call.py 20000 60000       # other lengths
    python benchmarks/first_call.py 20000 --source    # every program compiled as source (program.LONG raised)

The chain is W5's (workloads.py: add, multiply, tanh in turn, on a float32 scalar, through
``tinygraph_step``). The phases are timed by wrapping the compiler's own functions: the recording
(the eager call under the tracer), the program (live steps, source generated, then compiled, or
for a long one its table built), the first frame (buffers; the source executed or the table
bound), the first replay; then the median of 3 replays and of 3 eager steps. CPU seconds of this
process (``time.process_time``), which the neighbours of a shared VM move less than wall time.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import workloads as wl  # noqa: E402

import tinygraph.compiler as compiler  # noqa: E402
from tinygraph.compiler import program  # noqa: E402

clock = time.process_time
spent: dict = {}


def timed(name: str, f):
    def wrapper(*args, **kwargs):
        t = clock()
        try:
            return f(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + clock() - t

    return wrapper


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if "--source" in sys.argv:
        program.LONG = 10**12
    compiler.Compiled._trace = timed("trace", compiler.Compiled._trace)
    program.Program.__init__ = timed("program", program.Program.__init__)
    program.Frame.__init__ = timed("frame", program.Frame.__init__)
    print("ops, lines: recording + program + frame + first replay = first call | replay, eager step (CPU s)")
    for n in map(int, args or ["2000", "20000", "200000"]):
        spent.clear()
        step = wl.chain_tinygraph(wl.chain_data(n, None), compiled=True)
        t = clock()
        step()
        first = clock() - t
        replays = []
        for _ in range(3):
            t = clock()
            step()
            replays.append(clock() - t)
        eager = wl.chain_tinygraph(wl.chain_data(n, None))
        eagers = []
        for _ in range(3):
            t = clock()
            eager()
            eagers.append(clock() - t)
        p = step.compiled._last[1]
        lines = p.source.count("\n")
        how = "table" if getattr(p, "table", None) is not None else "source"
        recording = spent["trace"] - spent["program"]
        rest = first - spent["trace"] - spent["frame"]
        print(
            f"{n:,} ops, {lines:,} lines ({how}): {recording:.3f} + {spent['program']:.3f} + {spent['frame']:.3f}"
            f" + {rest:.3f} = {first:.3f} s | replay {statistics.median(replays):.3f} s,"
            f" eager {statistics.median(eagers):.3f} s"
        )


if __name__ == "__main__":
    main()
