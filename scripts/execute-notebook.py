"""Execute examples/tour.ipynb in place, so that it is committed with its outputs (pictures included).

    python scripts/execute-notebook.py [NOTEBOOK]

Needs the `notebook` extra (``pip install -e '.[notebook]'``) and Graphviz's ``dot``. The
notebook runs in a temporary folder; its outputs replace the old ones. tests/test_examples.py
checks that the committed outputs have the kinds a fresh run gives.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


def execute(path: Path) -> nbformat.NotebookNode:
    """The notebook at `path`, executed (every cell, in order) in a temporary folder."""
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        client = nbclient.NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            record_timing=False,
            coalesce_streams=True,  # one output per print, however the kernel sent it
            resources={"metadata": {"path": folder}},
        )
        client.execute()
    return nb


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else NOTEBOOK
    nbformat.write(execute(target), target)
    print(f"executed {target}")
