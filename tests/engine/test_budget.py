"""The time-budget planner on fake step timings (never a timed test), and a budgeted run."""

from __future__ import annotations

import pytest

from ugpcl_engine.training.budget import (
    MIN_CROP,
    MIN_STEPS,
    candidate_crops,
    crop_pixels,
    plan_budget,
)


def test_candidate_crops_run_from_the_whole_canvas_down_to_the_smallest() -> None:
    crops = candidate_crops((256, 224))
    assert crops[0] is None and crops[-1] == MIN_CROP
    sizes = [crop_pixels((256, 224), c) for c in crops]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert candidate_crops((64, 64)) == [None]


def test_a_generous_budget_keeps_the_whole_canvas_and_the_preset_steps() -> None:
    plan = plan_budget(600, 2, 5, 0.1, None, (96, 96), 320)
    assert plan.fits and plan.crop_size is None and plan.steps == 320
    assert plan.predict_seconds == 5


def test_a_tight_budget_cuts_steps_first_down_to_the_floor() -> None:
    # 0.2 s per whole-canvas step: 320 steps need 64 s; 60 s leave (60 - 3 - 8) · 0.9 = 44 s
    plan = plan_budget(60, 3, 8, 0.2, None, (256, 224), 320)
    assert not plan.fits and plan.crop_size is None
    assert plan.steps == int(plan.train_seconds / 0.2) and 160 <= plan.steps < 320


def test_a_tighter_budget_then_shrinks_the_crop() -> None:
    # 0.5 s per whole-canvas step: even 160 steps need 80 s; ~44 s to train
    plan = plan_budget(60, 3, 8, 0.5, None, (256, 224), 320)
    assert plan.crop_size is not None and plan.crop_size < 224
    assert 160 <= plan.steps <= 320
    assert plan.steps * plan.step_seconds <= plan.train_seconds
    # at the next larger crop even the floor of 160 steps would not have fitted
    crops = candidate_crops((256, 224))
    bigger = crops[crops.index(plan.crop_size) - 1]
    per_pixel = 0.5 / (256 * 224)
    assert 160 * per_pixel * crop_pixels((256, 224), bigger) > plan.train_seconds


def test_the_step_time_is_scaled_from_the_crop_it_was_measured_at() -> None:
    at_whole = plan_budget(60, 3, 8, 0.5, None, (256, 224), 320)
    at_crop = plan_budget(60, 3, 8, 0.5 * 128 * 128 / (256 * 224), 128, (256, 224), 320)
    assert at_whole.crop_size == at_crop.crop_size
    assert at_whole.step_seconds == pytest.approx(at_crop.step_seconds)


def test_when_nothing_fits_the_smallest_crop_runs_as_many_steps_as_fit() -> None:
    plan = plan_budget(20, 2, 10, 1.0, None, (256, 256), 320)
    assert not plan.fits and plan.crop_size == MIN_CROP
    cost = 1.0 * MIN_CROP**2 / 256**2
    assert plan.steps == int(plan.train_seconds / cost) < 160
    hopeless = plan_budget(5, 4, 10, 1.0, None, (256, 256), 320)
    assert hopeless.steps == MIN_STEPS and hopeless.train_seconds == 0


def test_the_preset_crop_is_the_largest_the_plan_uses() -> None:
    plan = plan_budget(600, 0, 1, 0.01, 128, (256, 256), 100, largest_crop=128)
    assert plan.crop_size == 128 and plan.fits


def test_bad_arguments_are_rejected() -> None:
    with pytest.raises(ValueError):
        plan_budget(0, 0, 0, 0.1, None, (64, 64), 10)
    with pytest.raises(ValueError):
        plan_budget(10, 0, 0, 0.0, None, (64, 64), 10)
