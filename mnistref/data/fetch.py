"""Finding the four files: the data directory, else the user cache, else a download.

A download is written to a temporary file and renamed into the cache only once
its SHA-256 is the canonical one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mnistref.data import canonical
from mnistref.data.canonical import DATA_DIR, Located, MNISTUnavailableError, sha256_file
from mnistref.data.datadir import _from_data_dir, _resolve_data_dir
from mnistref.data.sources import Source, SourceUnavailableError, _say, default_sources


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/mnistref``, or ``~/.cache/mnistref`` (XDG ignores a relative value)."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mnistref"


def describe_origin(located: dict[str, Located]) -> str:
    """Where the files of :func:`fetch_mnist` came from, in one line.

    >>> from pathlib import Path
    >>> loc = {r: Located(r, Path("/m") / f.gz, "data_dir", f.sha256_gz, True)
    ...        for r, f in canonical.FILES.items()}
    >>> describe_origin(loc)
    '/m (data_dir; all 4 files SHA-256 verified)'
    """
    dirs = ", ".join(sorted({str(loc.path.parent) for loc in located.values()}))
    origins = [loc.origin for loc in located.values()]
    downloads = sorted({o for o in origins if o not in ("data_dir", "cache")})
    kinds = ["data_dir"] if "data_dir" in origins else []
    if "cache" in origins or downloads:
        kinds.append("the cache")
    for src in downloads:
        n = origins.count(src)
        kinds.append(f"{n} file{'s' if n > 1 else ''} downloaded just now from {src}")
    unverified = sum(not loc.verified for loc in located.values())
    check = (
        f"all {len(located)} files SHA-256 verified"
        if not unverified
        else f"{unverified} of {len(located)} files not canonical MNIST (verify=False)"
    )
    return f"{dirs} ({', '.join(kinds)}; {check})"


def fetch_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    verify: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    sources: Sequence[Source] | None = None,
    progress: bool | None = None,
) -> dict[str, Located]:
    """Find or download the four MNIST files and verify them; return where they are.

    Parameters
    ----------
    data_dir : path, optional
        Default: the ``MNISTREF_DATA`` environment variable.  Read, never written,
        and used whole: when given, all four files come from it, and one holding
        none or only some of them is a :class:`DataDirError` (never a silent
        fall-back to the cache, never a mix of the two).
    verify : bool
        With False, files in data_dir need not be the canonical ones (e.g.
        Fashion-MNIST).  Cached and downloaded files are always verified.
    cache_dir : path, optional
        Default :func:`default_cache_dir`.
    download : bool
        Whether to try *sources* for files not in the cache (without a data_dir).
    sources : sequence of Source, optional
        Default :func:`default_sources`.
    progress : bool, optional
        Show download progress on stderr; by default only when stderr is a terminal.

    Returns
    -------
    dict of str to Located
        Keyed by the roles of :data:`FILES`.

    Raises
    ------
    FileNotFoundError
        data_dir is not a directory.
    DataDirError
        data_dir holds none, or only some, of the four files; the message says
        what it holds, what was expected, and where the files are if they lie
        just above or below it.
    ChecksumError
        A file in data_dir is not canonical (and *verify* is true).
    MNISTUnavailableError
        Some file could be had from no source; the message lists each attempt.
    """
    named = _resolve_data_dir(data_dir)
    cdir = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    if named is not None:
        return _from_data_dir(*named, verify=verify, cdir=cdir)
    found: dict[str, Located] = {}
    attempts: list[str] = []
    for role, f in canonical.FILES.items():
        cached = cdir / f.gz
        if cached.is_file():
            actual = sha256_file(cached)
            if actual == f.sha256_gz:
                found[role] = Located(role, cached, "cache", actual, True)
                continue
            attempts.append(f"{f.gz}: cached copy {cached} failed verification (SHA-256 {actual})")
        else:
            attempts.append(f"{f.gz}: not in the cache {cdir}")

    missing = [role for role in canonical.FILES if role not in found]
    if missing and download:
        srcs = default_sources() if sources is None else list(sources)
        dead: set[int] = set()
        try:
            for role in missing:
                got = _download(role, cdir, srcs, dead, attempts, progress)
                if got is not None:
                    found[role] = got
        finally:
            for s in srcs:
                s.close()
    elif missing:
        attempts.append("downloading: not tried (download=False, --offline)")

    still = [canonical.FILES[r].gz for r in canonical.FILES if r not in found]
    if still:
        raise MNISTUnavailableError(_unavailable_message(still, attempts, cdir))
    return found


def _download(
    role: str,
    cdir: Path,
    sources: Sequence[Source],
    dead: set[int],
    attempts: list[str],
    progress: bool | None,
) -> Located | None:
    f = canonical.FILES[role]
    try:
        cdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        attempts.append(f"{f.gz}: cannot create the cache {cdir}: {e}")
        return None
    for i, src in enumerate(sources):
        if i in dead:
            attempts.append(f"{f.gz} from {src.name}: skipped, unreachable for an earlier file")
            continue
        fd, tmp_name = tempfile.mkstemp(dir=cdir, prefix=f".{f.gz}.", suffix=".part")
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            src.fetch(f.gz, tmp, progress=progress)
            actual = sha256_file(tmp)
            if actual != f.sha256_gz:
                attempts.append(
                    f"{f.gz} from {src.name}: wrong bytes ({tmp.stat().st_size} bytes, "
                    f"SHA-256 {actual}, expected {f.sha256_gz})"
                )
                continue
            dest = cdir / f.gz
            os.replace(tmp, dest)
            return Located(role, dest, src.name, actual, True)
        except SourceUnavailableError as e:
            dead.add(i)
            attempts.append(f"{f.gz} from {src.name}: {e}")
            _say(f"mnistref: {attempts[-1]}; trying the next source", progress)
        except (OSError, ValueError) as e:
            attempts.append(f"{f.gz} from {src.name}: {type(e).__name__}: {e}")
            _say(f"mnistref: {attempts[-1]}; trying the next source", progress)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink()
    return None


def _unavailable_message(still: list[str], attempts: list[str], cdir: Path) -> str:
    tried = "\n".join(f"  - {a}" for a in attempts)
    table = "\n".join(f"  {f.gz}  {f.sha256_gz}" for f in canonical.FILES.values())
    return (
        f"could not get a verified copy of {', '.join(still)}. Tried:\n{tried}\n"
        f"To place the files by hand, put these four files (SHA-256 shown) into "
        f"{cdir}, or into any directory named by {DATA_DIR} or the MNISTREF_DATA "
        f"environment variable, then run `mnistref fetch` to verify them:\n{table}"
    )
