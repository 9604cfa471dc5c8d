"""The training loop: a generator of small events that checks a cancel token between steps.

``train(...)`` prepares cached slices on the device, runs UGPCL (or the supervised baseline)
and writes ``model.pt``. It never prints; the CLI, the app's child process and the tests drive
the same generator.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ugpcl_engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ugpcl_engine.config import RunSpec
from ugpcl_engine.data.batches import DeviceSlices
from ugpcl_engine.data.normalisation import (
    IntensityWindow,
    apply_window,
    resolve_mode,
    resolve_window,
)
from ugpcl_engine.data.slices import SliceSet, network_canvas, network_scale, take_slices
from ugpcl_engine.device import resolve_device as resolve_device  # re-exported
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.training.budget import MARGIN as BUDGET_MARGIN
from ugpcl_engine.training.budget import BudgetPlan, plan_budget
from ugpcl_engine.training.cancel import CancelToken
from ugpcl_engine.training.events import (
    Event,
    Failed,
    Finished,
    Preview,
    Progress,
    Started,
    Validation,
)
from ugpcl_engine.training.holdout import dice_2d, holdout_due, holdout_every
from ugpcl_engine.training.loop import LossMeter, Run, build_run, train_step
from ugpcl_engine.training.preparation import TrainingVolume, prepare_slices, training_boxes
from ugpcl_engine.training.run_folder import MODEL_FILE
from ugpcl_engine.training.step import StepSchedule, poly_lr
from ugpcl_engine.volume import LabelTable

# the shared pieces, under the names this module's loop (and tests that patch it) use
_Run = Run
_build_run = build_run
_one_step = train_step
_LossMeter = LossMeter


def train(
    volumes: Sequence[TrainingVolume],
    label_table: LabelTable,
    spec: RunSpec,
    out_dir: str | Path,
    axis: str = "z",
    cancel: CancelToken | None = None,
    init: str | Path | None = None,
    preview_slice: int | None = None,
    holdout_slice: int | None = None,
) -> Iterator[Event]:
    """Train UGPCL on the labeled slices plus every unlabeled slice; yield events.

    Args:
        volumes: the data (labels read only on labeled slices).
        label_table: classes (``spec.model.num_classes`` must equal its length).
        spec: model and training configuration.
        out_dir: folder for ``model.pt``.
        axis: slicing axis.
        cancel: polled between steps; a cancel keeps the model trained so far.
        init: checkpoint to warm-start from.
        preview_slice: slice of the first volume to preview every ``preview_every`` steps.
        holdout_slice: labeled slice of the first volume left out of training (not among
            its ``labeled_slices``): its Dice is measured every ``holdout.holdout_every``
            steps, or None.

    Yields:
        ``Started``, ``Progress`` (every ``log_every`` steps), ``Preview``, ``Validation``
        (held-out checks), then ``Finished`` or ``Failed``.

    Raises:
        InputError: bad data or configuration (before any event).
    """
    cancel = cancel or CancelToken()
    start_time = time.perf_counter()
    prep = _prepare(volumes, label_table, spec, axis, init)
    run = prep.run
    meter = _LossMeter()
    run.net.train()
    deadline, predict_seconds, steps_done = math.inf, None, 0
    target_steps = prep.spec.training.steps
    # a run shorter than the measuring steps needs no plan
    if prep.spec.training.time_budget is not None and prep.spec.training.steps > MEASURE_STEPS + 1:
        budget = prep.spec.training.time_budget
        plan, steps_done = _plan_budget(prep, volumes, axis, meter, start_time)
        training = replace(prep.spec.training, steps=plan.steps, crop_size=plan.crop_size)
        prep.spec = replace(prep.spec, training=training)
        # training stops early (keeping its model) once the prediction would no longer fit
        deadline, predict_seconds = start_time + budget - plan.predict_seconds, plan.predict_seconds
    cfg, total = prep.spec.training, prep.spec.training.steps
    yield Started(
        total,
        str(run.device),
        sum(p.numel() for p in run.net.parameters()),
        len(prep.slices.labeled_images),
        len(prep.slices.unlabeled_images),
        prep.size,
        cfg.crop_size,
        cfg.time_budget,
        predict_seconds,
    )
    loop_start, loop_first = time.perf_counter(), steps_done
    step = steps_done
    while step < total:
        if cancel.cancelled or time.perf_counter() > deadline:
            break
        meter.add(_one_step(run, prep.spec, StepSchedule(step, total, cfg)))
        steps_done = step + 1
        if math.isfinite(deadline) and steps_done == loop_first + REPLAN_AFTER:
            total = _replanned(total, target_steps, steps_done, loop_first, loop_start, deadline)
            prep.spec = replace(prep.spec, training=replace(cfg, steps=total))
        if steps_done % cfg.log_every == 0 or steps_done == total:
            means = meter.means()
            if not math.isfinite(means["total"]):
                yield Failed(
                    "The loss became NaN or infinite; retry with a smaller preset or "
                    "check the image for extreme values.",
                    steps_done,
                )
                return
            elapsed = time.perf_counter() - start_time
            per_step = (time.perf_counter() - loop_start) / max(steps_done - loop_first, 1)
            eta = per_step * (total - steps_done)
            yield Progress(steps_done, total, elapsed, eta, means, poly_lr(step, total, cfg))
        if preview_slice is not None and _preview_due(steps_done, total, cfg.preview_every):
            yield _preview(prep, volumes[0], axis, preview_slice, steps_done)
            run.net.train()
        if holdout_slice is not None and holdout_due(
            steps_done, total, holdout_every(total, cfg.log_every)
        ):
            yield _holdout(prep, volumes[0], axis, holdout_slice, steps_done)
            run.net.train()
        step += 1
    path = Path(out_dir) / MODEL_FILE
    save_checkpoint(path, _checkpoint(run, prep, volumes[0], label_table, axis, steps_done))
    seconds = time.perf_counter() - start_time
    yield Finished(str(path), steps_done, seconds, stopped_early=steps_done < total)


REPLAN_AFTER = 20
"""Steps of the main loop after which a budgeted run re-times itself: the measuring steps run
cold (first kernels, allocations) and overestimate a step, so the plan may grow back towards the
preset's steps (never past them, never past the deadline)."""


def _replanned(
    total: int, target: int, done: int, first: int, loop_start: float, deadline: float
) -> int:
    """The run's new step count from the loop's own pace (only ever more steps)."""
    now = time.perf_counter()
    per_step = (now - loop_start) / max(done - first, 1)
    fits = done + int((deadline - now) * (1 - BUDGET_MARGIN) / max(per_step, 1e-9))
    return max(total, min(target, fits))


MEASURE_STEPS = 4
"""Steps timed (after one untimed) to plan a budgeted run; they are real training steps."""
MEASURE_SHARE = 0.15
"""Measuring stops early (after at least one timed step) once it took this share of the budget:
on a busy machine a step can take seconds, and the plan must come while time is left."""


def _plan_budget(
    prep: _Prepared,
    volumes: Sequence[TrainingVolume],
    axis: str,
    meter: _LossMeter,
    start_time: float,
) -> tuple[BudgetPlan, int]:
    """Measure a step and the prediction, then plan the budgeted run; return (plan, steps done).

    The measuring steps train the model with the preset's schedule and crop; the plan's step
    count includes them.
    """
    cfg = prep.spec.training
    assert cfg.time_budget is not None
    canvas = prep.slices.canvas_hw
    tick, timed, done = 0.0, 0, 0
    stop_at = start_time + MEASURE_SHARE * cfg.time_budget
    for step in range(MEASURE_STEPS + 1):
        if step == 1:
            _sync(prep.run.device)
            tick = time.perf_counter()
        meter.add(_one_step(prep.run, prep.spec, StepSchedule(step, cfg.steps, cfg)))
        done, timed = step + 1, step
        if timed >= 1 and time.perf_counter() > stop_at:
            break
    _sync(prep.run.device)
    step_seconds = (time.perf_counter() - tick) / max(timed, 1)
    predict_seconds = _predict_estimate(prep, volumes, axis)
    plan = plan_budget(
        cfg.time_budget,
        time.perf_counter() - start_time,
        predict_seconds,
        step_seconds,
        cfg.crop_size,
        canvas,
        cfg.steps,
        cfg.crop_size,
    )
    return replace(plan, steps=max(plan.steps, done)), done


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


PREDICT_OVERHEAD = 1.25
"""Factor on the timed forward pass for what else a prediction does (normalising, copying,
resizing back, entropy), measured on the chest CT and the 1 mm brain."""


def _predict_estimate(prep: _Prepared, volumes: Sequence[TrainingVolume], axis: str) -> float:
    """Seconds to predict every slice of every volume: one timed batch, scaled up."""
    batch = 16
    first = take_slices(volumes[0].image_zyx, axis)
    sample = apply_window(first[: min(batch, len(first))], prep.windows[0])[:, None]
    seg = prep.segmenter()
    seg.run_batch(sample[:1])  # warm-up
    tick = time.perf_counter()
    seg.run_batch(np.ascontiguousarray(sample))
    seconds = (time.perf_counter() - tick) / len(sample)
    prep.run.net.train()
    slices = sum(int(take_slices(v.image_zyx, axis).shape[0]) for v in volumes)
    return float(seconds * slices * PREDICT_OVERHEAD)


@dataclass
class _Prepared:
    spec: RunSpec
    run: _Run
    slices: SliceSet
    windows: list[IntensityWindow]
    foreground_crop: bool = False

    @property
    def size(self) -> int:
        """The training canvas' longest side."""
        return self.slices.size

    def segmenter(self) -> TorchSegmenter:
        """The network being trained, on the training grid (switches it to eval mode)."""
        return TorchSegmenter(self.run.net, self.size, self.run.device, self.slices.scale)


def _prepare(
    volumes: Sequence[TrainingVolume],
    label_table: LabelTable,
    spec: RunSpec,
    axis: str,
    init: str | Path | None,
) -> _Prepared:
    cfg = spec.training
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    if label_table.num_classes != spec.model.num_classes:
        spec = replace(spec, model=replace(spec.model, num_classes=label_table.num_classes))
    init_ckpt = load_checkpoint(init) if init is not None else None
    windows = [
        resolve_window(v.image_zyx, resolve_mode(cfg.normalisation, v.modality), cfg.normalisation)
        for v in volumes
    ]
    boxes = training_boxes(volumes, windows, axis) if cfg.crop_to_foreground else None
    shapes = (
        [box.shape_hw for box in boxes]
        if boxes is not None
        else [take_slices(v.image_zyx, axis).shape[1:] for v in volumes]
    )
    scale = network_scale(shapes, cfg.input_size, cfg.max_input_size)
    canvas = network_canvas(shapes, scale)
    slice_set = prepare_slices(
        volumes, windows, axis, scale, canvas, label_table.num_classes, boxes
    )
    run = _build_run(spec, DeviceSlices.from_slice_set(slice_set, device), device, init_ckpt)
    return _Prepared(spec, run, slice_set, windows, boxes is not None)


def _checkpoint(
    run: _Run,
    prep: _Prepared,
    first: TrainingVolume,
    label_table: LabelTable,
    axis: str,
    steps_done: int,
) -> Checkpoint:
    return Checkpoint(
        spec=prep.spec,
        state_dict={k: v.detach().cpu() for k, v in run.net.state_dict().items()},
        bank_state={k: v.detach().cpu() for k, v in run.bank.state_dict().items()},
        label_table=label_table,
        axis=axis,
        network_size=prep.size,
        window=prep.windows[0],
        step=run.start_step + steps_done,
        model_version=uuid.uuid4().hex[:8],
        training_shape_zyx=first.image_zyx.shape,
        training_spacing_zyx=first.spacing_zyx,
        network_scale=prep.slices.scale,
        foreground_crop=prep.foreground_crop,
    )


def _preview_due(steps_done: int, total: int, every: int) -> bool:
    return every > 0 and steps_done < total and steps_done % every == 0


def _preview(prep: _Prepared, volume: TrainingVolume, axis: str, index: int, step: int) -> Preview:
    seg = prep.segmenter()
    image = apply_window(take_slices(volume.image_zyx, axis)[index], prep.windows[0])
    labels, entropy = seg.run_batch(image[None, None])
    return Preview(step, index, labels[0], entropy[0])


def _holdout(
    prep: _Prepared, volume: TrainingVolume, axis: str, index: int, step: int
) -> Validation:
    """Dice of the current weights on the held-out slice (its labels were never trained on)."""
    seg = prep.segmenter()
    image = apply_window(take_slices(volume.image_zyx, axis)[index], prep.windows[0])
    labels, _entropy = seg.run_batch(image[None, None])
    return Validation(step, index, dice_2d(labels[0], take_slices(volume.labels_zyx, axis)[index]))
