"""The golden vectors: committed files = regenerated from the reference, exactly readable.

The files in spec/vectors/ are what ``python -m mnistref.vectors --write spec/vectors``
writes.  Regenerating them must give the same inputs bit for bit (fixed seeds) and the
same outputs within the conformance runner's tolerances (a BLAS on another machine may
sum in another order; on the generating machine they are bit-identical), so the
committed vectors cannot drift from the reference.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import mnistref
from mnistref import vectors
from mnistref.conformance import _bound_for

SPEC = Path(__file__).resolve().parent.parent / "spec" / "vectors"

# output array -> the function whose bound applies to it
_FUNCTION_OF = {
    "Z1": "Z1", "A1": "A1", "Z2": "Z2", "A2": "A2", "L": "loss", "dZ2": "dZ2", "dW2": "dW2",
    "db2": "db2", "dA1": "dA1", "relu_prime_Z1": "relu_prime", "dZ1": "dZ1", "dW1": "dW1",
    "db1": "db1", "W1_new": "update_W1", "b1_new": "update_b1", "W2_new": "update_W2",
    "b2_new": "update_b2", "accuracy": "accuracy",
}


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, dict[str, np.ndarray]]]:
    return {dt: vectors.generate(dt) for dt in vectors.DTYPES}


def test_manifest_hashes_match_the_committed_files() -> None:
    manifest = json.loads((SPEC / "manifest.json").read_text())
    assert manifest["spec_version"] == mnistref.SPEC_VERSION
    assert manifest["seed"] == vectors.SEED
    assert manifest["generator"] == vectors.GENERATOR
    data_files = {f"{d}.{e}" for d in vectors.DTYPES for e in ("npz", "json")}
    assert set(manifest["files"]) == data_files | {"README.md"}
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((SPEC / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("dtype", vectors.DTYPES)
def test_regenerated_vectors_equal_the_committed_ones(
    dtype: str, generated: dict[str, dict[str, dict[str, np.ndarray]]]
) -> None:
    committed = vectors.load_npz(SPEC / f"{dtype}.npz")
    fresh = generated[dtype]
    assert list(committed) == list(fresh)
    dt = np.dtype(dtype)
    for case, arrays in fresh.items():
        assert list(committed[case]) == list(arrays), case
        for key, a in arrays.items():
            c = committed[case][key]
            assert c.dtype == a.dtype and c.shape == a.shape, (case, key)
            if key in vectors.INPUTS or case == "train.step0" or a.dtype.kind in "iu":
                np.testing.assert_array_equal(c, a, err_msg=f"{case}/{key}")
                continue
            # Outputs: another BLAS may round differently, within the runner's own
            # per-entry bound (the reference and the committed file are two ports).
            E, _ = _bound_for(_FUNCTION_OF[key], arrays, dt)
            diff = np.abs(c.astype(np.float64) - a.astype(np.float64))
            assert np.all(diff <= E), (case, key)


def test_regenerated_files_are_byte_identical_here(
    generated: dict[str, dict[str, dict[str, np.ndarray]]],
) -> None:
    # ... and where the BLAS rounds as on the generating machine, the files are byte
    # for byte what the generator writes, manifest included.
    for dtype in vectors.DTYPES:
        committed = vectors.load_npz(SPEC / f"{dtype}.npz")
        differ = [f"{c}/{k}" for c, arrays in generated[dtype].items() for k, a in arrays.items()
                  if a.tobytes() != committed[c][k].tobytes()]
        if differ:
            pytest.skip(f"this BLAS rounds {len(differ)} {dtype} outputs differently (e.g. "
                        f"{differ[0]}); they agree within tolerance, tested above")
    files = vectors.build_files((SPEC / "README.md").read_bytes())
    for name, data in files.items():
        assert (SPEC / name).read_bytes() == data, name


@pytest.mark.parametrize("dtype", vectors.DTYPES)
def test_json_round_trips_every_float_exactly(dtype: str) -> None:
    from_npz = vectors.load_npz(SPEC / f"{dtype}.npz")
    from_json = vectors.load_json(SPEC / f"{dtype}.json")
    assert list(from_npz) == list(from_json)
    for case in from_npz:
        for key, a in from_npz[case].items():
            b = from_json[case][key]
            assert a.dtype == b.dtype and a.shape == b.shape
            # bit for bit, so -0.0 and the last digit both count
            assert a.tobytes() == b.tobytes(), (case, key)


def test_json_is_plain_json_any_parser_reads() -> None:
    doc = json.loads((SPEC / "float32.json").read_text(), parse_constant=pytest.fail)
    arr = doc["cases"]["basic"]["arrays"]["W1"]
    assert arr["dtype"] == "float32" and arr["shape"] == [6, 5] and len(arr["data"]) == 30


def test_the_cases_cover_what_ports_get_wrong(
    generated: dict[str, dict[str, dict[str, np.ndarray]]],
) -> None:
    for cases in generated.values():
        for name, c in cases.items():
            # nonzero biases everywhere except where a case zeroes some on purpose
            assert np.count_nonzero(c["b1"]) >= 1 and np.count_nonzero(c["b2"]) >= 1, name
        z = cases["relu_zero"]
        at_kink = z["Z1"] == 0
        assert at_kink.sum() >= 7 and np.all(z["dA1"][at_kink] != 0) and np.all(
            z["dZ1"][at_kink] == 0)  # fmt: skip
        big = cases["large_logits"]["Z2"]
        assert np.abs(big).max() >= 1e5 and (np.abs(big) >= 1e3).sum() >= 8
        assert (big[0] == 1e3).sum() == 3  # a three-way tie at 1e3: exp(1e3) overflows
        ll = cases["large_logits"]
        p_true = ll["A2"][np.arange(4), ll["y"]]
        assert (p_true == 0).any()  # underflowed: the loss cap is exercised
        tp = cases["tiny_p"]
        p = tp["A2"][np.arange(3), tp["y"]]
        assert p[0] < 1e-11 and 0 < p[1] < 1e-29
        assert cases["m1"]["X"].shape[0] == 1
        assert cases["k2"]["Y"].shape[1] == 2
        b = cases["basic"]
        assert len({b["X"].shape[0], *b["W1"].shape, b["W2"].shape[1]}) == 4  # non-square
        for s in range(vectors.TRAIN_STEPS - 1):
            now, nxt = cases[f"train.step{s}"], cases[f"train.step{s + 1}"]
            for p in ("W1", "b1", "W2", "b2"):
                np.testing.assert_array_equal(nxt[p], now[f"{p}_new"])
    full = generated["float32"]["full"]
    assert full["W1"].shape == (784, 128) and full["W2"].shape == (128, 10)


def test_cases_hold_the_reference_outputs_in_their_dtype(
    generated: dict[str, dict[str, dict[str, np.ndarray]]],
) -> None:
    for dtype, cases in generated.items():
        for name, c in cases.items():
            for key in ("Z1", "A2", "L", "dW1", "W2_new"):
                assert c[key].dtype == np.dtype(dtype), (name, key)
            np.testing.assert_array_equal(c["dW2"], mnistref.dW2(c["A1"], c["dZ2"]))


def test_vectors_stay_small() -> None:
    total = sum(p.stat().st_size for p in SPEC.iterdir())
    assert total < 6_000_000, total


def test_generate_rejects_other_dtypes() -> None:
    with pytest.raises(ValueError, match="golden vectors exist for"):
        vectors.generate("float16")
