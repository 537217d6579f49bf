"""Ports of the network used to test mnistref's conformance runner.

``numpy_port.py`` and ``numpy_alt_port.py`` are correct; ``bugs/`` holds the bug
catalogue, each module ``numpy_port.py`` with one planted bug (``catalogue.py``).
The PyTorch and JAX worked ports live in ``spec/ports/``.
"""
