"""``ugpcl-studio train-dataset`` and ``evaluate-dataset``: parsers and handlers.

``add_parsers(sub)`` adds both subcommands to the CLI's subparsers; ``HANDLERS`` maps them to
their handlers in the CLI's ``"module:function"`` form. Handlers take the parsed namespace and
return an exit code; every ``InputError`` they raise is one line and exit code 2 (``cli.main``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from ugpcl_engine.errors import InputError

HANDLERS = {
    "train-dataset": "ugpcl_engine.datasets.train_command:train_dataset_command",
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
    p.add_argument(
        "--nproc",
        type=int,
        default=None,
        help="train with N local processes (torchrun --standalone --nproc_per_node N): one per "
        "GPU, or gloo on the CPU; the preset's batch is split over them",
    )
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


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def evaluate_dataset_command(args: argparse.Namespace) -> int:
    """Score ``--checkpoint`` on ``--split`` of ``--data``: print the table, write ``--out``.

    Returns:
        0 once the report is written.

    Raises:
        InputError: unreadable checkpoint or dataset, classes that differ, an empty or
            unlabeled split, an ``--out`` that cannot be written (checked before any work).
    """
    from ugpcl_engine.checkpoint import load_checkpoint
    from ugpcl_engine.datasets.evaluation import score_split
    from ugpcl_engine.datasets.layout import open_dataset
    from ugpcl_engine.datasets.prediction import VolumePredictor
    from ugpcl_engine.datasets.scores import format_table, summarise
    from ugpcl_engine.device import prediction_device

    out = Path(args.out)
    check_output_file("--out", out)
    dataset = open_dataset(args.data, args.layout)
    ckpt = load_checkpoint(args.checkpoint)
    if ckpt.label_table.num_classes != dataset.label_table.num_classes:
        raise InputError(
            f"The checkpoint predicts {ckpt.label_table.num_classes} classes but the dataset "
            f"has {dataset.label_table.num_classes}; evaluate a model trained on this dataset."
        )
    log(dataset.describe())
    predictor = VolumePredictor(ckpt, device=prediction_device(args.device), resample=args.resample)

    def progress(done: int, total: int, result: Any) -> None:
        log(f"[{done}/{total}] {result.case_id}: mean Dice {result.mean('dice'):.4f}")

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
    log(f"wrote {out} ({len(results)} cases, mean Dice {report['mean_dice']:.4f})")
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
