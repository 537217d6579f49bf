"""Sub-commands of the ``mnistref`` command line; see :mod:`mnistref.cli`."""
