"""``mnistref train``: the paper's sections 7-9 as one job.

Loads MNIST, trains with a recipe (:data:`mnistref.training.RECIPES`), prints
progress and the loss, evaluates eq. (21) on the test set and writes to
``--out``:

* ``model.npz``: the parameters (:mod:`mnistref.model`);
* ``metrics.json``: test accuracy (%), the loss history, the recipe, seed,
  times, library versions and BLAS;
* ``predictions.png``, ``loss.png``, ``confusion.png`` (with matplotlib).

An existing model in ``--out`` is never replaced without ``--force``, and two
runs never share one ``--out``: each holds a lock on it
(:func:`mnistref.commands._common.locked_out_dir`), and a second run refuses at
once, naming the first.  Ctrl-C (or SIGTERM) stops after the current step (or
epoch, for minibatch runs) and saves ``checkpoint.npz`` atomically; a Ctrl-C
after training, before the model is saved, saves the finished state the same
way.  ``--resume`` continues it, and the result equals an uninterrupted run.
A checkpoint is checked whole (settings, state, epoch and step against the run)
before anything is loaded.

Results are written model first, each whole or not at all (a temporary file
renamed into place).  If the model, metrics.json or a checkpoint cannot be
written in ``--out`` (a full disk, lost permissions), it is written to a fresh
``mnistref-rescued-*`` folder in the temporary directory (else the home or the
working directory) and the one-line error says where and how to move it.

``--out`` is checked first (an existing file on the way, or a folder that cannot
be created, is a one-line error); a run that writes nothing leaves no folder behind.

Exit codes: 0 done; 1 bad data, a refused overwrite or resume, an ``--out`` in
use by another run, a result that could not be written in ``--out``, or
divergence; 2 a usage error (a bad option value, a batch larger than the
training set, ``--threads`` above the usable cores, an ``--out`` that cannot be
a directory); 130 interrupted (checkpoint saved).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from mnistref.commands._common import add_data_arguments
from mnistref.commands._run_files import (
    CHECKPOINT_FILE,
    MODEL_FILE,
    OVERRIDES,
    describe,
    err,
    finish,
    given_batch,
    load_checkpoint,
    quote,
    save_checkpoint,
)

NAME = "train"
HELP = "train the network on MNIST, report the test accuracy, save the model and pictures"
ORDER = 60


def _batch_size(text: str) -> int | None:
    # 0 is not an alias of 'full': a typo must not silently change the algorithm.
    if text.strip().lower() in ("full", "none"):
        return None
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'full', got {text!r}"
        ) from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}")
    return n


def _positive(kind: type) -> Any:
    """An argparse type: a finite number (``float``) or an integer (``int``) > 0."""
    what = "an integer" if kind is int else "a finite number"

    def parse(text: str) -> Any:
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what} > 0, got {text!r}") from None
        # `not v > 0` also catches NaN; inf would only fail later, in eq. (17).
        if not v > 0 or v == float("inf"):
            raise argparse.ArgumentTypeError(f"expected {what} > 0, got {text!r}")
        return v

    return parse


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return v


def _init_std(text: str) -> float | str:
    if text.strip().lower() == "he":
        return "he"
    try:
        return float(_positive(float)(text))
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a number > 0 or 'he', got {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from mnistref.training import DEFAULT_RECIPE, RECIPES, SCHEDULES

    recipes = "; ".join(
        f"{r.name}: {r.epochs} epochs, lr {r.lr}, batch {r.batch_size or 'full'}, "
        f"{r.schedule}, std {r.init_std}"
        for r in RECIPES.values()
    )
    parser.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        default=None,
        help=f"named settings (default: {DEFAULT_RECIPE}). {recipes}",
    )
    parser.add_argument("--epochs", type=_positive(int), default=None, help="passes over the data")
    parser.add_argument(
        "--lr", type=_positive(float), default=None, help="the step size alpha of eq. (17)-(20)"
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=argparse.SUPPRESS,
        metavar="N|full",
        help="minibatch size, or 'full' for full-batch gradient descent (the paper)",
    )
    parser.add_argument(
        "--schedule", choices=sorted(SCHEDULES), default=None, help="step-size schedule"
    )
    parser.add_argument(
        "--init-std",
        type=_init_std,
        default=None,
        metavar="STD|he",
        help="weight std of eq. (1)-(2): a number (the paper: 0.1) or 'he' (sqrt(2/fan_in))",
    )
    parser.add_argument("--seed", type=_seed, default=None, help="random seed >= 0 (default 0)")
    parser.add_argument(
        "--threads",
        type=_positive(int),
        default=None,
        metavar="N",
        help="BLAS threads for every matrix product, for bit-identical reruns (default: "
        "timed on this machine as it is, a few steps at 1 and 2 threads, and timed again "
        "when steps slow down; metrics.json records the choice)",
    )
    parser.add_argument(
        "--log-every",
        type=_positive(int),
        default=None,
        metavar="N",
        help="print the loss every N epochs",
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("mnistref-run"),
        metavar="DIR",
        help="where the model, metrics.json and pictures go (default: ./mnistref-run)",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace a model or checkpoint already in --out"
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help=f"continue the interrupted run saved in --out/{CHECKPOINT_FILE}",
    )
    parser.add_argument(
        "--no-plots", action="store_true", help="do not draw the pictures (saves a second or two)"
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="print only the result")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _smaller_lr(settings: dict[str, Any]) -> float:
    """The step size to suggest after a divergence: a quarter of the one that
    diverged, but no more than the recipe's own (a quarter of 1e308 would diverge too)."""
    from mnistref.training import RECIPES

    return float(min(settings["lr"] / 4, RECIPES[settings["recipe"]].lr))


def _stopped_at(epoch: int, step: int, epochs: int, n_steps: int) -> str:
    """Where a Ctrl-C stopped: *epoch* epochs and then *step* steps were done."""
    if epoch == 0 and step == 0:
        return "stopped before the first step"
    if step == 0:
        return f"stopped after epoch {epoch} of {epochs}"
    in_epoch = f"step {step} of {n_steps} in epoch {epoch + 1}"
    if epoch == 0:
        return f"stopped after {in_epoch} of {epochs}"
    return f"stopped after epoch {epoch} of {epochs} and {in_epoch}"


def run(args: argparse.Namespace) -> int:
    from mnistref.commands._common import (
        OutDirBusyError,
        locked_out_dir,
        out_dir_problem,
        usable_cores,
    )

    out: Path = args.out
    if args.resume and args.force:
        return err("--resume continues the run in --out and --force discards it: choose one")
    if args.threads is not None and args.threads > (cores := usable_cores()):
        # Measured: 3 threads on 2 cores took 25 times as long as 2, and 16 never finished.
        return err(
            f"--threads {args.threads} is more than the {cores} CPU cores this process may "
            f"use; BLAS threads beyond the cores wait on each other and slow training many "
            f"times over: use at most --threads {cores}",
            code=2,
        )
    # Before any work, and leaving no trace.
    blocked = out_dir_problem(out)
    if blocked is not None:
        return err(f"--out {out}: {blocked}; name a directory", code=2)
    try:
        with locked_out_dir(out, NAME):
            return _run_locked(args, out)
    except OutDirBusyError as e:
        return err(str(e))
    except OSError as e:
        return err(f"--out {out}: cannot be used ({e.strerror or e}); name a directory", code=2)


def _label_problem(y: Any, K: int, what: str) -> str | None:
    """Why labels *y* cannot train or test a K-class network, or None."""
    import numpy as np

    bad = (y < 0) | (y >= K)
    if not bad.any():
        return None
    i = int(np.argmax(bad))
    return (
        f"the {what} labels must lie in 0 to {K - 1} (the network has {K} classes), "
        f"but entry {i} is {int(y[i])}; nothing was trained"
    )


def _run_locked(args: argparse.Namespace, out: Path) -> int:
    import time
    from datetime import UTC, datetime

    from mnistref import data, training

    t_start = time.perf_counter()
    started = datetime.now(UTC)
    model_path = out / MODEL_FILE
    ckpt_path = out / CHECKPOINT_FILE

    # Refuse before any work: a finished model or an interrupted run is the user's.
    # Under the lock, so no other run can write them between this check and our write.
    resume_state = None
    if args.resume:
        loaded = load_checkpoint(ckpt_path, args)
        if isinstance(loaded, str):
            return err(loaded)
        settings, resume_state = loaded
    else:
        for path, what in ((model_path, "a trained model"), (ckpt_path, "an interrupted run")):
            if (path.exists() or path.is_symlink()) and not args.force:
                hint = "; continue it with --resume" if path == ckpt_path else ""
                return err(
                    f"{path} already holds {what}{describe(path)}{hint}; pass --force to "
                    f"replace it, or choose another --out"
                )
        recipe = training.RECIPES[args.recipe or training.DEFAULT_RECIPE]
        settings = {"recipe": recipe.name, "seed": 0 if args.seed is None else args.seed}
        for key in OVERRIDES:
            given = given_batch(args) if key == "batch_size" else getattr(args, key)
            settings[key] = getattr(recipe, key) if given is None else given
        if "batch_size" in vars(args) and args.batch_size is None:
            settings["batch_size"] = None

    quiet = args.quiet
    say = (lambda *a, **k: None) if quiet else print
    if not args.no_plots:
        from mnistref import plots

        plots.import_in_background()  # while the data loads

    t0 = time.perf_counter()
    try:
        mnist = data.load_mnist(
            args.data_dir, verify=not args.no_verify, progress=None if not quiet else False
        )
    except (data.MNISTUnavailableError, ValueError, OSError) as e:
        return err(f"cannot load MNIST: {e}")
    X_train, y_train, X_test, y_test = mnist
    origin = getattr(mnist, "origin", "") or "(origin unknown)"
    t_data = time.perf_counter() - t0
    bs = settings["batch_size"]
    if bs is not None and bs > len(y_train):
        # fit would quietly run full-batch; say so instead of recording a size that never ran.
        return err(
            f"--batch-size {bs} is more than the {len(y_train)} training images; "
            f"use --batch-size full for full-batch gradient descent, or at most {len(y_train)}",
            code=2,
        )
    # Both label sets before training: a bad test label found after training would
    # cost the whole run.
    for y, what in ((y_train, "training"), (y_test, "test")):
        problem = _label_problem(y, 10, what)
        if problem is not None:
            return err(f"cannot use the data from {origin}: {problem}")
    m = len(y_train)
    n_steps = 1 if bs is None or bs >= m else -(-m // bs)
    if resume_state is not None:
        try:
            training.check_resume(resume_state, settings["epochs"], n_steps)
        except ValueError as e:
            return err(f"--resume: checkpoint {ckpt_path}: {e}")
    done_training = resume_state is not None and resume_state.epoch == settings["epochs"]
    say(
        f"mnistref train: recipe {settings['recipe']}, {_plural(settings['epochs'], 'epoch')}, "
        f"lr {settings['lr']:g} ({settings['schedule']}), "
        f"batch {bs if bs else 'full'}, init std {settings['init_std']}, seed {settings['seed']}"
        + (
            "; training had finished, evaluating and saving"
            if done_training
            else f"; resuming at epoch {resume_state.epoch + 1}"
            if resume_state
            else ""
        )
    )
    say(
        f"data: {len(y_train)} training and {len(y_test)} test images from {origin} "
        f"({t_data:.1f} s)"
    )

    bar = _progress(settings["epochs"] * n_steps, quiet, resume_state, n_steps)
    log_every = settings["log_every"]

    def on_epoch(epoch: int, loss: float) -> None:
        if bar is not None:
            bar.set_postfix_str(f"epoch {epoch}, loss {loss:.4f}", refresh=False)
        if not quiet and (epoch % log_every == 0 or epoch == settings["epochs"]):
            # The paper prints the loss every 100 epochs.
            msg = f"Epoch {epoch}, Loss: {loss:.4f}"
            if bar is not None:
                bar.write(msg, file=sys.stdout)
            else:
                print(msg)

    def on_step(epoch: int, step: int) -> None:
        if bar is not None:
            bar.update()

    t0 = time.perf_counter()
    try:
        result = training.fit(
            X_train,
            y_train,
            epochs=settings["epochs"],
            lr=settings["lr"],
            batch_size=bs,
            seed=settings["seed"],
            schedule=settings["schedule"],
            init_std=settings["init_std"],
            resume=resume_state,
            callback=on_epoch,
            on_step=on_step if bar is not None else None,
            handle_sigint=True,
            threads=args.threads,
        )
    except training.TrainingInterrupted as stop:
        if bar is not None:
            bar.close()
        st = stop.state
        return save_checkpoint(
            out, settings, st, _stopped_at(st.epoch, st.step, settings["epochs"], n_steps)
        )
    except training.DivergenceError as e:
        if bar is not None:
            bar.close()
        return err(
            f"{e.detail.rstrip('.')}.\nThe step size is too large for this network and data: "
            f"rerun with a smaller one, e.g. --lr {_smaller_lr(settings):g}"
        )
    except ValueError as e:
        if bar is not None:
            bar.close()
        return err(str(e))
    if bar is not None:
        bar.close()
    t_train = time.perf_counter() - t0

    # From here the trained parameters exist only in memory: a Ctrl-C before the
    # model is saved keeps them in a checkpoint, which --resume evaluates and saves.
    saved: list[Path] = []
    try:
        return finish(
            args,
            out,
            settings,
            result,
            X_test,
            y_test,
            resume_state,
            origin,
            saved,
            times={"started": started, "t_start": t_start, "data": t_data, "train": t_train},
        )
    except KeyboardInterrupt:
        if not saved:
            return save_checkpoint(
                out, settings, result.state, "stopped after training, before saving the model"
            )
        err(
            f"interrupted after {saved[0]} was saved; "
            + (
                "the pictures were not all drawn"
                if len(saved) > 1
                else "metrics.json and the pictures were not written"
            )
            + f" (mnistref evaluate and visualize {quote(saved[0])} redo them)"
        )
        return 130


def _progress(total: int, quiet: bool, resume_state: Any, n_steps: int) -> Any:
    if quiet:
        return None
    from tqdm import tqdm

    done = 0 if resume_state is None else resume_state.epoch * n_steps + resume_state.step
    # disable=None: no bar when stderr is not a terminal (logs, CI).
    return tqdm(
        total=total,
        initial=done,
        unit="step",
        dynamic_ncols=True,
        leave=False,
        file=sys.stderr,
        disable=None,
    )
