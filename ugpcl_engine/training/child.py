"""The training child process: snapshot in, events out, prediction and uncertainty written.

Trains on every volume of the snapshot (labeled slices plus all unlabeled slices) and then
predicts each of them (``prediction-k.npy`` / ``uncertainty-k.npy``, see ``run_folder``).

Started by the GUI through ``run_folder.launch_child`` (``spawn``, by module name), so a crash,
an out-of-memory kill or a CUDA error here never touches the user's labels. Every failure the
child can see becomes a ``Failed`` event with a plain message; the GUI detects the rest (a kill)
from the exit code.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.device import prediction_device
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.metrics import slice_dice
from ugpcl_engine.training.cancel import CancelToken
from ugpcl_engine.training.events import Failed, Finished, Preview, Stage, Validation
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.training.run_folder import (
    RunFolder,
    SnapshotVolume,
    file_sha256,
    read_volumes_snapshot,
    save_array,
)
from ugpcl_engine.training.run_request import RunRequest, default_threads
from ugpcl_engine.training.trainer import train
from ugpcl_engine.volume import axis_index

OOM_MESSAGE = (
    "Training ran out of memory. Nothing was changed; retry with the quick preset, or close "
    "other programs."
)


class _LiveIndex:
    """An integer the GUI moves while training runs (the slice the user looks at).

    The trainer indexes a numpy stack with ``preview_slice``; numpy accepts any object with
    ``__index__``, so each preview reads the shared value at that moment.
    """

    def __init__(self, shared: Any, count: int) -> None:
        self._shared, self._count = shared, count

    def __index__(self) -> int:
        return min(max(int(self._shared.value), 0), self._count - 1)

    __int__ = __index__


def run_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Train on the snapshot in ``run_dir`` and put events on ``queue``.

    Args:
        run_dir: run folder with the snapshot (see ``run_folder``).
        queue: receives (``put``) ``Started``, ``Progress``, ``Preview``, ``Validation`` (a
            few while training, see ``holdout``), ``Stage``, the final ``Validation``, then
            one final ``Finished`` (after the prediction is written) or ``Failed``; a
            ``channel.EventSender`` when started by the GUI.
        flag: stop flag (``is_set()``); once set, training stops and keeps the model.
        preview_index: shared int (``.value``) with the slice to preview, or None.
    """
    step = 0
    try:
        for event in _run(Path(run_dir), flag, preview_index):
            step = getattr(event, "step", step)
            queue.put(event)
    except InputError as err:
        queue.put(Failed(str(err), step))
    except (MemoryError, torch.OutOfMemoryError):
        queue.put(Failed(OOM_MESSAGE, step))
    except Exception as err:  # the GUI must hear about every crash in plain words
        log = RunFolder(Path(run_dir)).error_log
        log.write_text(traceback.format_exc(), encoding="utf-8")
        queue.put(
            Failed(
                f"Training crashed ({type(err).__name__}: {err}). Your labels are unchanged; "
                f"retry, or use a smaller preset. Details: {log}",
                step,
            )
        )


def _run(run_dir: Path, flag: Any, preview_index: Any) -> Any:
    volumes, request = read_volumes_snapshot(run_dir)
    torch.set_num_threads(request.threads or default_threads())
    count = volumes[0].image_zyx.shape[axis_index(request.axis)]
    preview: int | None = request.preview_slice
    if preview_index is not None and preview is not None:
        preview = cast(int, _LiveIndex(preview_index, count))
    # the held-out slice is one of the first volume's (the one the user looks at)
    holdout = [request.holdout_slice] + [None] * (len(volumes) - 1)
    training = [
        TrainingVolume(
            v.image_zyx,
            v.labels_zyx,
            [int(i) for i in np.flatnonzero(v.labeled) if i != held_out],
            request.modality_of(k),
        )
        for k, (v, held_out) in enumerate(zip(volumes, holdout, strict=True))
    ]
    finished: Finished | None = None
    spec = request.spec
    budget = request.budget_left(time.time())
    if budget is not None:  # the budget counts from the user's click, not from here
        spec = replace(spec, training=replace(spec.training, time_budget=budget))
    events = train(
        training,
        request.label_table,
        spec,
        run_dir,
        request.axis,
        CancelToken(flag),
        request.init,
        preview,
        request.holdout_slice,
    )
    for event in events:
        if isinstance(event, Preview):
            yield replace(event, slice_index=int(event.slice_index))
        elif isinstance(event, Finished):
            finished = event
        else:
            yield event
            if isinstance(event, Failed):
                return
    if finished is None:  # the trainer always ends with Finished or Failed
        raise RuntimeError("the trainer ended without a result")
    yield Stage("predicting")
    yield from _predict(run_dir, volumes, request, finished)


def _predict(
    run_dir: Path, volumes: list[SnapshotVolume], request: RunRequest, done: Finished
) -> Any:
    started = time.perf_counter()
    ckpt = load_checkpoint(done.checkpoint)
    device = prediction_device(request.spec.training.device)  # the device the training ran on
    segmenter = TorchSegmenter.from_checkpoint(ckpt, device)
    means: list[float] = []
    dice: float | None = None
    folder = RunFolder(run_dir)
    for k, volume in enumerate(volumes):
        pred, entropy = segmenter.segment(volume.image_zyx, ckpt)
        save_array(folder.prediction(k), pred.astype(np.uint8))
        save_array(folder.uncertainty(k), entropy.astype(np.float32))
        means.append(float(entropy.mean()))
        if k == 0 and request.holdout_slice is not None:
            dice = slice_dice(pred, volume.labels_zyx, request.axis, request.holdout_slice)
    metrics: dict[str, float] = {
        "steps": float(done.steps),
        "train_seconds": round(done.seconds, 2),
        "predict_seconds": round(time.perf_counter() - started, 2),
        "mean_uncertainty": means[0],
        "volumes": float(len(volumes)),
    }
    if dice is not None and request.holdout_slice is not None:
        metrics["holdout_slice"] = float(request.holdout_slice)
        metrics["holdout_dice"] = dice
        yield Validation(done.steps, request.holdout_slice, dice)
    record = {
        **metrics,
        "model_version": ckpt.model_version,
        "model_sha256": file_sha256(done.checkpoint),
        "mean_uncertainty_per_volume": means,
        "stopped_early": done.stopped_early,
    }
    folder.result.write_text(json.dumps(record, indent=1), encoding="utf-8")
    yield replace(done, metrics=metrics)
