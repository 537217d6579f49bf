"""The files of a training run: the results, checkpoints, and where they go when
``--out`` cannot take them.

:func:`finish` evaluates the trained parameters and writes ``model.npz``, then
``metrics.json``, then the pictures, each whole or not at all (a temporary file
renamed into place).  :func:`save_checkpoint` saves an interrupted run, and
:func:`load_checkpoint` reads one back, checked whole before anything is used.  A
result that cannot be written in ``--out`` (a full disk, lost permissions) goes to
a fresh ``mnistref-rescued-*`` folder (:func:`rescue`), and the one-line error says
where and how to move it.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

MODEL_FILE = "model.npz"
CHECKPOINT_FILE = "checkpoint.npz"
METRICS_FILE = "metrics.json"

# Settings a flag can override; None means "the recipe's".
OVERRIDES = ("epochs", "lr", "batch_size", "schedule", "init_std", "log_every")


def err(msg: str, code: int = 1) -> int:
    """Print *msg* as ``mnistref train``'s one-line error; return the exit code *code*."""
    print(f"mnistref train: {msg}", file=sys.stderr)
    return code


def given_batch(args: argparse.Namespace) -> int | None:
    """``--batch-size`` as given (None for ``full``), or None when it was not given."""
    # --batch-size full parses to None, which must not read as "not given".
    return args.batch_size if "batch_size" in vars(args) else None


def check_settings(settings: Any, where: str) -> str | None:
    """Why the ``settings`` of a checkpoint are not ones this command makes, or None."""
    from mnistref.training import RECIPES, SCHEDULES

    if not isinstance(settings, dict):
        return f"{where}: settings must be a JSON object, got {type(settings).__name__}"

    def count(v: Any, least: int = 1) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= least

    def number(v: Any) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 < v < float("inf")

    checks: dict[str, tuple[Any, str]] = {
        "recipe": (lambda v: v in RECIPES, f"one of {', '.join(sorted(RECIPES))}"),
        "seed": (lambda v: count(v, 0), "an integer >= 0"),
        "epochs": (count, "an integer >= 1"),
        "lr": (number, "a finite number > 0"),
        "batch_size": (lambda v: v is None or count(v), "null (full batch) or an integer >= 1"),
        "schedule": (lambda v: v in SCHEDULES, f"one of {', '.join(sorted(SCHEDULES))}"),
        "init_std": (lambda v: v == "he" or number(v), "a number > 0 or 'he'"),
        "log_every": (count, "an integer >= 1"),
    }
    for key, (ok, expected) in checks.items():
        if key not in settings:
            return f"{where}: settings.{key} is missing (expected {expected})"
        try:
            good = bool(ok(settings[key]))
        except TypeError:  # an unhashable value tested with `in`
            good = False
        if not good:
            return f"{where}: settings.{key} is {settings[key]!r}, expected {expected}"
    return None


def load_checkpoint(ckpt_path: Path, args: argparse.Namespace) -> Any:
    """``(settings, state)`` of the checkpoint, checked whole; or an error line."""
    from mnistref import model, training

    if not ckpt_path.exists() and not ckpt_path.is_symlink():
        return f"--resume: there is no interrupted run to continue ({ckpt_path} does not exist)"
    try:
        # `train` makes only 128 hidden units and 10 classes: anything else is not its checkpoint.
        saved_params, meta = model.load_model(ckpt_path, n_hidden=128, n_out=10)
    except (OSError, ValueError) as e:
        return f"--resume: {e}"
    if "training_state" not in meta or "settings" not in meta:
        return f"--resume: {ckpt_path} is a model file, not a checkpoint of a run"
    problem = check_settings(meta["settings"], f"checkpoint {ckpt_path}")
    if problem is not None:
        return f"--resume: {problem}"
    settings = {k: meta["settings"][k] for k in ("recipe", "seed", *OVERRIDES)}
    try:
        state = training.TrainState.from_meta(saved_params, meta["training_state"])
        if state.epoch > settings["epochs"] or (state.epoch == settings["epochs"] and state.step):
            raise ValueError(
                f"epoch {state.epoch}, step {state.step} lies beyond the run's "
                f"{settings['epochs']} epochs"
            )
    except ValueError as e:
        return f"--resume: checkpoint {ckpt_path}: {e}"
    for key in (*OVERRIDES, "seed", "recipe"):
        given = getattr(args, key, None) if key != "batch_size" else given_batch(args)
        if given is not None and given != settings[key]:
            return (
                f"--resume continues the saved run, which has {key} {settings[key]!r}; "
                f"drop the option that asks for {given!r}, or start anew with --force"
            )
    return settings, state


def finish(
    args: argparse.Namespace,
    out: Path,
    settings: dict[str, Any],
    result: Any,
    X_test: Any,
    y_test: Any,
    resume_state: Any,
    origin: str,
    saved: list[Path],
    times: dict[str, Any],
) -> int:
    """Evaluate, then write the model, metrics.json and the pictures, in that order.

    Each file is written whole or not at all (a temporary file renamed into
    place).  If the model cannot be written in *out*, it and metrics.json are
    written to a fresh folder elsewhere (:func:`rescue`) and the line says where.
    Paths written are appended to *saved* as they are.
    """
    import math
    import os
    import platform
    import time

    import numpy as np

    import mnistref
    from mnistref import model, plots, training

    quiet = args.quiet
    model_path = out / MODEL_FILE
    ckpt_path = out / CHECKPOINT_FILE
    log_every = settings["log_every"]
    t0 = time.perf_counter()
    ev = training.evaluate(result.params, X_test.astype(result.params.W1.dtype, copy=False), y_test)
    t_eval = time.perf_counter() - t0
    print(f"Test accuracy: {ev.accuracy:.2f}%  (eq. (21), {len(y_test)} test images)")

    meta = {
        "settings": settings,
        "test_accuracy": ev.accuracy,
        "trained_utc": _now(),
        "mnistref_version": mnistref.__version__,
    }
    from threadpoolctl import threadpool_info

    metrics = {
        "test_accuracy": ev.accuracy,
        "test_loss": ev.loss,
        "train_loss": result.history,
        "final_train_loss": result.history[-1],
        "recipe": settings["recipe"],
        "settings": settings,
        "seed": settings["seed"],
        "resumed": resume_state is not None,
        # The thread count can change a product's last bits: part of what a rerun needs.
        "blas_threads": "auto (timed per run)" if args.threads is None else args.threads,
        # Which count the default policy chose, why, and the timings it chose from.
        "blas_thread_policy": result.threads,
        "per_class": [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in ev.per_class()
        ],
        "confusion_matrix": ev.confusion.tolist(),
        "data": {
            "train": int(result.state.config["data"]["m"]),
            "test": len(y_test),
            "data_dir": None if args.data_dir is None else str(args.data_dir),
            "origin": origin,
            "verified": not args.no_verify,
        },
        "time": {
            "started_utc": times["started"].isoformat(timespec="seconds"),
            "data_load_s": round(times["data"], 3),
            "train_s": round(times["train"], 3),
            "evaluate_s": round(t_eval, 3),
        },
        "versions": {
            "mnistref": mnistref.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "threadpoolctl": _version("threadpoolctl"),
            "tqdm": _version("tqdm"),
            "matplotlib": _version("matplotlib"),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        "blas": threadpool_info(),
    }

    # The model first: it is what the run was for.
    try:
        model.save_model(model_path, result.params, meta)
    except OSError as e:
        metrics["time"]["total_s"] = round(time.perf_counter() - times["t_start"], 3)
        where = rescue(
            {
                MODEL_FILE: lambda p: model.save_model(p, result.params, meta),
                METRICS_FILE: lambda p: _write_json(p, metrics),
            }
        )
        if where is None:
            return err(
                f"cannot write {model_path} ({e.strerror or e}), nor a copy in "
                f"{', '.join(str(d) for d in _rescue_dirs())}: the trained model is lost; "
                "free some space and run again"
            )
        return err(
            f"cannot write {model_path} ({e.strerror or e}); the trained model and metrics.json "
            f"are saved in {where} instead: move them where they belong once there is room, "
            f"e.g. mkdir -p {quote(out)} && mv {quote(where)}/* {quote(out)}/"
        )
    saved.append(model_path)

    pictures_note = None
    pictures_error = None
    if args.no_plots:
        # The user's own choice: worth a line in a normal run, not under --quiet.
        pictures_note = None if quiet else "pictures skipped (--no-plots)"
    elif not plots.available():
        pictures_note = (
            f"no pictures: matplotlib is not installed; get them with: {plots.INSTALL_HINT}"
        )
    else:
        t0 = time.perf_counter()
        try:
            saved += plots.write_pictures(
                out,
                X=X_test,
                y_true=y_test,
                y_pred=ev.y_pred,
                confusion=ev.confusion,
                history=result.history,
                log_every=log_every,
            )
        except OSError as e:
            pictures_error = (
                f"the pictures cannot be written in {out} ({e.strerror or e}); draw them "
                f"later with: mnistref visualize {quote(model_path)}"
            )
        metrics["time"]["plots_s"] = round(time.perf_counter() - t0, 3)
    metrics["time"]["total_s"] = round(time.perf_counter() - times["t_start"], 3)
    try:
        _write_json(out / METRICS_FILE, metrics)
    except OSError as e:
        where = rescue({METRICS_FILE: lambda p: _write_json(p, metrics)})
        kept = (
            f"it is saved in {where}/{METRICS_FILE} instead: "
            f"mv {quote(where)}/{METRICS_FILE} {quote(out)}/"
            if where is not None
            else "and no copy could be written anywhere"
        )
        return err(
            f"{model_path} is saved, but {out / METRICS_FILE} cannot be written "
            f"({e.strerror or e}); {kept}"
        )
    saved.insert(1, out / METRICS_FILE)
    with contextlib.suppress(FileNotFoundError):
        ckpt_path.unlink()
    if not quiet:
        print(f"time: {times['train']:.1f} s training, {metrics['time']['total_s']:.1f} s in all")
        print("wrote: " + ", ".join(str(p) for p in saved))
    if pictures_error:
        return err(f"{model_path} and metrics.json are saved; {pictures_error}")
    if pictures_note:
        print(f"mnistref train: {pictures_note}", file=sys.stderr)
    return 0


def _rescue_dirs() -> list[Path]:
    """Where results that cannot be written in --out go instead, in order of preference."""
    import tempfile

    dirs = [Path(tempfile.gettempdir()), Path.home(), Path.cwd()]
    return list(dict.fromkeys(dirs))


def rescue(files: dict[str, Any]) -> Path | None:
    """Write *files* (name -> writer of a path) into a fresh folder in the first of
    :func:`_rescue_dirs` that takes them all; return the folder, or None."""
    import shutil
    import tempfile

    for base in _rescue_dirs():
        try:
            folder = Path(tempfile.mkdtemp(prefix="mnistref-rescued-", dir=base))
        except OSError:
            continue
        try:
            for name, write in files.items():
                write(folder / name)
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            continue
        return folder
    return None


def save_checkpoint(out: Path, settings: dict[str, Any], st: Any, stopped: str) -> int:
    """Save the state of an interrupted run in --out (or, failing that, elsewhere); 130."""
    from mnistref import model

    ckpt_path = out / CHECKPOINT_FILE
    meta = {"settings": settings, "training_state": st.to_meta(), "saved_utc": _now()}
    resume = f"mnistref train --out {quote(out)} --resume"
    try:
        model.save_model(ckpt_path, st.params, meta)
    except OSError as e:
        where = rescue({CHECKPOINT_FILE: lambda p: model.save_model(p, st.params, meta)})
        if where is None:
            err(
                f"{stopped}; the checkpoint cannot be saved in {out} ({e.strerror or e}) "
                "nor anywhere else: the run is lost"
            )
            return 130
        err(
            f"{stopped}; the checkpoint cannot be saved in {out} ({e.strerror or e}), so it "
            f"is in {where / CHECKPOINT_FILE}. Continue with: "
            f"mkdir -p {quote(out)} && mv {quote(where / CHECKPOINT_FILE)} {quote(out)}/ "
            f"&& {resume}"
        )
        return 130
    print(
        f"\nmnistref train: {stopped}; the parameters and training state are saved in "
        f"{ckpt_path}.\nContinue with: {resume}",
        file=sys.stderr,
    )
    return 130


def describe(path: Path) -> str:
    from mnistref import model

    try:
        _, meta = model.load_model(path)
    except (OSError, ValueError):
        return ""
    s = meta.get("settings", {})
    parts = [
        f"recipe {s['recipe']}" if "recipe" in s else "",
        f"seed {s['seed']}" if "seed" in s else "",
    ]
    if "test_accuracy" in meta:
        parts.append(f"{meta['test_accuracy']:.2f}% test accuracy")
    parts = [p for p in parts if p]
    return f" ({', '.join(parts)})" if parts else ""


def _version(dist: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat(timespec="seconds")


def quote(p: Path) -> str:
    import shlex

    return shlex.quote(str(p))


def _write_json(path: Path, obj: Any) -> None:
    import json

    from mnistref._safeio import atomic_write

    text = (json.dumps(obj, indent=2, allow_nan=False) + "\n").encode("utf-8")
    atomic_write(path, lambda f: f.write(text))
