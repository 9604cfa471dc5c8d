"""``ugpcl-studio train-dataset`` and ``evaluate-dataset``: parsers and handlers.

``add_parsers(sub)`` adds both subcommands to the CLI's subparsers; ``HANDLERS`` maps them to
their handlers in the CLI's ``"module:function"`` form. Handlers take the parsed namespace and
return an exit code; every ``InputError`` they raise is one line and exit code 2 (``cli.main``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ugpcl_engine.errors import InputError
from ugpcl_engine.training.cancel import CancelToken

STOPPED = 130
"""Exit code of a run stopped by a signal before its last step (its last.pt is written)."""

HANDLERS = {
    "train-dataset": "ugpcl_engine.datasets.commands:train_dataset_command",
    "evaluate-dataset": "ugpcl_engine.datasets.commands:evaluate_dataset_command",
}


def add_parsers(sub: Any) -> None:
    """Add ``train-dataset`` and ``evaluate-dataset`` to ``sub`` (an ``add_subparsers()``)."""
    p = sub.add_parser("train-dataset", help="train UGPCL on a dataset folder")
    p.add_argument("--data", required=True, help="dataset folder (MSD/nnU-Net or SSL4MIS)")
    p.add_argument("--layout", default="auto", choices=("auto", "msd", "ssl4mis"))
    p.add_argument(
        "--labeled",
        default="10%",
        help="labeled patients (SSL4MIS) or cases (MSD): a count (7), a share (10%%) or a file "
        "of ids; the rest are unlabeled (default 10%%)",
    )
    p.add_argument("--preset", required=True, choices=("quick", "standard", "paper"))
    p.add_argument("--out", required=True, help="run folder (last.pt, best.pt, model.pt)")
    p.add_argument("--steps", type=int, default=None, help="override the preset's step count")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--val-every",
        type=int,
        default=None,
        help="steps between validations on the val split (default: a tenth of the run; 0: "
        "never); the best model is kept as best.pt",
    )
    p.add_argument(
        "--checkpoint-every",
        type=int,
        default=None,
        help="steps between resumable checkpoints (last.pt; default: a tenth of the run)",
    )
    p.add_argument("--input-size", type=int, default=None, help="network side S (×32)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--pretrained", default=None, help="local ResNet-50 ImageNet weights (paper)")
    p = sub.add_parser("evaluate-dataset", help="score a checkpoint on a dataset split")
    p.add_argument("--checkpoint", required=True, help="model.pt of a training run")
    p.add_argument("--data", required=True, help="dataset folder (MSD/nnU-Net or SSL4MIS)")
    p.add_argument("--layout", default="auto", choices=("auto", "msd", "ssl4mis"))
    p.add_argument("--split", default="test", choices=("train", "val", "test"))
    p.add_argument(
        "--resample",
        default="nearest",
        choices=("nearest", "model"),
        help="nearest: slices resized to the network size and back with nearest neighbours "
        "(the published protocol); model: the checkpoint's own inference graph",
    )
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", required=True, help="report.json to write")


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def evaluate_dataset_command(args: argparse.Namespace) -> int:
    """Score ``--checkpoint`` on ``--split`` of ``--data``: print the table, write ``--out``.

    Returns:
        0 once the report is written.

    Raises:
        InputError: unreadable checkpoint or dataset, classes that differ, an empty or
            unlabeled split, an ``--out`` that cannot be written (checked before any work).
    """
    from ugpcl_engine.datasets.evaluation import score_split
    from ugpcl_engine.datasets.layout import open_dataset
    from ugpcl_engine.datasets.prediction import VolumePredictor
    from ugpcl_engine.datasets.scores import format_table, summarise
    from ugpcl_engine.training.checkpoint import load_checkpoint
    from ugpcl_engine.training.device import prediction_device

    out = Path(args.out)
    check_output_file("--out", out)
    dataset = open_dataset(args.data, args.layout)
    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.label_table.num_classes != dataset.label_table.num_classes:
        raise InputError(
            f"The checkpoint predicts {ckpt.label_table.num_classes} classes but the dataset "
            f"has {dataset.label_table.num_classes}; evaluate a model trained on this dataset."
        )
    _log(dataset.describe())
    predictor = VolumePredictor(ckpt, device=prediction_device(args.device), resample=args.resample)

    def progress(done: int, total: int, result: Any) -> None:
        _log(f"[{done}/{total}] {result.case_id}: mean Dice {result.mean('dice'):.4f}")

    results = score_split(dataset, args.split, predictor.predict, progress=progress)
    report = summarise(results, dataset.label_table)
    report.update(
        split=args.split,
        layout=dataset.layout,
        dataset=str(args.data),
        checkpoint=str(args.checkpoint),
        resample=args.resample,
    )
    print(format_table(report))
    write_json(out, report)
    _log(f"wrote {out} ({len(results)} cases, mean Dice {report['mean_dice']:.4f})")
    return 0


def train_dataset_command(args: argparse.Namespace) -> int:
    """Train on ``--data``; checkpoints in ``--out``.

    Returns:
        0 when the run finished, ``STOPPED`` (130) when a signal stopped it with ``last.pt``
        written, 1 when it failed.

    Raises:
        InputError: a bad dataset, ``--labeled``, option or ``--out`` (checked before training),
            or a resume that does not match the run in ``--out``.
    """
    from ugpcl_engine.datasets.labeled import parse_labeled, select_labeled
    from ugpcl_engine.datasets.layout import open_dataset
    from ugpcl_engine.datasets.training import prepare_job
    from ugpcl_engine.training.dataset_trainer import train_dataset

    out = Path(args.out)
    resume = _check_run_folder(out, args.resume)
    dataset = open_dataset(args.data, args.layout)
    labeled = select_labeled(dataset, parse_labeled(args.labeled))
    spec = _spec(args, dataset)
    steps = spec.training.steps
    every = max(1, steps // 10)
    val_every = every if args.val_every is None else args.val_every
    if args.val_every and not dataset.cases("val"):
        raise InputError(
            f"--val-every {args.val_every}: the dataset has no val split (SSL4MIS: val.list; "
            "MSD: val.list of training cases); add one or leave --val-every out."
        )
    _log(dataset.describe())
    _log(
        f"labeled {dataset.unit}: {len(labeled)} ({', '.join(labeled[:8])}"
        f"{', ...' if len(labeled) > 8 else ''})"
    )
    job = prepare_job(
        dataset,
        labeled,
        spec,
        out,
        progress=lambda done, total: _log(f"caching case {done}/{total}"),
        val_every=val_every,
        checkpoint_every=every if args.checkpoint_every is None else args.checkpoint_every,
        resume=resume,
    )
    write_json(out / "run.json", _run_record(args, dataset, labeled, spec, job))
    cancel = CancelToken()
    with _stop_on_signals(cancel):
        return _drive(train_dataset(job, cancel))


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
        _log("stopping after this step; last.pt keeps the run (continue with --resume)")
        cancel.cancel()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_run_folder(out: Path, resume: bool) -> bool:
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
        _log(f"--resume: {out} holds no last.pt yet, starting a new run")
        resume = False
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"--out: cannot create {out} ({err.strerror}).") from None
    return resume


def _spec(args: argparse.Namespace, dataset: Any) -> Any:
    from dataclasses import replace

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
    elif spec.model.backbone == "resnet50":
        _log(
            "warning: no --pretrained: the ResNet-50 encoder starts from random weights "
            "(the paper starts from ImageNet weights)"
        )
    return spec


def _run_record(
    args: argparse.Namespace, dataset: Any, labeled: list[str], spec: Any, job: Any
) -> dict[str, Any]:
    cfg = spec.training
    return {
        "dataset": str(args.data),
        "layout": dataset.layout,
        "labeled": {"value": args.labeled, dataset.unit: labeled},
        "labeled_slices": job.labeled_slices,
        "unlabeled_slices": job.unlabeled_slices,
        "network_size": job.network_size,
        "effective_batch": {"labeled": cfg.batch_labeled, "unlabeled": cfg.batch_unlabeled},
        "lr_rule": "the preset's lr for this batch (one process)",
        "spec": spec.to_dict(),
    }


def _drive(events: Any) -> int:
    """Log the run's events; 0 when it finished, 1 when it failed."""
    from ugpcl_engine.training.dataset_trainer import Validated
    from ugpcl_engine.training.events import Failed, Finished, Progress, Started

    for event in events:
        if isinstance(event, Started):
            _log(
                f"training on {event.device}: {event.parameters:,} parameters, "
                f"{event.labeled} labeled + {event.unlabeled} unlabeled slices, "
                f"{event.network_size}², {event.total_steps} steps"
            )
        elif isinstance(event, Progress):
            losses = " ".join(f"{k} {v:.4f}" for k, v in event.losses.items())
            _log(f"step {event.step}/{event.total} {losses} lr {event.lr:.2e} eta {event.eta:.0f}s")
        elif isinstance(event, Validated):
            mark = " (best, saved best.pt)" if event.improved else ""
            _log(f"step {event.step}: val Dice {event.dice:.4f}{mark}")
        elif isinstance(event, Failed):
            _log(f"error: {event.message}")
            return 1
        elif isinstance(event, Finished):
            _log(f"wrote {event.checkpoint} after {event.steps} steps ({event.seconds:.0f} s)")
            if event.stopped_early:
                _log("stopped early: continue with the same command and --resume")
                return STOPPED
    return 0


def check_output_file(option: str, path: Path) -> None:
    """Refuse, before any work, an output file that cannot be written.

    Raises:
        InputError: the path is a folder, or its folder is missing and cannot be made, or is
            not writable.
    """
    if path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name such as report.json.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{option}: cannot create {path.parent} ({err.strerror}).") from None
    if not os.access(path.parent, os.W_OK):
        raise InputError(f"{option}: {path.parent} is not writable; choose another place.")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (temporary file, then rename); no NaN ever."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n")
    tmp.replace(path)
