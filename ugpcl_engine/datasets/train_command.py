"""``ugpcl-studio train-dataset``: one process, several (``--nproc N``) or one rank of a
``torchrun`` run (``WORLD_SIZE`` in the environment).

Under ``torchrun`` every rank runs this same handler: all check the options and the run folder,
rank 0 alone writes ``run.json``, the checkpoints and the log. ``--out`` must be on a file system
every node sees (``--resume`` reads ``last.pt`` on every rank).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from ugpcl_engine.datasets.commands import log, write_json
from ugpcl_engine.errors import InputError
from ugpcl_engine.training.cancel import CancelToken

STOPPED = 130
"""Exit code of a run stopped by a signal before its last step (its last.pt is written)."""
LAUNCHED_FLAGS = (
    "data", "layout", "labeled", "preset", "out", "steps", "val_every", "checkpoint_every",
    "input_size", "seed", "device", "pretrained",
)  # fmt: skip


def train_dataset_command(args: argparse.Namespace) -> int:
    """Train on ``--data``; checkpoints in ``--out``.

    Returns:
        0 when the run finished, ``STOPPED`` (130) when a signal stopped it with ``last.pt``
        written, 1 when it failed (or a launched rank did).

    Raises:
        InputError: a bad dataset, ``--labeled``, option or ``--out`` (checked before training),
            or a resume that does not match the run in ``--out``.
    """
    if args.nproc is not None and int(os.environ.get("WORLD_SIZE", "1")) == 1:
        return _launch(args)
    from ugpcl_engine.datasets.labeled import parse_labeled, select_labeled
    from ugpcl_engine.datasets.layout import open_dataset
    from ugpcl_engine.datasets.training import prepare_job
    from ugpcl_engine.training.dataset_trainer import train_dataset
    from ugpcl_engine.training.distributed import Group, from_environment

    ranks = from_environment(args.device)
    group = Group(ranks)
    out = Path(args.out)
    resume = _check_run_folder(out, args.resume, group.main)
    group.barrier()  # no rank may find the files rank 0 is about to write
    dataset = open_dataset(args.data, args.layout)
    labeled = select_labeled(dataset, parse_labeled(args.labeled))
    spec = _spec(args, dataset, group.main)
    every = max(1, spec.training.steps // 10)
    val_every = every if args.val_every is None else args.val_every
    if args.val_every and not dataset.cases("val"):
        raise InputError(
            f"--val-every {args.val_every}: the dataset has no val split (SSL4MIS: val.list; "
            "MSD: val.list of training cases); add one or leave --val-every out."
        )
    if group.main:
        log(dataset.describe())
        shown = ", ".join(labeled[:8]) + (", ..." if len(labeled) > 8 else "")
        log(f"labeled {dataset.unit}: {len(labeled)} ({shown})")
    job = prepare_job(
        dataset,
        labeled,
        spec,
        out,
        progress=(lambda done, total: log(f"caching case {done}/{total}")) if group.main else None,
        val_every=val_every,
        checkpoint_every=every if args.checkpoint_every is None else args.checkpoint_every,
        resume=resume,
        ranks=ranks,
    )
    if group.main:
        write_json(out / "run.json", _run_record(args, dataset, labeled, spec, job, group.world))
    cancel = CancelToken()
    with _stop_on_signals(cancel):
        return _drive(train_dataset(job, cancel))


def _launch(args: argparse.Namespace) -> int:
    """Run this command under ``torch.distributed.run`` with ``--nproc`` local processes."""
    if args.nproc < 1:
        raise InputError(f"--nproc {args.nproc}: give at least 1 process.")
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    argv += [f"--nproc-per-node={args.nproc}", "-m", "ugpcl_engine.cli", "train-dataset"]
    for name in LAUNCHED_FLAGS:
        value = getattr(args, name)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    if args.resume:
        argv.append("--resume")
    log(f"launching {args.nproc} processes: {' '.join(argv[1:])}")
    return subprocess.call(argv)


def _check_run_folder(out: Path, resume: bool, main: bool) -> bool:
    """Whether to resume; refuses to start over a run without ``--resume``."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder for the run.")
    last = out / "last.pt"
    if last.exists() and not resume:
        raise InputError(
            f"--out {out} already holds a run (last.pt); continue it with --resume or choose "
            "another --out."
        )
    if resume and not last.exists():
        if main:
            log(f"--resume: {out} holds no last.pt yet, starting a new run")
        resume = False
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"--out: cannot create {out} ({err.strerror}).") from None
    return resume


def _spec(args: argparse.Namespace, dataset: Any, main: bool) -> Any:
    from ugpcl_engine.config import random_encoder_warning
    from ugpcl_engine.datasets.training import dataset_spec

    overrides: dict[str, Any] = {"seed": args.seed, "device": args.device}
    if args.steps is not None:
        overrides["steps"] = args.steps
    try:
        spec = dataset_spec(args.preset, dataset, args.input_size, **overrides)
    except ValueError as err:
        raise InputError(f"Bad option: {err}.") from None
    if args.pretrained:
        spec = replace(spec, model=replace(spec.model, pretrained_path=args.pretrained))
    warning = random_encoder_warning(spec.model)
    if warning and main:
        log(warning)
    return spec


def _run_record(
    args: argparse.Namespace,
    dataset: Any,
    labeled: list[str],
    spec: Any,
    job: Any,
    world: int,
) -> dict[str, Any]:
    cfg = spec.training
    return {
        "dataset": str(args.data),
        "layout": dataset.layout,
        "labeled": {"value": args.labeled, dataset.unit: labeled},
        "labeled_slices": job.labeled_slices,
        "unlabeled_slices": job.unlabeled_slices,
        "network_size": job.network_size,
        "processes": world,
        "effective_batch": {"labeled": cfg.batch_labeled, "unlabeled": cfg.batch_unlabeled},
        "per_process_batch": {
            "labeled": cfg.batch_labeled // world,
            "unlabeled": cfg.batch_unlabeled // world,
        },
        "lr_rule": "none needed: the global batch is the preset's whatever the process count "
        "(split over the processes), so the preset's learning rate applies unchanged",
        "spec": spec.to_dict(),
    }


@contextlib.contextmanager
def _stop_on_signals(cancel: CancelToken) -> Iterator[None]:
    """A first Ctrl-C or SIGTERM (a cluster's pre-emption) ends the run at the next step with
    ``last.pt`` written; a second Ctrl-C interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        if cancel.cancelled and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log("stopping after this step; last.pt keeps the run (continue with --resume)")
        cancel.cancel()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _drive(events: Any) -> int:
    """Log the run's events; 0 when it finished, ``STOPPED`` when stopped, 1 when it failed."""
    from ugpcl_engine.training.dataset_trainer import Validated
    from ugpcl_engine.training.events import Failed, Finished, Progress, Started

    for event in events:
        if isinstance(event, Started):
            log(
                f"training on {event.device}: {event.parameters:,} parameters, "
                f"{event.labeled} labeled + {event.unlabeled} unlabeled slices, "
                f"{event.network_size}², {event.total_steps} steps"
            )
        elif isinstance(event, Progress):
            losses = " ".join(f"{k} {v:.4f}" for k, v in event.losses.items())
            log(f"step {event.step}/{event.total} {losses} lr {event.lr:.2e} eta {event.eta:.0f}s")
        elif isinstance(event, Validated):
            mark = " (best, saved best.pt)" if event.improved else ""
            log(f"step {event.step}: val Dice {event.dice:.4f}{mark}")
        elif isinstance(event, Failed):
            log(f"error: {event.message}")
            return 1
        elif isinstance(event, Finished):
            log(f"wrote {event.checkpoint} after {event.steps} steps ({event.seconds:.0f} s)")
            if event.stopped_early:
                log("stopped early: continue with the same command and --resume")
                return STOPPED
    return 0
