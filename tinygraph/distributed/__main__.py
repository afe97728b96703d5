"""``python -m tinygraph.distributed -n N script.py args...``: run a script on N ranks with mpiexec."""

from tinygraph.distributed.launcher import main

raise SystemExit(main())
