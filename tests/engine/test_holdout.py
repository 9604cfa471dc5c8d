"""The held-out check's cadence and Dice (numpy only)."""

from __future__ import annotations

import numpy as np

from ugpcl_engine.training.holdout import (
    HOLDOUT_CHECKS,
    dice_2d,
    holdout_due,
    holdout_every,
    slice_dice,
)


def test_about_holdout_checks_per_run_never_more_often_than_the_losses() -> None:
    assert holdout_every(2000, 10) == 2000 // HOLDOUT_CHECKS
    assert holdout_every(50, 10) == 10  # short run: at every loss event
    assert holdout_every(3, 0) == 1
    every = holdout_every(2000, 10)
    due = [s for s in range(1, 2001) if holdout_due(s, 2000, every)]
    assert len(due) == HOLDOUT_CHECKS - 1  # the last one is the final prediction's
    assert 2000 not in due


def test_dice_of_one_slice_is_the_mean_over_the_classes_present() -> None:
    ref = np.zeros((4, 4), np.uint8)
    ref[:2, :2] = 1  # 4 voxels of class 1
    pred = ref.copy()
    pred[0, 0] = 0  # 3 of them found
    pred[3, 3] = 2  # a class the reference lacks: Dice 0
    assert np.isclose(dice_2d(pred, ref), (2 * 3 / 7 + 0.0) / 2)
    assert dice_2d(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0


def test_slice_dice_takes_the_slice_along_the_axis() -> None:
    ref = np.zeros((3, 4, 5), np.uint8)
    ref[1, 1:3, 1:3] = 1
    pred = ref.copy()
    pred[1, 1, 1] = 0
    assert slice_dice(pred, ref, "z", 1) == dice_2d(pred[1], ref[1])
    assert slice_dice(pred, ref, "z", 0) == 1.0
