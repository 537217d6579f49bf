"""Saving and loading the network's parameters as ``.npz`` files.

A model file is a NumPy ``.npz`` archive holding exactly the four arrays ``W1``,
``b1``, ``W2``, ``b2`` and ``meta``, a 0-d unicode array of JSON text (how the
parameters were made: recipe, seed, accuracy; for a checkpoint, where training
stopped).  Nothing in it needs pickle, so it is read with
``allow_pickle=False`` and a file from a stranger cannot run code.

    >>> import tempfile, os, mnistref
    >>> from mnistref.model import save_model, load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "model.npz")
    >>> _ = save_model(path, mnistref.init(0, 4, 3, 2), {"seed": 0})
    >>> params, meta = load_model(path)
    >>> [p.shape for p in params], meta["seed"]
    ([(4, 3), (3,), (3, 2), (2,)], 0)

Writes go to a temporary file in the same directory, renamed over the target
only once complete (``os.replace``), so an interrupted save never leaves a
half-written model where a good one was.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mnistref.network import Params

KEYS = ("W1", "b1", "W2", "b2")
"""The parameter arrays in a model file, in :class:`~mnistref.network.Params` order."""

META_KEY = "meta"

FORMAT = "mnistref-model"
"""The ``meta["format"]`` of every file written here."""

FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A file that is not a valid mnistref model; the message says what is wrong and where."""


def save_model(
    path: str | os.PathLike[str], params: Params, meta: dict[str, Any] | None = None
) -> Path:
    """Write *params* (and the JSON-serialisable *meta*) to *path* atomically.

    Parameters
    ----------
    path : path
        The ``.npz`` file to write; its directory must exist.
    params : Params
        W1 (D, H), b1 (H,), W2 (H, K), b2 (K,), as float32 or float64.
    meta : dict, optional
        Stored as JSON; ``format`` and ``format_version`` are added.

    Returns
    -------
    Path
        *path*.
    """
    path = Path(path)
    arrays = _validated(Params(*params), f"cannot save to {path}")
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, **(meta or {})}
    text = json.dumps(record, allow_nan=False)
    # Not mkstemp: its files are 0600, and a model should get the umask's permissions.
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.part"
    try:
        with open(tmp, "xb") as f:
            members: dict[str, Any] = dict(zip(KEYS, arrays, strict=True))
            members[META_KEY] = np.array(text)
            np.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def load_model(
    path: str | os.PathLike[str], *, n_in: int | None = None, n_out: int | None = None
) -> tuple[Params, dict[str, Any]]:
    """Read a model file written by :func:`save_model`; return ``(params, meta)``.

    Parameters
    ----------
    path : path
    n_in, n_out : int, optional
        D and K the caller needs (e.g. 784 and 10 for MNIST); checked when given.

    Returns
    -------
    params : Params
    meta : dict

    Raises
    ------
    FileNotFoundError
        If there is no file at *path*.
    ModelFileError
        If the file is not an ``.npz`` archive, holds pickled objects, misses or adds
        arrays, or has shapes that do not make a D-H-K network.
    """
    path = Path(path)
    where = f"model file {path}"
    # np.load takes anything that is neither zip nor .npy for a pickle and says
    # "contains pickled (object) data ... allow_pickle": tell what the file is instead.
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{where}: is a directory, expected an .npz file") from None
    except OSError as e:
        raise ModelFileError(f"{where}: cannot be read ({e})") from None
    if not head.startswith(_ZIP_MAGIC):
        raise ModelFileError(f"{where}: not an .npz (zip) archive: {_what_it_is(head)}")
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{where}: no such file") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ModelFileError(
            f"{where}: not an .npz archive of arrays written by mnistref ({e})"
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ModelFileError(
            f"{where}: holds a single {type(archive).__name__}, expected an .npz archive "
            f"with the arrays {', '.join(KEYS)} and {META_KEY}"
        )
    with archive:
        names = set(archive.files)
        missing = [k for k in (*KEYS, META_KEY) if k not in names]
        extra = sorted(names - {*KEYS, META_KEY})
        if missing or extra:
            raise ModelFileError(
                f"{where}: expected the arrays {', '.join(KEYS)} and {META_KEY}; "
                + (f"missing {', '.join(missing)}" if missing else "")
                + ("; " if missing and extra else "")
                + (f"unexpected {', '.join(extra)}" if extra else "")
            )
        loaded = {}
        for key in (*KEYS, META_KEY):
            try:
                loaded[key] = archive[key]
            except ValueError as e:
                # np.load refuses object arrays without pickle: say which array it was.
                raise ModelFileError(
                    f"{where}: array {key!r} cannot be read without pickle ({e}); a model "
                    "file holds only numeric arrays, so this file was not written by mnistref"
                ) from None
            except (OSError, EOFError, zipfile.BadZipFile) as e:
                raise ModelFileError(f"{where}: array {key!r} is unreadable ({e})") from None
    params = Params(*_validated(Params(*(loaded[k] for k in KEYS)), where))
    meta = _meta(loaded[META_KEY], where)
    D = params.W1.shape[0]
    K = params.b2.shape[0]
    for name, want, got in (("inputs D", n_in, D), ("classes K", n_out, K)):
        if want is not None and want != got:
            raise ModelFileError(f"{where}: the network has {got} {name}, expected {want}")
    return params, meta


# A local file header; an empty zip (only an end record) holds no model either.
_ZIP_MAGIC = b"PK\x03\x04"


def _what_it_is(head: bytes) -> str:
    """What a file starting with *head* looks like, for an error message."""
    if not head:
        return "the file is empty"
    if head.startswith(b"\x93NUMPY"):
        return "it is a single .npy array"
    if head.startswith(b"\x80"):
        return "it starts like a pickle, which a model file never holds"
    if head.startswith(b"PK"):
        return "it is an empty or damaged zip archive"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"it starts with the bytes {head.hex(' ')}"
    kind = "JSON text (metrics.json?)" if text.lstrip()[:1] in ("{", "[") else "text"
    return f"it is {kind}, starting {text!r}"


def _validated(params: Params, where: str) -> tuple[np.ndarray[Any, Any], ...]:
    arrays = tuple(np.asarray(p) for p in params)
    for key, a in zip(KEYS, arrays, strict=True):
        if a.dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ModelFileError(f"{where}: {key} must be float32 or float64, got dtype {a.dtype}")
    if len({a.dtype for a in arrays}) != 1:
        got = ", ".join(f"{k} {a.dtype}" for k, a in zip(KEYS, arrays, strict=True))
        raise ModelFileError(f"{where}: all four arrays must share one dtype, got {got}")
    W1, b1, W2, b2 = arrays
    if W1.ndim != 2 or W2.ndim != 2 or b1.ndim != 1 or b2.ndim != 1:
        raise ModelFileError(
            f"{where}: expected W1 (D, H), b1 (H,), W2 (H, K), b2 (K,), got "
            f"W1 {W1.shape}, b1 {b1.shape}, W2 {W2.shape}, b2 {b2.shape}"
        )
    D, H = W1.shape
    K = W2.shape[1]
    if b1.shape != (H,) or W2.shape[0] != H or b2.shape != (K,) or min(D, H, K) < 1:
        raise ModelFileError(
            f"{where}: shapes do not make a D-H-K network: W1 {W1.shape} (D, H), "
            f"b1 {b1.shape} (H,), W2 {W2.shape} (H, K), b2 {b2.shape} (K,)"
        )
    for key, a in zip(KEYS, arrays, strict=True):
        if not np.isfinite(a).all():
            n = int(np.count_nonzero(~np.isfinite(a)))
            raise ModelFileError(f"{where}: {key} holds {n} non-finite value(s) (NaN or inf)")
    return arrays


def _meta(a: np.ndarray[Any, Any], where: str) -> dict[str, Any]:
    if a.ndim != 0 or a.dtype.kind != "U":
        raise ModelFileError(
            f"{where}: {META_KEY} must be a 0-d unicode array of JSON, "
            f"got dtype {a.dtype} of shape {a.shape}"
        )
    try:
        meta = json.loads(str(a))
    except json.JSONDecodeError as e:
        raise ModelFileError(f"{where}: {META_KEY} is not valid JSON ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{where}: {META_KEY} does not describe a {FORMAT} file")
    if meta.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: format version {meta.get('format_version')!r}; this mnistref reads "
            f"version {FORMAT_VERSION}"
        )
    return meta
