"""`python -m tinygraph` runs the `tinygraph` command."""

import sys

from tinygraph.cli import main

sys.exit(main())
