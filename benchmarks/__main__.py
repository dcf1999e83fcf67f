"""`python -m benchmarks [--quick]`: every component benchmark (see run.py)."""

import sys

from benchmarks.run import main

sys.exit(main())
