"""Doctest collection: tinygraph/distributed/ needs mpi4py (pip install tinygraph[distributed])."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("mpi4py") else ["tinygraph/distributed"]
