"""``python -m mnistref.conformance TARGET [--dtype float64|float32] [--json] [--seed S]``."""

import sys

from mnistref.commands.conformance import main

sys.exit(main())
