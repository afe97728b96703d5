"""Without the distributed extra: tinygraph imports, tinygraph.distributed names what to install (no MPI needed)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def test_without_mpi4py_import_tinygraph_works_and_distributed_names_the_extra():
    script = (
        "import sys; sys.modules['mpi4py'] = None\n"  # as if mpi4py were not installed
        "import importlib.util as u; u.find_spec = (lambda f: lambda n, *a: None if n == 'mpi4py' else f(n, *a))(u.find_spec)\n"
        "import tinygraph\n"
        "try:\n    from tinygraph import distributed\nexcept ImportError as e:\n    print('IMPORTERROR', e)\n"
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=ENV, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "IMPORTERROR" in r.stdout and "pip install tinygraph[distributed]" in r.stdout
