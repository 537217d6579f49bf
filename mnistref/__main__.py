"""``python -m mnistref`` is the ``mnistref`` command."""

import sys

from mnistref.cli import main

sys.exit(main())
