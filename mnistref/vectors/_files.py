"""The directory ``spec/vectors/``: every generated file, the manifest of their
checksums, and writing them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mnistref.vectors._cases import DTYPES, EQUATION_IO, SEED, Case, describe, generate
from mnistref.vectors._formats import _json_text, _npz_bytes, _text, load_npz

GENERATOR = "python -m mnistref.vectors --write spec/vectors"


def manifest(files: Mapping[str, bytes]) -> dict[str, Any]:
    """The content of ``manifest.json`` for the generated *files* (name -> bytes)."""
    from mnistref import SPEC_VERSION

    return {
        "spec_version": SPEC_VERSION,
        "seed": SEED,
        "generator": GENERATOR,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
        "cases": {dtype: {name: describe(name) for name in generate(dtype)} for dtype in DTYPES},
        "equations": {
            str(n): [
                {"function": fn, "inputs": list(ins), "outputs": list(outs)}
                for fn, ins, outs in rows
            ]
            for n, rows in EQUATION_IO.items()
        },
        "init": {
            "note": (
                "Eq. (1)-(2) draw random numbers, which no two languages draw alike: check "
                "shapes, zero biases and the weight distribution, not values."
            ),
            "W1": {"shape": ["D", "H"], "distribution": "normal", "mean": 0.0, "std": 0.1},
            "b1": {"shape": ["H"], "value": 0.0},
            "W2": {"shape": ["H", "K"], "distribution": "normal", "mean": 0.0, "std": 0.1},
            "b2": {"shape": ["K"], "value": 0.0},
        },
        "loss_cap": {
            dtype: {
                "tiny": float(np.finfo(dtype).tiny),
                "max_per_sample": float(-np.log(np.finfo(dtype).tiny)),
            }
            for dtype in DTYPES
        },
    }


def build_files(
    readme: bytes | None = None, cases: Mapping[str, Mapping[str, Case]] | None = None
) -> dict[str, bytes]:
    """The generated files of ``spec/vectors/``, name -> bytes.

    *readme*, the hand-written README.md, is not generated, but the manifest
    records its SHA-256 with the others.  *cases* (dtype -> cases) writes the files
    from given arrays instead of generating them (``--refresh``).
    """
    files: dict[str, bytes] = {}
    for dtype in DTYPES:
        arrays = generate(dtype) if cases is None else cases[dtype]
        files[f"{dtype}.npz"] = _npz_bytes(arrays)
        files[f"{dtype}.json"] = _json_text(dtype, arrays).encode("utf-8")
        files[f"{dtype}.txt"] = _text(dtype, arrays).encode("utf-8")
    hashed = dict(files, **({"README.md": readme} if readme is not None else {}))
    files["manifest.json"] = (json.dumps(manifest(hashed), indent=2) + "\n").encode("utf-8")
    return files


def write(directory: str | Path, *, refresh: bool = False) -> list[Path]:
    """Write the golden vectors into *directory*; return the paths written.  With
    *refresh*, write every file from the arrays of the ``.npz`` files already there
    (after an edit of the README or of the writer: on another CPU, generating anew
    may change outputs in their last bits)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    readme = d / "README.md"
    cases = {dt: load_npz(d / f"{dt}.npz") for dt in DTYPES} if refresh else None
    paths = []
    for name, data in build_files(readme.read_bytes() if readme.is_file() else None, cases).items():
        path = d / name
        path.write_bytes(data)
        paths.append(path)
    return paths
