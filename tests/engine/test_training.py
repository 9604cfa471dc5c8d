"""The UGPCL step, the trainer generator, cancel, checkpoints and warm starts."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import TINY_MODEL

from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.config import RunSpec, TrainingConfig
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.training.cancel import CancelToken
from ugpcl_engine.training.events import Failed, Finished, Progress, Started
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.training.step import StepSchedule, poly_lr
from ugpcl_engine.training.trainer import train
from ugpcl_engine.volume import LabelTable

TINY = TINY_MODEL


def phantom(n: int = 12, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Two discs of different brightness on a dark background; classes 1 and 2."""
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((n, size, size), np.float32)
    labels = np.zeros((n, size, size), np.uint8)
    for z in range(n):
        r = 4 + z % 3
        a = (yy - 10) ** 2 + (xx - 10) ** 2 < r**2
        b = (yy - 22) ** 2 + (xx - 21) ** 2 < (r + 1) ** 2
        image[z][a], image[z][b] = 0.5, 1.0
        labels[z][a], labels[z][b] = 1, 2
    rng = np.random.default_rng(0)
    return image + rng.normal(0, 0.05, image.shape).astype(np.float32), labels


def spec(steps: int) -> RunSpec:
    training = TrainingConfig(
        steps=steps,
        batch_labeled=2,
        batch_unlabeled=2,
        log_every=5,
        device="cpu",
        contrast_warmup_fraction=0.0,
        lr=0.05,
    )
    return RunSpec(TINY, training, "test")


def run_to_end(events: object) -> list[object]:
    return list(events)  # type: ignore[call-overload]


def test_schedule_ramps_and_poly_lr() -> None:
    cfg = TrainingConfig(steps=100, w_con=0.1, con_ramp_fraction=0.5, contrast_warmup_fraction=0.2)
    assert StepSchedule(0, 100, cfg).consistency_weight == pytest.approx(0.1 * np.exp(-5))
    assert StepSchedule(50, 100, cfg).consistency_weight == pytest.approx(0.1)
    assert not StepSchedule(19, 100, cfg).contrast_active
    assert StepSchedule(20, 100, cfg).contrast_active
    assert poly_lr(0, 100, cfg) == pytest.approx(0.01)
    assert poly_lr(50, 100, cfg) == pytest.approx(0.01 * 0.5**0.9)
    assert poly_lr(100, 100, cfg) == pytest.approx(cfg.lr_floor)


def test_training_on_phantom_lowers_loss_and_predicts(tmp_path: Path) -> None:
    image, labels = phantom()
    vol = TrainingVolume(image, labels, [1, 6], "MR")
    events = run_to_end(train([vol], LabelTable.default(3), spec(60), tmp_path))
    started = events[0]
    assert isinstance(started, Started) and started.labeled == 2 and started.unlabeled == 10
    progress = [e for e in events if isinstance(e, Progress)]
    assert len(progress) == 12
    assert set(progress[0].losses) == {"total", "sup", "con", "rot", "contrast"}
    assert progress[-1].losses["sup"] < 0.6 * progress[0].losses["sup"]
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.steps == 60 and not finished.stopped_early
    ckpt = load_checkpoint(finished.checkpoint)
    pred, entropy = TorchSegmenter.from_checkpoint(ckpt).segment(image, ckpt)
    assert pred.shape == image.shape and pred.dtype == np.uint8
    assert entropy.shape == image.shape and np.all(entropy >= 0)
    # the bright disc is found on slices the model never saw labeled
    found = (pred[8] == 2) & (labels[8] == 2)
    assert found.sum() > 0.5 * (labels[8] == 2).sum()


def test_cancel_stops_between_steps_and_keeps_model(tmp_path: Path) -> None:
    image, labels = phantom(6)
    token = CancelToken()
    gen = train(
        [TrainingVolume(image, labels, [2], "MR")],
        LabelTable.default(3),
        spec(1000),
        tmp_path,
        cancel=token,
    )
    seen = []
    for event in gen:
        seen.append(event)
        if isinstance(event, Progress):
            token.cancel()
    finished = seen[-1]
    assert isinstance(finished, Finished) and finished.stopped_early
    assert finished.steps == 5  # cancelled right after the first log event (every 5 steps)
    assert Path(finished.checkpoint).exists()


def test_checkpoint_round_trip_and_warm_start(tmp_path: Path) -> None:
    image, labels = phantom(6)
    vol = TrainingVolume(image, labels, [1, 4], "MR")
    first = run_to_end(train([vol], LabelTable.default(3), spec(5), tmp_path / "a"))[-1]
    assert isinstance(first, Finished)
    ckpt = load_checkpoint(first.checkpoint)
    assert ckpt.spec.model == TINY and ckpt.axis == "z" and ckpt.step == 5
    assert ckpt.label_table == LabelTable.default(3) and ckpt.network_size == 32
    net = ckpt.build_net()
    for key, value in net.state_dict().items():
        assert torch.equal(value, ckpt.state_dict[key])
    second = run_to_end(
        train([vol], LabelTable.default(3), spec(5), tmp_path / "b", init=first.checkpoint)
    )[-1]
    assert isinstance(second, Finished)
    assert load_checkpoint(second.checkpoint).step == 10


def test_warm_start_with_other_class_count_is_refused(tmp_path: Path) -> None:
    image, labels = phantom(6)
    vol = TrainingVolume(image, labels, [1], "MR")
    first = run_to_end(train([vol], LabelTable.default(3), spec(1), tmp_path / "a"))[-1]
    assert isinstance(first, Finished)
    four = replace(spec(1), model=replace(TINY, num_classes=4))
    with pytest.raises(InputError, match="predicts 3 classes"):
        run_to_end(train([vol], LabelTable.default(4), four, tmp_path / "b", init=first.checkpoint))


def test_nan_loss_ends_with_a_failed_event(tmp_path: Path) -> None:
    image, labels = phantom(6)
    image[:] = np.nan  # read_volume refuses such files; the trainer must still not crash
    events = run_to_end(
        train([TrainingVolume(image, labels, [1], "MR")], LabelTable.default(3), spec(10), tmp_path)
    )
    failed = events[-1]
    assert isinstance(failed, Failed) and "NaN" in failed.message and failed.step == 5
    assert not (tmp_path / "model.pt").exists()


def test_labels_beyond_table_and_bad_slices_are_input_errors(tmp_path: Path) -> None:
    image, labels = phantom(6)
    with pytest.raises(InputError, match="value 2"):
        run_to_end(
            train(
                [TrainingVolume(image, labels, [1], "MR")], LabelTable.default(2), spec(1), tmp_path
            )
        )
    with pytest.raises(InputError, match="out of range"):
        run_to_end(
            train(
                [TrainingVolume(image, labels, [9], "MR")], LabelTable.default(3), spec(1), tmp_path
            )
        )


def test_checkpoint_records_training_grid(tmp_path: Path) -> None:
    image, labels = phantom(6)
    vol = TrainingVolume(image, labels, [1], "MR", spacing_zyx=(5.0, 0.8, 0.8))
    done = run_to_end(train([vol], LabelTable.default(3), spec(1), tmp_path))[-1]
    assert isinstance(done, Finished)
    ckpt = load_checkpoint(done.checkpoint)
    assert ckpt.training_shape_zyx == (6, 32, 32)
    assert ckpt.training_spacing_zyx == (5.0, 0.8, 0.8)


def test_training_child_uses_every_core() -> None:
    import os

    from ugpcl_engine.training.run_request import default_threads

    assert default_threads() == max(1, os.cpu_count() or 1)


class _SlowClock:
    """A stand-in for the trainer's ``time`` module: every reading is ``tick`` seconds after
    the last (2 s: a machine so busy that each step takes seconds)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.tick = 2.0

    def perf_counter(self) -> float:
        self.now += self.tick
        return self.now


def _budgeted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: float, fast_from: int | None = None
) -> tuple[list[object], int]:
    """Train 50 steps under ``budget`` on the slow clock; from step call ``fast_from`` on, the
    clock ticks 0.01 s. Returns the events and the steps run before ``Started``."""
    from ugpcl_engine.training import trainer

    image, labels = phantom()
    clock = _SlowClock()
    monkeypatch.setattr(trainer, "time", clock)
    real_step = trainer._one_step
    calls: list[int] = []

    def counted(*args: object) -> object:
        calls.append(1)
        if len(calls) == fast_from:
            clock.tick = 0.01
        return real_step(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(trainer, "_one_step", counted)
    budgeted = replace(spec(50), training=replace(spec(50).training, time_budget=budget))
    events, measured = [], 0
    for event in train(
        [TrainingVolume(image, labels, [2, 6, 9])], LabelTable.default(3), budgeted, tmp_path
    ):
        if isinstance(event, Started):
            measured = len(calls)
        events.append(event)
    return events, measured


def test_a_budgeted_run_on_a_busy_machine_stops_measuring_and_keeps_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events, measured = _budgeted_run(tmp_path, monkeypatch, 20.0)
    # 15 % of 20 s is 3 s: measuring ends after the first timed step, not after four
    assert measured == 2
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.stopped_early
    assert (tmp_path / "model.pt").is_file()


def test_a_budgeted_run_grows_back_when_its_steps_are_faster_than_measured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the 5 cold measuring steps are slow, the loop's are fast
    events, _ = _budgeted_run(tmp_path, monkeypatch, 80.0, fast_from=6)
    started = next(e for e in events if isinstance(e, Started))
    finished = events[-1]
    assert started.total_steps < 50  # the cold measurement planned fewer steps
    assert isinstance(finished, Finished) and finished.steps == 50  # the preset's, not more
    assert not finished.stopped_early


@pytest.mark.parametrize("axis", ["y", "x"])
def test_training_along_another_axis_on_an_anisotropic_volume(tmp_path: Path, axis: str) -> None:
    """Coronal / sagittal runs: slices along y or x (another in-plane shape than axial) are
    resized to the network and the prediction comes back on the volume's own grid."""
    image, labels = phantom(n=12, size=32)
    image, labels = image[:, :20, :24], labels[:, :20, :24]  # 12 × 20 × 24: three shapes
    marked = [10, 14] if axis == "y" else [9, 20]
    vol = TrainingVolume(image, labels, marked, "MR")
    events = run_to_end(train([vol], LabelTable.default(3), spec(4), tmp_path, axis=axis))
    started, finished = events[0], events[-1]
    count = image.shape[1] if axis == "y" else image.shape[2]
    assert isinstance(started, Started)
    assert started.labeled == 2 and started.unlabeled == count - 2
    assert isinstance(finished, Finished) and finished.steps == 4
    ckpt = load_checkpoint(finished.checkpoint)
    assert ckpt.axis == axis
    pred, entropy = TorchSegmenter.from_checkpoint(ckpt).segment(image, ckpt)
    assert pred.shape == entropy.shape == image.shape
