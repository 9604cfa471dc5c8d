"""``ugpcl-studio train``: read files, train, write model, prediction, uncertainty and metrics.

Only the listed slices of the label file are used for training. After training, the labels on
the other slices (when the file has any) are used to *score* the prediction; that score is
stored under ``evaluation_other_slices`` in ``metrics.json`` and never feeds the training.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.config import RunSpec, preset, random_encoder_warning
from ugpcl_engine.device import prediction_device
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.io.label_tables import read_label_table
from ugpcl_engine.io.output_paths import (
    check_destination,
    make_folder,
    remove_empty_folders,
    staged_outputs,
)
from ugpcl_engine.io.volume_files import read_label_map, read_volume, write_array
from ugpcl_engine.metrics import evaluate_segmentation
from ugpcl_engine.training.events import Failed, Finished, Progress, Started
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.training.trainer import train
from ugpcl_engine.volume import LabelMap, Volume, axis_index, parse_slices

WRITE_SECONDS_PER_VOXEL = 2.5e-7
"""Writing prediction.nii.gz and uncertainty.nii.gz (compressed), per voxel: 1.7 s for the 1 mm
brain's 8.7 M voxels of random values (the worst case for compression) on the 2-core machine."""
WRITE_SECONDS_FIXED = 0.5
"""The checkpoint and metrics.json."""


def training_budget(budget: float, spent: float, voxels: int) -> float:
    """Seconds left for ``train`` (training + prediction) out of a whole-command budget.

    Args:
        budget: ``--time-budget`` (the whole command: reading, training, prediction, writing).
        spent: seconds already spent (reading the files).
        voxels: voxels of the volume (the outputs' size).

    Raises:
        InputError: a budget that is not positive or is used up before training could start.
    """
    if not budget > 0:
        raise InputError(f"--time-budget must be a positive number of seconds, got {budget}.")
    left = budget - spent - WRITE_SECONDS_FIXED - WRITE_SECONDS_PER_VOXEL * voxels
    if left < 1.0:
        raise InputError(
            f"A time budget of {budget:g} s is used up by reading and writing the files "
            f"({budget - left:.1f} s); give a larger --time-budget."
        )
    return left


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


OUTPUT_FILES = ("prediction.nii.gz", "uncertainty.nii.gz", "metrics.json")
"""What ``train`` writes into ``--out`` after training (``model.pt`` is the trainer's)."""


def train_command(args: argparse.Namespace) -> int:
    """Run ``train`` from parsed CLI arguments; return the exit code (0, or 1 on failure).

    ``--out`` is checked before any work: a folder that can be created and written, whose
    outputs are none of the inputs. The prediction, uncertainty and metrics are moved into
    place together at the end; a failed run leaves no half-written file, and a folder it
    created stays only if the trained ``model.pt`` is in it.

    Raises:
        InputError: bad input file, option or output folder (exit code 2).
    """
    started = time.perf_counter()
    out = Path(args.out)
    check_destination("--out", out, folder=True)
    created = make_folder("--out", out)
    code = 1
    try:
        code = _train_into(args, out, started)
    finally:
        if code != 0:
            remove_empty_folders(created)
    return code


def _train_into(args: argparse.Namespace, out: Path, started: float) -> int:
    inputs = {
        "--image": args.image,
        "--labels": args.labels,
        "--init": args.init,
        "--pretrained": args.pretrained,
        "--label-table": args.label_table,
    }
    outputs = {f"--out {name}": out / name for name in OUTPUT_FILES}
    also = {"--out model.pt": out / "model.pt"}
    advice = "choose another --out folder"
    with staged_outputs(outputs, inputs, also_written=also, advice=advice) as staged:
        volume, labels, slices = _read_inputs(args)
        spec = _spec(args, labels.table.num_classes, started, volume.image_zyx.size)
        tv = TrainingVolume(
            volume.image_zyx,
            labels.labels_zyx,
            slices,
            volume.modality,
            volume.geometry.spacing_zyx,
        )
        ran = _run_training(train([tv], labels.table, spec, out, axis=args.axis, init=args.init))
        if ran is None:
            return 1
        _predict_and_write(args, spec, volume, labels, slices, ran, started, staged)
    _log(f"wrote {out / 'model.pt'}, prediction.nii.gz, uncertainty.nii.gz, metrics.json")
    return 0


def _read_inputs(args: argparse.Namespace) -> tuple[Volume, LabelMap, list[int]]:
    """Read and check the image, labels and slice list (the labels lie on the image grid)."""
    volume = read_volume(args.image)
    if min(volume.image_zyx.shape) < 2:
        raise InputError(
            f"{Path(args.image).name} is 2-D (shape {volume.image_zyx.shape}); training needs a "
            "3-D volume with several slices."
        )
    table = read_label_table(args.label_table) if args.label_table else None
    labels = read_label_map(args.labels, table=table, geometry=volume.geometry)
    slices = parse_slices(args.slices)
    count = volume.image_zyx.shape[axis_index(args.axis)]
    bad = [s for s in slices if not 0 <= s < count]
    if bad:
        raise InputError(
            f"Slice {bad[0]} is out of range: the image has {count} slices along {args.axis} "
            f"(0..{count - 1})."
        )
    _check_slices_hold_labels(labels.labels_zyx, slices, args.axis)
    return volume, labels, slices


def _check_slices_hold_labels(labels_zyx: np.ndarray, slices: list[int], axis: str) -> None:
    """Warn about listed slices without any label; refuse a list where none has one.

    Args:
        labels_zyx: the label volume (Z, Y, X).
        slices: the listed (labeled) slice indices along ``axis``, all in range.
        axis: ``z``, ``y`` or ``x``.

    Raises:
        InputError: every listed slice is all background (training would learn nothing else).
    """
    empty = [s for s in slices if not np.take(labels_zyx, s, axis=axis_index(axis)).any()]
    if not empty:
        return
    listed = ", ".join(str(s) for s in empty)
    if len(empty) == len(slices):
        raise InputError(
            f"None of the labeled slices ({listed}) holds a label, only background; paint the "
            "structures on them or list the slices that hold labels with --slices."
        )
    what = f"slices {listed} hold" if len(empty) > 1 else f"slice {listed} holds"
    them = "them" if len(empty) > 1 else "it"
    _log(
        f"warning: labeled {what} no label, only background; the model learns that nothing "
        f"is there. Paint {them} or leave {them} out of --slices."
    )


def _spec(args: argparse.Namespace, num_classes: int, started: float, voxels: int) -> RunSpec:
    overrides: dict[str, Any] = {"seed": args.seed, "device": args.device}
    if args.steps is not None:
        overrides["steps"] = args.steps
    budget = getattr(args, "time_budget", None)
    if budget is not None:
        overrides["time_budget"] = training_budget(budget, time.perf_counter() - started, voxels)
    spec = preset(args.preset, num_classes, **overrides)
    if args.pretrained:
        spec = replace(spec, model=replace(spec.model, pretrained_path=args.pretrained))
    warning = None if args.init else random_encoder_warning(spec.model)  # --init: its weights
    if warning:
        _log(warning)
    return spec


def _run_training(events: Iterator[Any]) -> tuple[Finished, Started | None] | None:
    """Log the trainer's events; return its final event and its start, or None when it failed."""
    finished: Finished | None = None
    started_event: Started | None = None
    for event in events:
        if isinstance(event, Started):
            started_event = event
            _log_start(event)
        elif isinstance(event, Progress):
            parts = " ".join(f"{k}={v:.4f}" for k, v in event.losses.items())
            _log(f"step {event.step}/{event.total} {parts} lr={event.lr:.4g} eta={event.eta:.0f}s")
        elif isinstance(event, Failed):
            _log(f"ugpcl-studio train: failed: {event.message}")
            return None
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None
    return finished, started_event


def _log_start(event: Started) -> None:
    if event.budget_seconds is not None:
        crop = f"{event.crop_size}² crops" if event.crop_size else "whole slices"
        _log(
            f"time budget {event.budget_seconds:.0f} s for training and prediction: "
            f"{event.total_steps} steps on {crop}, prediction estimated "
            f"{event.predict_seconds or 0:.1f} s"
        )
    _log(
        f"training {event.total_steps} steps on {event.device}: {event.labeled} labeled"
        f" + {event.unlabeled} unlabeled slices at {event.network_size}², "
        f"{event.parameters / 1e6:.2f} M parameters"
    )


def _predict_and_write(
    args: argparse.Namespace,
    spec: RunSpec,
    volume: Volume,
    labels: LabelMap,
    slices: list[int],
    ran: tuple[Finished, Started | None],
    started: float,
    staged: dict[str, Path],
) -> None:
    """Predict the whole volume with the trained model; write the outputs to ``staged``."""
    finished, started_event = ran
    ckpt = load_checkpoint(finished.checkpoint)
    predict_started = time.perf_counter()
    device = prediction_device(spec.training.device)  # the device the training ran on
    pred, entropy = TorchSegmenter.from_checkpoint(ckpt, device).segment(volume.image_zyx, ckpt)
    predict_seconds = time.perf_counter() - predict_started
    write_array(staged["--out prediction.nii.gz"], pred, volume.geometry)
    write_array(staged["--out uncertainty.nii.gz"], entropy.astype(np.float32), volume.geometry)
    metrics: dict[str, Any] = {
        "preset": spec.preset,
        "time_budget": getattr(args, "time_budget", None),
        "crop_size": started_event.crop_size if started_event else None,
        "steps": finished.steps,
        "stopped_early": finished.stopped_early,
        "train_seconds": round(finished.seconds, 2),
        "predict_device": str(device),
        "predict_seconds": round(predict_seconds, 2),
        "total_seconds": round(time.perf_counter() - started, 2),
        "labeled_slices": slices,
        "axis": args.axis,
        "network_size": ckpt.network_size,
        "model_version": ckpt.model_version,
        "config_hash": spec.config_hash(),
        "mean_uncertainty": float(entropy.mean()),
    }
    evaluation_started = time.perf_counter()
    metrics["evaluation_other_slices"] = _score_other_slices(
        pred,
        labels.labels_zyx,
        slices,
        args.axis,
        volume.geometry.spacing_zyx,
        dict(enumerate(labels.table.names)),
    )
    # scoring against reference labels is not part of the user's run (nor of its budget)
    metrics["evaluation_seconds"] = round(time.perf_counter() - evaluation_started, 2)
    staged["--out metrics.json"].write_text(json.dumps(metrics, indent=2) + "\n")


def _score_other_slices(
    pred: np.ndarray,
    ref: np.ndarray,
    slices: list[int],
    axis: str,
    spacing_zyx: tuple[float, float, float],
    names: dict[int, str],
) -> dict[str, Any] | None:
    """Scores on the slices not trained on, or None when the label file has nothing there."""
    result = evaluate_segmentation(
        pred, ref, spacing_zyx, exclude=slices, axis=axis, class_names=names
    )
    return result if result["mean_dice"] is not None else None
