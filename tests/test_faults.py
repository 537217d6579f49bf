"""Fault injection: full disks, concurrent runs, signals at each phase, hostile files.

Every test asserts three things: the exit code, that stderr is one line naming
the file or option (never a traceback), and that nothing the user had was
changed or lost (snapshots of the data directory and of ``--out``).

Full disks are simulated two ways: an ``OSError(ENOSPC)`` injected into the
writes that land in one directory (always run), and a real 200 KiB tmpfs mounted
in a private user and mount namespace (``unshare -rm``; skipped where the
kernel does not allow it).  The data are a small synthetic IDX set (200
training and 100 test images of MNIST's shape), so a run takes a fraction of a
second.
"""

from __future__ import annotations

import errno
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from training_helpers import interrupting_engine

import mnistref
from mnistref import _safeio, data, model, plots, training
from mnistref.cli import main
from mnistref.commands import _common, _run_files
from mnistref.engine import Engine

# ---------------------------------------------------------------------------
# Helpers


def _digits(m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Images whose class k shows a bright bar on rows 2k+4 to 2k+7, over noise."""
    y = rng.integers(0, 10, m).astype(np.uint8)
    images = rng.integers(0, 60, (m, 28, 28)).astype(np.uint8)
    for i, k in enumerate(y):
        images[i, 2 * k + 4 : 2 * k + 8, 4:24] = 230
    return images, y


def write_set(d: Path, *, test_labels: np.ndarray | None = None, m_test: int = 100) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, m in (("train", 200), ("t10k", m_test)):
        images, labels = _digits(m, rng)
        if prefix == "t10k" and test_labels is not None:
            labels = test_labels
        data.write_idx(d / f"{prefix}-images-idx3-ubyte", images)
        data.write_idx(d / f"{prefix}-labels-idx1-ubyte", labels)
    return d


@pytest.fixture
def data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("MNISTREF_DATA", raising=False)
    return write_set(tmp_path_factory.mktemp("idx"))


@pytest.fixture
def rescue_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where rescued results go: a private temporary directory, not the machine's."""
    d = tmp_path / "rescue-tmp"
    d.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def train_args(data_dir: Path, out: Path, *extra: str) -> list[str]:
    # A fixed BLAS thread count: runs compared bit for bit must not differ in the count
    # the default policy would time (it changes a product's last bits; seen on a loaded
    # machine, where two runs timed different counts).
    threads = () if "--threads" in extra else ("--threads", "1")
    return [
        "train", "--data-dir", str(data_dir), "--no-verify", "--out", str(out),
        "--epochs", "2", "--batch-size", "50", "--lr", "0.1", "--no-plots", "-q",
        *threads, *extra,
    ]  # fmt: skip


def snapshot(*dirs: Path) -> dict[str, bytes]:
    """Every file under *dirs* (path -> bytes): what the user has."""
    out: dict[str, bytes] = {}
    for d in dirs:
        if d.exists():
            for p in sorted(d.rglob("*")):
                if p.is_file():
                    out[str(p)] = p.read_bytes()
    return out


def one_line(err: str, prefix: str) -> str:
    """The single line of *err*, which must start with *prefix*."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert "Traceback" not in err, err
    assert len(lines) == 1, err
    assert lines[0].startswith(prefix), err
    return lines[0]


def same_params(a: Path, b: Path) -> bool:
    pa, _ = model.load_model(a)
    pb, _ = model.load_model(b)
    return all(np.array_equal(x, y) for x, y in zip(pa, pb, strict=True))


def no_part_files(*dirs: Path) -> bool:
    return not any(p.name.endswith(".part") for d in dirs if d.exists() for p in d.rglob("*"))


class DiskFull:
    """Makes every file written through :func:`mnistref._safeio.atomic_write` under
    *root* fail with ENOSPC after *room* bytes, as a full disk does mid-write."""

    def __init__(self, root: Path, room: int = 0, names: tuple[str, ...] | None = None) -> None:
        self.root, self.room, self.names = root.resolve(), room, names

    def open(self, file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        f = open(file, mode, *args, **kwargs)  # noqa: SIM115 - returned to the caller
        p = Path(file).resolve()
        target = p.name.split(".")[1] if p.name.startswith(".") else p.name
        hit = self.root in p.parents and (
            self.names is None or any(target.startswith(n.split(".")[0]) for n in self.names)
        )
        if hit and ("w" in mode or "x" in mode):
            return _Full(f, self.room)
        return f


class _Full:
    """A binary file whose writes fail with ENOSPC once *room* bytes are used."""

    def __init__(self, f: Any, room: int) -> None:
        self.f, self.room = f, room

    def write(self, b: Any) -> int:
        n = len(memoryview(b))
        if n > self.room:
            self.f.write(bytes(memoryview(b)[: self.room]))
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= n
        return int(self.f.write(b))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.f, name)

    def __enter__(self) -> _Full:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.f.close()


def disk_full(monkeypatch: pytest.MonkeyPatch, root: Path, **kw: Any) -> None:
    monkeypatch.setattr(_safeio, "open", DiskFull(root, **kw).open, raising=False)


# ---------------------------------------------------------------------------
# Concurrent runs: one --out, one run


def test_a_second_run_into_a_held_out_refuses_naming_the_first(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    # Another process holds --out (a real process: flock is per open file).
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys; from pathlib import Path; from mnistref.commands._common import "
         "locked_out_dir\nwith locked_out_dir(Path(sys.argv[1]), 'train'):\n"
         "    print('held', flush=True); sys.stdin.read()", str(out)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        before = snapshot(out, data_dir)
        assert main(train_args(data_dir, out)) == 1
        line = one_line(capsys.readouterr().err, f"mnistref train: --out {out} is in use by ")
        assert f"mnistref train (pid {holder.pid}, started " in line
        assert snapshot(out, data_dir) == before
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=60)
    # Released: the directory is free again, and the holder left nothing behind.
    assert not out.exists()
    assert main(train_args(data_dir, out)) == 0


def test_a_killed_run_leaves_no_stale_lock(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time; from pathlib import Path; from mnistref.commands._common import "
         "locked_out_dir\nwith locked_out_dir(Path(sys.argv[1]), 'train'):\n"
         "    print('held', flush=True); time.sleep(600)", str(out)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    holder.kill()  # SIGKILL: no clean-up runs, the lock file stays
    holder.wait(timeout=60)
    assert (out / _common.LOCK_FILE).exists()
    assert main(train_args(data_dir, out)) == 0
    assert not (out / _common.LOCK_FILE).exists()


def test_a_symlink_planted_as_the_lock_file_is_not_followed(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (out / _common.LOCK_FILE).symlink_to(victim)
    before = snapshot(out, tmp_path)
    assert main(train_args(data_dir, out)) == 2
    line = one_line(capsys.readouterr().err, f"mnistref train: --out {out}: cannot be used (")
    assert "expected a lock file or nothing" in line
    assert victim.read_text() == "precious" and snapshot(out, tmp_path) == before


def test_real_runs_into_one_out_never_mix(data_dir: Path, tmp_path: Path) -> None:
    """The issue's reproduction, harder: three `train` processes started together into
    one --out that does not exist yet, two folders deep (so their checks, which make
    and remove the folders to probe them, race with each other's runs).

    Whichever order the scheduler picks, exactly one succeeds, the others exit 1
    with one line (busy, or "already holds a trained model"), and model.npz and
    metrics.json come from the same run.
    """
    out = tmp_path / "a" / "b" / "mix"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    seeds = (1, 2, 3)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mnistref", *train_args(data_dir, out, "--seed", str(seed))],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for seed in seeds
    ]
    results = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 1, 1], results
    for p, (_, err) in zip(procs, results, strict=True):
        if p.returncode == 1:
            line = one_line(err, "mnistref train: ")
            assert "is in use by mnistref train (pid" in line or "already holds a trained" in line
    winner_seed = seeds[codes.index(0)]
    _, meta = model.load_model(out / "model.npz")
    metrics = json.loads((out / "metrics.json").read_text())
    assert meta["settings"]["seed"] == metrics["seed"] == winner_seed
    assert meta["test_accuracy"] == metrics["test_accuracy"]


def test_visualize_refuses_an_out_held_by_a_run(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "run"
    assert main(train_args(data_dir, out)) == 0
    before = snapshot(out)
    capsys.readouterr()
    # This process holds it, through another open file: flock refuses that too.
    with _common.locked_out_dir(out, "train"):
        rc = main(["visualize", str(out / "model.npz"), "--data-dir", str(data_dir),
                   "--no-verify"])  # fmt: skip
        assert rc == 1
        one_line(capsys.readouterr().err, f"mnistref visualize: --out {out} is in use by ")
    assert snapshot(out) == before


# ---------------------------------------------------------------------------
# Full disks


def test_disk_full_keeps_the_trained_model_elsewhere_and_says_where(
    data_dir: Path, tmp_path: Path, rescue_tmp: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    whole = tmp_path / "whole"
    assert main(train_args(data_dir, whole)) == 0
    out = tmp_path / "full"
    out.mkdir()
    (out / "notes.txt").write_text("the user's")
    before = snapshot(out, data_dir)
    disk_full(monkeypatch, out, room=1000)  # the model breaks off after 1000 bytes
    capsys.readouterr()
    assert main(train_args(data_dir, out)) == 1
    line = one_line(capsys.readouterr().err, f"mnistref train: cannot write {out / 'model.npz'}")
    assert "No space left on device" in line and "are saved in " in line and "mv " in line
    rescued = Path(line.split("are saved in ")[1].split(" instead")[0])
    assert rescued.parent == rescue_tmp
    assert same_params(rescued / "model.npz", whole / "model.npz")
    assert (
        json.loads((rescued / "metrics.json").read_text())["train_loss"]
        == json.loads((whole / "metrics.json").read_text())["train_loss"]
    )
    assert snapshot(out, data_dir) == before and no_part_files(out)
    # The advice, followed once there is room, puts both where they belong.
    monkeypatch.undo()
    subprocess.run(["sh", "-c", line.split("e.g. ")[1]], check=True)
    assert same_params(out / "model.npz", whole / "model.npz")
    assert (out / "notes.txt").read_text() == "the user's"


def test_out_removed_mid_run_keeps_the_trained_model_elsewhere(
    data_dir: Path, tmp_path: Path, rescue_tmp: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    """Permissions or the folder itself lost during training: the same rescue."""
    out = tmp_path / "run"
    real = training.evaluate

    def remove_out_first(*a: Any, **k: Any) -> Any:
        shutil.rmtree(out)
        return real(*a, **k)

    monkeypatch.setattr(training, "evaluate", remove_out_first)
    assert main(train_args(data_dir, out)) == 1
    line = one_line(capsys.readouterr().err, f"mnistref train: cannot write {out / 'model.npz'}")
    assert "No such file or directory" in line
    rescued = Path(line.split("are saved in ")[1].split(" instead")[0])
    model.load_model(rescued / "model.npz", n_in=784, n_hidden=128, n_out=10)
    assert rescued.parent == rescue_tmp and not out.exists()


def test_disk_full_for_metrics_keeps_the_model_and_rescues_the_metrics(
    data_dir: Path, tmp_path: Path, rescue_tmp: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "run"
    disk_full(monkeypatch, out, names=("metrics.json",))
    assert main(train_args(data_dir, out)) == 1
    line = one_line(capsys.readouterr().err, f"mnistref train: {out / 'model.npz'} is saved, but ")
    assert "No space left on device" in line
    rescued = Path(line.split("it is saved in ")[1].split(" instead")[0])
    assert rescued.name == "metrics.json" and rescued.parent.parent == rescue_tmp
    model.load_model(out / "model.npz")
    assert not (out / "metrics.json").exists() and no_part_files(out)


def test_disk_full_for_the_pictures_keeps_model_and_metrics(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    if not plots.available():
        pytest.skip("the pictures need matplotlib")
    out = tmp_path / "run"
    disk_full(monkeypatch, out, names=("loss.png",), room=100)
    args = [a for a in train_args(data_dir, out) if a != "--no-plots"]
    assert main(args) == 1
    line = one_line(
        capsys.readouterr().err,
        f"mnistref train: {out / 'model.npz'} and metrics.json are saved; the pictures cannot",
    )
    assert "mnistref visualize" in line
    model.load_model(out / "model.npz")
    json.loads((out / "metrics.json").read_text())
    assert (out / "predictions.png").exists() and not (out / "loss.png").exists()
    assert no_part_files(out)


def test_ctrl_c_on_a_full_disk_rescues_the_checkpoint_and_it_resumes(
    data_dir: Path, tmp_path: Path, rescue_tmp: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(train_args(data_dir, whole)) == 0
    with monkeypatch.context() as m:
        m.setattr(training, "Engine", interrupting_engine(3))
        disk_full(m, cut)
        capsys.readouterr()
        assert main(train_args(data_dir, cut)) == 130
    line = one_line(capsys.readouterr().err, "mnistref train: stopped after step 3 of 4")
    assert "the checkpoint cannot be saved in" in line and "No space left on device" in line
    rescued = Path(line.split(" so it is in ")[1].split(". Continue with")[0])
    assert rescued.parent.parent == rescue_tmp and no_part_files(cut)
    # Follow the advice as printed: make the folder, move the checkpoint back, resume.
    advice = line.split("Continue with: ")[1].split(" && mnistref train")[0]
    subprocess.run(["sh", "-c", advice], check=True)
    assert not rescued.exists()
    assert main(train_args(data_dir, cut, "--resume")) == 0
    assert same_params(cut / "model.npz", whole / "model.npz")


def _unshare_tmpfs_works(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None or sys.platform != "linux":
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
        capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def test_a_real_full_tmpfs(data_dir: Path, tmp_path: Path) -> None:
    """`--out` on a 200 KiB tmpfs (the issue's measurement): the 407 KB model cannot fit."""
    if not _unshare_tmpfs_works(tmp_path):
        pytest.skip("cannot mount a tmpfs in a user namespace here (unshare -rm)")
    mnt, rescue = tmp_path / "mnt", tmp_path / "rescue"
    mnt.mkdir()
    rescue.mkdir()
    cmd = " ".join(
        [sys.executable, "-m", "mnistref", *train_args(data_dir, mnt / "run", "--epochs", "1")]
    )
    script = (
        f"mount -t tmpfs -o size=200k tmpfs {mnt} && {{ {cmd}; echo rc=$? >&2; "
        f"echo LEFT:; find {mnt} -mindepth 1; }}"
    )
    env = {**os.environ, "TMPDIR": str(rescue), "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env,
        check=False, timeout=300,
    )  # fmt: skip
    err_lines = done.stderr.splitlines()
    assert err_lines[-1] == "rc=1", done.stderr
    line = one_line("\n".join(err_lines[:-1]), f"mnistref train: cannot write {mnt}/run/model.npz")
    assert "No space left on device" in line
    # Nothing half-written was left on the full disk: the run's folder is gone.
    assert done.stdout.split("LEFT:")[1].split() == [], done.stdout
    (rescued,) = list(rescue.glob("mnistref-rescued-*"))
    model.load_model(rescued / "model.npz", n_in=784, n_hidden=128, n_out=10)
    assert json.loads((rescued / "metrics.json").read_text())["settings"]["epochs"] == 1


# ---------------------------------------------------------------------------
# Signals at each phase


def _signal_in(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, sig: int,
               when: Any = None) -> None:  # fmt: skip
    """Make ``owner.name`` deliver *sig* to this process when called (and *when* holds)."""
    real = getattr(owner, name)

    def wrapper(*a: Any, **k: Any) -> Any:
        if when is None or when(*a, **k):
            os.kill(os.getpid(), sig)
        return real(*a, **k)

    monkeypatch.setattr(owner, name, wrapper)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_loading_data_leaves_nothing(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], sig: int,
) -> None:  # fmt: skip
    out = tmp_path / "run"
    before = snapshot(data_dir)
    _signal_in(monkeypatch, data.decoded, "read_idx", sig)  # where loading reads it
    assert main(train_args(data_dir, out)) == 130
    one_line(capsys.readouterr().err, "mnistref: interrupted")
    assert not out.exists() and snapshot(data_dir) == before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_training_saves_a_checkpoint(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], sig: int,
) -> None:  # fmt: skip
    out = tmp_path / "run"

    class Signalling(Engine):
        PER_STEP_LR = False
        calls = 0

        def step(self, X: Any, y: Any, lr: float) -> float:
            value = super().step(X, y, lr)
            Signalling.calls += 1
            if Signalling.calls == 2:
                os.kill(os.getpid(), sig)
            return value

    monkeypatch.setattr(training, "Engine", Signalling)
    assert main(train_args(data_dir, out)) == 130
    assert "saved in" in capsys.readouterr().err
    assert (out / "checkpoint.npz").exists() and not (out / "model.npz").exists()
    assert not (out / _common.LOCK_FILE).exists()


def test_a_signal_after_training_keeps_the_trained_state_and_resume_saves_it(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    whole, cut = tmp_path / "whole", tmp_path / "cut"
    assert main(train_args(data_dir, whole)) == 0
    with monkeypatch.context() as m:
        _signal_in(m, training, "evaluate", signal.SIGINT)
        capsys.readouterr()
        assert main(train_args(data_dir, cut)) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "stopped after training, before saving the model" in err
    assert not (cut / "model.npz").exists()
    assert main(train_args(data_dir, cut, "--resume")) == 0
    assert same_params(cut / "model.npz", whole / "model.npz")
    metrics = json.loads((cut / "metrics.json").read_text())
    assert metrics["train_loss"] == json.loads((whole / "metrics.json").read_text())["train_loss"]
    assert not (cut / "checkpoint.npz").exists()


def test_a_signal_while_saving_the_model_leaves_no_half_file(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "run"
    calls = []
    savez = np.savez

    def during_model(f: Any, **members: Any) -> None:
        calls.append(1)
        if len(calls) == 1:  # the model's write; the checkpoint's after it succeeds
            f.write(b"PK\x03\x04 half")
            os.kill(os.getpid(), signal.SIGINT)
        savez(f, **members)

    monkeypatch.setattr(model.np, "savez", during_model)
    assert main(train_args(data_dir, out)) == 130
    assert "before saving the model" in capsys.readouterr().err
    assert not (out / "model.npz").exists() and no_part_files(out)
    model.load_model(out / "checkpoint.npz")


def test_a_signal_while_drawing_keeps_the_model(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    if not plots.available():
        pytest.skip("the pictures need matplotlib")
    out = tmp_path / "run"
    _signal_in(monkeypatch, plots, "plot_loss", signal.SIGINT)
    args = [a for a in train_args(data_dir, out) if a != "--no-plots"]
    assert main(args) == 130
    line = one_line(capsys.readouterr().err, f"mnistref train: interrupted after {out}")
    assert "mnistref evaluate and visualize" in line
    model.load_model(out / "model.npz")
    assert no_part_files(out) and not (out / "loss.png").exists()


# ---------------------------------------------------------------------------
# Bad data: refused before training, by name


def test_out_of_range_test_labels_are_refused_before_training(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    labels = np.zeros(100, np.uint8)
    labels[17] = 200
    d = write_set(tmp_path / "idx", test_labels=labels)
    before = snapshot(d)
    out = tmp_path / "run"

    def no_training(*a: Any, **k: Any) -> None:
        raise AssertionError("trained on data with bad test labels")

    monkeypatch.setattr(training, "fit", no_training)
    assert main(train_args(d, out)) == 1
    line = one_line(capsys.readouterr().err, "mnistref train: cannot use the data from ")
    assert "test labels must lie in 0 to 9" in line and "entry 17 is 200" in line
    assert not out.exists() and snapshot(d) == before


def _bomb(path: Path, dims: tuple[int, ...], zeros: int) -> None:
    """A gzip file: an IDX header declaring *dims* of uint8, then *zeros* zero bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(struct.pack(f">BBBB{len(dims)}I", 0, 0, 8, len(dims), *dims))]
    block = bytes(1 << 20)
    for _ in range(zeros >> 20):
        parts.append(c.compress(block))
    parts.append(c.flush())
    path.write_bytes(b"".join(parts))


@pytest.mark.parametrize(
    "dims, zeros, words",
    [
        # 64 MiB of zeros after a 78 KB payload: inflated no further than the payload.
        ((100, 28, 28), 64 << 20, "(more than 1048576 trailing bytes)"),
        # A header declaring 4.7 GB: refused before anything is inflated.
        ((6_000_000, 28, 28), 1 << 20, "more than the 268435456 read at most"),
    ],
)
def test_a_gzip_bomb_in_the_data_dir_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    dims: tuple[int, ...], zeros: int, words: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = write_set(tmp_path / "idx")
    (d / "t10k-images-idx3-ubyte").unlink()
    _bomb(d / "t10k-images-idx3-ubyte.gz", dims, zeros)
    before = snapshot(d)
    assert main(train_args(d, tmp_path / "run")) == 1
    line = one_line(capsys.readouterr().err, "mnistref train: cannot load MNIST: ")
    assert str(d / "t10k-images-idx3-ubyte.gz") in line and words in line
    assert snapshot(d) == before and not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "blob, words",
    [
        (bytes([0, 0, 8, 65]) + bytes(4 * 65), "declares 65 dimensions; NumPy holds at most 64"),
        (
            bytes([0, 0, 8, 3]) + struct.pack(">3I", 0, 28, 28),
            "holds 0 images, expected at least 1",
        ),
    ],
)
def test_odd_idx_headers_name_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    blob: bytes, words: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    d = write_set(tmp_path / "idx")
    (d / "train-images-idx3-ubyte").write_bytes(blob)
    assert main(train_args(d, tmp_path / "run")) == 1
    line = one_line(capsys.readouterr().err, "mnistref train: cannot load MNIST: ")
    assert f"{d / 'train-images-idx3-ubyte'}: " in line and words in line


def test_threads_beyond_the_cores_is_a_usage_error(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    n = _common.usable_cores() + 1
    assert main(train_args(data_dir, tmp_path / "run", "--threads", str(n))) == 2
    line = one_line(capsys.readouterr().err, f"mnistref train: --threads {n} is more than the ")
    assert f"use at most --threads {n - 1}" in line and not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------
# Hostile model files for evaluate and visualize


def _npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in members.items():
            z.writestr(name + ".npy", blob)
    return path


def _npy(a: Any) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _members(meta: str | None = None) -> dict[str, bytes]:
    p = mnistref.init(0, 784, 128, 10)
    out = {k: _npy(a) for k, a in zip(model.KEYS, p, strict=True)}
    text = json.dumps({"format": model.FORMAT, "format_version": model.FORMAT_VERSION})
    out["meta"] = _npy(np.array(text if meta is None else meta))
    return out


def _declaring(shape: tuple[int, ...], key: str = "W1") -> dict[str, bytes]:
    """Members where *key*'s header declares *shape* (its data stays small)."""
    m = _members()
    real = np.load(io.BytesIO(m[key])).shape
    m[key] = m[key].replace(repr(real).encode(), repr(shape).encode())
    return m


def _flag_members(p: Path, offset: int, value: int) -> None:
    """A model file whose central directory says *value* at *offset* of every entry
    (offset 8: the flags, bit 0 "encrypted"; offset 10: the compression method)."""
    model.save_model(p, mnistref.init(0, 784, 128, 10))
    blob = bytearray(p.read_bytes())
    i = 0
    while (j := blob.find(b"PK\x01\x02", i)) >= 0:
        blob[j + offset] |= value
        i = j + 4
    p.write_bytes(bytes(blob))


HOSTILE_MODELS = {
    "nested meta": (lambda p: _npz(p, _members("[" * 100_000)), "JSON nested 100000 levels deep"),
    "declared 10**12": (
        lambda p: _npz(p, _declaring((784, 10**12))),
        "shapes do not make a D-H-K network",
    ),
    "consistent huge": (
        lambda p: _npz(
            p,
            {
                **_declaring((784, 400_000), "W1"),
                "b1": _npy(np.zeros(400_000)),
                **{k: v for k, v in _declaring((400_000, 10), "W2").items() if k == "W2"},
            },
        ),
        "more than the 268435456 this reads",
    ),
    "truncated member": (
        lambda p: _npz(p, {**_members(), "W2": _members()["W2"][:-100]}),
        "array 'W2' is damaged",
    ),
    "not a zip": (lambda p: p.write_text('{"a": 1}'), "not an .npz (zip) archive"),
    "encrypted members": (lambda p: _flag_members(p, 8, 1), "password required"),
    "unknown compression": (
        lambda p: _flag_members(p, 10, 99),
        "compression method is not supported",
    ),
    "a 5000-digit number in meta": (
        lambda p: _npz(p, _members('{"format": "mnistref-model", "n": ' + "9" * 5000 + "}")),
        "meta is not valid JSON (Exceeds the limit",
    ),
    "a directory": (lambda p: p.mkdir(), "is a directory, expected an .npz file"),
    "a FIFO": (lambda p: os.mkfifo(p), "is a FIFO (named pipe), expected an .npz file"),
    "wrong inputs": (
        lambda p: model.save_model(p, mnistref.init(0, 100, 128, 10)),
        "the network has 100 inputs D, expected 784",
    ),
}


@pytest.mark.parametrize("command", ["evaluate", "visualize"])
@pytest.mark.parametrize("kind", sorted(HOSTILE_MODELS))
def test_hostile_model_files_are_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    kind: str, command: str,
) -> None:  # fmt: skip
    if command == "visualize" and not plots.available():
        pytest.skip("visualize needs matplotlib")
    make, words = HOSTILE_MODELS[kind]
    path = tmp_path / "model.npz"
    make(path)

    def no_loading(*a: Any, **k: Any) -> None:
        raise AssertionError("the data was loaded for a model file that cannot be used")

    monkeypatch.setattr(data, "load_mnist", no_loading)
    before = snapshot(tmp_path) if not path.is_fifo() else {}
    assert main([command, str(path)]) == 1
    line = one_line(capsys.readouterr().err, f"mnistref {command}: model file {path}: ")
    assert words in line
    if before:
        assert snapshot(tmp_path) == before


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=4),
    truncate=st.one_of(st.none(), st.integers(0, 10**6)),
)
def test_mutated_model_files_load_or_give_a_model_file_error(
    tmp_path_factory: pytest.TempPathFactory, cuts: list[tuple[int, int]], truncate: int | None
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    model.save_model(path, mnistref.init(0, 6, 5, 3), {"seed": 0})
    blob = bytearray(path.read_bytes())
    for pos, value in cuts:
        blob[pos % len(blob)] = value
    if truncate is not None:
        del blob[truncate % len(blob) :]
    path.write_bytes(bytes(blob))
    try:
        params, meta = model.load_model(path)
    except model.ModelFileError as e:
        assert str(e).startswith(f"model file {path}: ") and "\n" not in str(e)
    else:
        assert [p.shape for p in params] == [(6, 5), (5,), (5, 3), (3,)]
        assert meta["format"] == model.FORMAT


# ---------------------------------------------------------------------------
# Bad checkpoints: validated whole before the data are loaded


def _checkpoint(out: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    with monkeypatch.context() as m:
        m.setattr(training, "Engine", interrupting_engine(3))
        assert main(train_args(data_dir, out)) == 130
    return out / "checkpoint.npz"


def _edit(ckpt: Path, edit: Any) -> None:
    params, meta = model.load_model(ckpt)
    meta.pop("format")
    meta.pop("format_version")
    edit(meta)
    model.save_model(ckpt, params, meta)


BAD_CHECKPOINTS = {
    "missing settings.lr": (lambda m: m["settings"].pop("lr"), "settings.lr is missing"),
    "epoch -5": (lambda m: m["training_state"].update(epoch=-5), "epoch must be an integer >= 0"),
    "epoch 10**6": (
        lambda m: m["training_state"].update(epoch=10**6, history=[1.0] * 10**6),
        "lies beyond the run's 2 epochs",
    ),
    "step 10**9": (
        lambda m: m["training_state"].update(step=10**9),
        "at step 1000000000 of epoch 1, which has 4 steps",
    ),
    "history too short": (
        lambda m: m["training_state"].update(epoch=1),
        "history has 0 losses for 1 finished epochs",
    ),
    "lr a string": (lambda m: m["settings"].update(lr="0.1"), "settings.lr is '0.1'"),
    "state not an object": (
        lambda m: m.update(training_state=[1, 2]),
        "expected a JSON object, got list",
    ),
    "loss NaN-like": (
        lambda m: m["training_state"].update(loss_sum=-1.0),
        "loss_sum must be a finite number >= 0",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_CHECKPOINTS))
def test_bad_checkpoints_are_refused_whole_before_loading_data(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], kind: str,
) -> None:  # fmt: skip
    edit, words = BAD_CHECKPOINTS[kind]
    out = tmp_path / "run"
    ckpt = _checkpoint(out, data_dir, monkeypatch)
    _edit(ckpt, edit)
    before = snapshot(out, data_dir)
    capsys.readouterr()
    if kind != "step 10**9":  # steps per epoch depend on the data: checked right after it

        def no_loading(*a: Any, **k: Any) -> None:
            raise AssertionError("the data were loaded for a checkpoint that cannot be used")

        monkeypatch.setattr(data, "load_mnist", no_loading)
    assert main(train_args(data_dir, out, "--resume")) == 1
    line = one_line(capsys.readouterr().err, "mnistref train: --resume: ")
    assert words in line and str(ckpt) in line
    assert snapshot(out, data_dir) == before


@given(
    state=st.dictionaries(
        st.sampled_from(["epoch", "step", "loss_sum", "history", "first_loss", "config", "x"]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=3),
            lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=2), c, max_size=2),
            max_leaves=6,
        ),
    )
)
def test_arbitrary_training_states_are_valid_or_a_value_error(state: dict[str, Any]) -> None:
    params = mnistref.init(0, 4, 3, 2)
    try:
        s = training.TrainState.from_meta(params, state)
    except ValueError as e:
        assert str(e).startswith(("training state: ", "not a training state: "))
    else:
        assert s.epoch >= 0 and s.step >= 0 and len(s.history) == s.epoch


@given(
    settings_=st.dictionaries(
        st.sampled_from(["recipe", "seed", "epochs", "lr", "batch_size", "schedule",
                         "init_std", "log_every"]),
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4)
        | st.lists(st.integers(), max_size=2),
    )
)  # fmt: skip
def test_arbitrary_checkpoint_settings_are_accepted_only_whole(settings_: dict[str, Any]) -> None:
    problem = _run_files.check_settings(settings_, "checkpoint c")
    if problem is None:
        assert set(settings_) == {"recipe", "seed", "epochs", "lr", "batch_size", "schedule",
                                  "init_std", "log_every"}  # fmt: skip
    else:
        assert problem.startswith("checkpoint c: settings.") and "expected" in problem


@pytest.mark.parametrize(
    "text, words",
    [
        ("[" * 100_000, "JSON nested 100000 levels deep, expected at most 32"),
        ('{"train_loss": [1.0, NaN]}', "train_loss must be a non-empty list of finite losses"),
        ('{"train_loss": "abc"}', "could not convert string to float"),
    ],
)
def test_a_hostile_metrics_json_beside_the_model_only_loses_the_loss_curve(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, words: str
) -> None:
    if not plots.available():
        pytest.skip("visualize needs matplotlib")
    run = tmp_path / "run"
    assert main(train_args(data_dir, run)) == 0
    (run / "metrics.json").write_text(text)
    pics = tmp_path / "pics"
    capsys.readouterr()
    assert main(["visualize", str(run / "model.npz"), "--data-dir", str(data_dir),
                 "--no-verify", "--out", str(pics)]) == 0  # fmt: skip
    line = one_line(capsys.readouterr().err, f"mnistref visualize: ignoring {run / 'metrics.json'}")
    assert words in line and line.endswith("no loss curve")
    assert sorted(p.name for p in pics.iterdir()) == ["confusion.png", "predictions.png"]
    assert (run / "metrics.json").read_text() == text
