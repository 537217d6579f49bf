"""The forms the golden cases are stored in: ``.npz`` (NumPy's own format,
byte-deterministic here), JSON and lines of text, each written from the cases and
(``.npz``, JSON) read back into them exactly."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from mnistref.vectors._cases import EQUATION_IO, Array, Case, describe
from mnistref.vectors._tolerances import _tol_tokens, chain_tolerances, tolerances


def _npz_bytes(cases: Mapping[str, Case]) -> bytes:
    # np.savez stamps members with the current time; a fixed stamp makes the file
    # a function of its content, so its SHA-256 can be committed.
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        for case_name, case in cases.items():
            for key, arr in case.items():
                info = zipfile.ZipInfo(f"{case_name}/{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                member = io.BytesIO()
                np.lib.format.write_array(member, arr.copy(order="C"), allow_pickle=False)
                zf.writestr(info, member.getvalue())
    return buf.getvalue()


def _float_tokens(a: Array) -> list[str]:
    flat = a.ravel()
    if a.dtype == np.float32:
        # The shortest decimal that reads back as this float32 (as strtof or
        # str::parse::<f32> read it); checked below through float64, as Python reads it.
        tokens = [str(v) for v in flat]
        back = np.array([float(t) for t in tokens], dtype=np.float64).astype(np.float32)
        bad = back.view(np.uint32) != flat.view(np.uint32)
        for i in np.flatnonzero(bad):
            tokens[i] = repr(float(flat[i]))
        return tokens
    # repr of a Python float is the shortest string that round-trips exactly.
    return [repr(float(v)) for v in flat]


def _json_array(a: Array, tol: Array | None = None, chain_tol: Array | None = None) -> str:
    tokens = [str(int(v)) for v in a.ravel()] if a.dtype.kind in "iu" else _float_tokens(a)
    extra = "".join(
        f', "{key}": [{", ".join(_tol_tokens(t))}]'
        for key, t in (("tol", tol), ("chain_tol", chain_tol))
        if t is not None
    )
    return (
        f'{{"dtype": "{a.dtype.name}", "shape": {json.dumps(list(a.shape))}, '
        f'"data": [{", ".join(tokens)}]{extra}}}'
    )


def _json_text(dtype: str, cases: Mapping[str, Case]) -> str:
    from mnistref import SPEC_VERSION

    lines = [
        "{",
        f'"spec_version": "{SPEC_VERSION}",',
        f'"dtype": "{dtype}",',
        '"layout": "each array: dtype, shape, data = the entries in row-major (C) order; '
        "each output also tol (its bound computed from the stored inputs) and, for a "
        "training step's outputs, chain_tol (its bound when the whole step runs on the "
        "port's own results), in the same order: pass iff |got - data| <= tol\",",
        '"cases": {',
    ]
    chains = chain_tolerances(cases, dtype)
    for ci, (case_name, case) in enumerate(cases.items()):
        tols = tolerances(case, dtype)
        lines.append(f'"{case_name}": {{')
        lines.append(f'  "description": {json.dumps(describe(case_name))},')
        lines.append('  "arrays": {')
        items = list(case.items())
        for ai, (key, arr) in enumerate(items):
            comma = "," if ai < len(items) - 1 else ""
            lines.append(
                f'    "{key}": {_json_array(arr, tols.get(key), chains[case_name].get(key))}{comma}'
            )
        lines.append("  }")
        lines.append("}," if ci < len(cases) - 1 else "}")
    lines.append("}")
    lines.append("}")
    return "\n".join(lines) + "\n"


_KIND = {"float64": "f64", "float32": "f32", "int64": "i64"}


def _text_value(a: Array, tokens: list[str] | None = None) -> str:
    """*a* in the exec protocol's value syntax (spec/protocol.md)."""
    if tokens is None:
        tokens = [str(int(v)) for v in a.ravel()] if a.dtype.kind in "iu" else _float_tokens(a)
    return " ".join([_KIND[a.dtype.name], str(a.ndim), *map(str, a.shape), *tokens])


def _text(dtype: str, cases: Mapping[str, Case]) -> str:
    """The cases as lines a checker in any language reads without a JSON parser
    (``spec/vectors/README.md``, "The text form")."""
    from mnistref import SPEC_VERSION

    lines = [
        f"# mnistref golden vectors, spec {SPEC_VERSION}, {dtype}: spec/vectors/README.md",
        "# case NAME | NAME VALUE | NAME.tol VALUE | NAME.chain_tol VALUE | "
        "check FUNCTION OUTPUT INPUT...",
        "# pass iff |got - expected| <= tol for every entry (a NaN never passes)",
    ]
    chains = chain_tolerances(cases, dtype)
    for name, case in cases.items():
        tols = tolerances(case, dtype)
        lines.append(f"case {name}")
        for key, arr in case.items():
            lines.append(f"{key} {_text_value(arr)}")
            for suffix, t in (("tol", tols.get(key)), ("chain_tol", chains[name].get(key))):
                if t is not None:
                    t = np.asarray(t, dtype=np.float64)
                    lines.append(f"{key}.{suffix} {_text_value(t, _tol_tokens(t))}")
        for rows in EQUATION_IO.values():
            for fn, ins, outs in rows:
                if fn != "predict":
                    lines.append(f"check {fn} {outs[0]} {' '.join(ins)}")
    return "\n".join(lines) + "\n"


def load_npz(path: str | Path) -> dict[str, Case]:
    """Read a golden ``.npz`` file back into {case: {array: ndarray}}."""
    out: dict[str, Case] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            case_name, arr = key.rsplit("/", 1)
            out.setdefault(case_name, {})[arr] = z[key]
    return out


def load_json(path: str | Path) -> dict[str, Case]:
    """Read a golden ``.json`` file back into {case: {array: ndarray}}, exactly."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    out: dict[str, Case] = {}
    for case_name, case in doc["cases"].items():
        out[case_name] = {
            key: np.array(
                spec["data"], dtype=np.float64 if spec["dtype"].startswith("float") else np.int64
            )
            .astype(spec["dtype"])
            .reshape(spec["shape"])
            for key, spec in case["arrays"].items()
        }
    return out
