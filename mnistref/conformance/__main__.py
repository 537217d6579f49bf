"""``python -m mnistref.conformance TARGET [--dtype float64|float32] [--json] [--seed S]``."""

import sys

from mnistref.conformance import main

sys.exit(main())
