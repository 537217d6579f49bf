"""The four canonical MNIST files (names, SHA-256, shapes), and the errors about them.

Every file is verified against :data:`FILES` before use.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import NamedTuple


class MNISTFile(NamedTuple):
    """One of the four canonical MNIST files.

    Attributes
    ----------
    name : str
        The canonical name, without ``.gz``.
    sha256_gz, sha256_raw : str
        SHA-256 of the published ``.gz`` file and of its decompressed content.
    shape : tuple of int
        The shape of the array it holds.
    """

    name: str
    sha256_gz: str
    sha256_raw: str
    shape: tuple[int, ...]

    @property
    def gz(self) -> str:
        """The published file name, ``<name>.gz``."""
        return self.name + ".gz"


FILES: dict[str, MNISTFile] = {
    "train_images": MNISTFile(
        "train-images-idx3-ubyte",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        (60000, 28, 28),
    ),
    "train_labels": MNISTFile(
        "train-labels-idx1-ubyte",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        (60000,),
    ),
    "test_images": MNISTFile(
        "t10k-images-idx3-ubyte",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        (10000, 28, 28),
    ),
    "test_labels": MNISTFile(
        "t10k-labels-idx1-ubyte",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        (10000,),
    ),
}
"""The four canonical files, keyed by role."""


class ChecksumError(ValueError):
    """A file's SHA-256 is not the canonical one."""


class MNISTUnavailableError(RuntimeError):
    """No source could provide a verified copy of an MNIST file."""


class DataDirError(MNISTUnavailableError):
    """The data directory the user named holds none, or only some, of the four files.

    A data directory is used whole: its files are never mixed with the cache's
    or a download, and one without them is not silently passed over.
    """


DATA_DIR = "data_dir (--data-dir)"
"""How messages name the data directory: the argument, and the command line's option."""


class Located(NamedTuple):
    """Where a verified file was found.

    Attributes
    ----------
    role : str
        A key of :data:`FILES`.
    path : Path
    origin : str
        ``"data_dir"``, ``"cache"`` or the source that downloaded it.
    sha256 : str
        The file's SHA-256.
    verified : bool
        False only for a file in data_dir read with ``verify=False`` whose hash is not canonical.
    """

    role: str
    path: Path
    origin: str
    sha256: str
    verified: bool


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of the file at *path*, as 64 hex digits."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
