"""Starting a script on N ranks: the ``mpiexec`` next to Python (the mpich wheel's), with the flags it needs.

python -m tinygraph.distributed -n 3 script.py [args...]
"""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from typing import Any


def mpiexec() -> str:
    """The ``mpiexec`` to use: the one installed next to this Python (the mpich wheel's), else the one on PATH."""
    import shutil

    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.exists(here):
        return here
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError("no mpiexec next to Python or on PATH: pip install tinygraph[distributed]")
    return found


@functools.cache
def _launcher_flags(exe: str, label: bool) -> tuple[str, ...]:
    """mpiexec flags: MPICH's hydra leaves the survivors of a dead rank alive so they name it (then abort);
    Open MPI needs flags to run more ranks than cores and to run as root (containers)."""
    text = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.lower()
    if "hydra" in text:
        return ("-disable-auto-cleanup",) + (("-l",) if label else ())
    if "open mpi" in text or "openrte" in text:
        return ("--oversubscribe", "--allow-run-as-root") + (("--tag-output",) if label else ())
    return ()


def command(n: int, args: list[str], label: bool = False) -> list[str]:
    """The command line that runs ``python args...`` on ``n`` ranks (``label``: each output line led by its rank)."""
    exe = mpiexec()
    return [exe, *_launcher_flags(exe, label), "-n", str(int(n)), sys.executable, *args]


def launch(
    n: int, args: list[str], timeout: float | None = None, label: bool = False, **kwargs: Any
) -> subprocess.CompletedProcess:
    """Run ``python args...`` on ``n`` ranks with `mpiexec` and wait (at most ``timeout`` s); output captured.

    >>> import sys
    >>> from tinygraph.distributed import launch
    >>> launch(2, ["-c", "print('hi')"], timeout=60).stdout.count("hi")  # (the ranks' lines may interleave)
    2
    """
    return subprocess.run(command(n, args, label), capture_output=True, text=True, timeout=timeout, **kwargs)


def main(argv: list[str] | None = None) -> int:
    """``python -m tinygraph.distributed -n N script.py args...``: run the script on N ranks."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tinygraph.distributed", description="Run a Python script on N ranks with mpiexec."
    )
    parser.add_argument("-n", type=int, default=2, help="number of ranks (processes)")
    parser.add_argument("script", help="the Python script")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    a = parser.parse_args(argv)
    return subprocess.call(command(a.n, [a.script, *a.args]))
