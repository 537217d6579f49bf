"""Tests of mnistref.model: model files round-trip, and bad files give clear errors."""

from __future__ import annotations

import os
import zipfile

import numpy as np
import pytest

import mnistref
from mnistref.model import ModelFileError, load_model, save_model


@pytest.fixture
def params() -> mnistref.Params:
    return mnistref.init(0, 6, 5, 3, dtype=np.float32)


def test_round_trip_is_exact(tmp_path, params):
    path = save_model(tmp_path / "m.npz", params, {"seed": 1, "recipe": {"lr": 0.5}})
    got, meta = load_model(path, n_in=6, n_out=3)
    for a, b in zip(got, params, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert meta["seed"] == 1 and meta["recipe"] == {"lr": 0.5}


def test_save_replaces_atomically_and_leaves_no_temp_file(tmp_path, params):
    path = tmp_path / "m.npz"
    save_model(path, params)
    save_model(path, mnistref.init(1, 6, 5, 3, dtype=np.float32))
    assert os.listdir(tmp_path) == ["m.npz"]
    assert not np.array_equal(load_model(path)[0].W1, params.W1)


def test_a_failed_save_keeps_the_old_file(tmp_path, params):
    path = save_model(tmp_path / "m.npz", params)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        save_model(path, params, {"bad": float("nan")})  # JSON refuses NaN
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def good_arrays(params):
    return dict(
        zip(("W1", "b1", "W2", "b2"), params, strict=True),
        meta=np.array('{"format": "mnistref-model", "format_version": 1}'),
    )


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (dict(W1=np.zeros((6, 4), np.float32)), r"shapes do not make a D-H-K network: W1 \(6, 4\)"),
        (dict(b2=np.zeros((3, 1), np.float32)), r"expected W1 \(D, H\).*b2 \(3, 1\)"),
        (dict(W2=np.zeros((5, 3), np.int32)), "W2 must be float32 or float64, got dtype int32"),
        (dict(b1=np.zeros(5, np.float64)), "must share one dtype"),
        (dict(b1=np.full(5, np.nan, np.float32)), r"b1 holds 5 non-finite value\(s\)"),
        (dict(extra=np.zeros(2)), "unexpected extra"),
        (dict(meta=np.array("not json")), "meta is not valid JSON"),
        (dict(meta=np.array('{"format": "other"}')), "does not describe a mnistref-model file"),
    ],
)
def test_bad_arrays_are_named(tmp_path, params, change, match):
    arrays = good_arrays(params)
    arrays.update(change)
    path = write_npz(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("key", ["W1", "b2", "meta"])
def test_missing_array_is_named(tmp_path, params, key):
    arrays = good_arrays(params)
    del arrays[key]
    with pytest.raises(ModelFileError, match=f"missing {key}"):
        load_model(write_npz(tmp_path / "bad.npz", **arrays))


def test_pickled_object_array_is_refused_without_unpickling(tmp_path, params):
    arrays = good_arrays(params)
    arrays["W1"] = np.array([params.W1, "payload"], dtype=object)
    path = write_npz(tmp_path / "evil.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"'W1' holds Python objects \(pickle\)"):
        load_model(path)


def test_wrong_network_size_for_the_caller(tmp_path, params):
    path = save_model(tmp_path / "m.npz", params)
    with pytest.raises(ModelFileError, match="has 6 inputs D, expected 784"):
        load_model(path, n_in=784)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"not a zip file at all", "it is text, starting 'not a zip file at all'"),
        (
            b'{"test_accuracy": 97.9}',
            "it is JSON text (metrics.json?), starting '{\"test_accuracy\": 97.9}'",
        ),
        (b"", "the file is empty"),
        (None, "it is a single .npy array"),
        (b"\x80\x04\x95\x00\x00\x00\x00\x00", "it starts like a pickle"),
        (b"PK\x05\x06" + bytes(18), "it is an empty or damaged zip archive"),
        (b"\xff\xfe\x00\x01\x02\x03\x04\x05", "it starts with the bytes ff fe 00 01"),
    ],
)
def test_not_a_model_archive_says_what_the_file_is(tmp_path, content, what):
    # np.load alone calls any such file "pickled (object) data" and suggests
    # allow_pickle=True: misleading for a text file, and contrary to "no pickle".
    path = tmp_path / "m.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    msg = str(info.value)
    assert msg.startswith(f"model file {path}: not an .npz (zip) archive: {what}")
    assert "allow_pickle" not in msg and "pickled" not in msg


def test_a_directory_is_not_a_model_file(tmp_path):
    with pytest.raises(ModelFileError, match=r"is a directory, expected an \.npz file"):
        load_model(tmp_path)


def test_truncated_archive(tmp_path, params):
    path = save_model(tmp_path / "m.npz", params)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match=str(path).replace("\\", "\\\\")):
        load_model(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(tmp_path / "nope.npz")


def test_zip_without_arrays(tmp_path):
    path = tmp_path / "m.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match="missing W1, b1, W2, b2, meta"):
        load_model(path)
