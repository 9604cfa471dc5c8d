"""The held-out check: Dice of a labeled slice left out of training (numpy only).

The app leaves one labeled slice of the first volume out of training (``RunRequest.
holdout_slice``); the model never sees its labels, so its Dice there says how well the model
does on a slice it has not learned. The trainer measures it a few times while it trains
(``holdout_every``, ``HOLDOUT_CHECKS`` per run: one forward pass of one slice each, like a
live preview), the child once more on the final prediction.
"""

from __future__ import annotations

import math

import numpy as np

from ugpcl_engine.volume import axis_index

HOLDOUT_CHECKS = 20  # held-out checks while a run trains (plus the final one)


def holdout_every(total: int, log_every: int) -> int:
    """Steps between held-out checks: about ``HOLDOUT_CHECKS`` per run of ``total`` steps,
    never more often than the losses are logged (``log_every``)."""
    return max(log_every, 1, math.ceil(total / HOLDOUT_CHECKS))


def holdout_due(steps_done: int, total: int, every: int) -> bool:
    """True at every ``every`` steps before the last one (the final check follows the
    prediction)."""
    return every > 0 and steps_done < total and steps_done % every == 0


def dice_2d(pred_hw: np.ndarray, ref_hw: np.ndarray) -> float:
    """Mean Dice over the foreground classes present in either slice (1.0 when both empty).

    Args:
        pred_hw: predicted labels of one slice.
        ref_hw: reference labels of the same slice (same shape).

    Returns:
        Dice in [0, 1].
    """
    classes = [int(c) for c in np.union1d(np.unique(pred_hw), np.unique(ref_hw)) if c != 0]
    if not classes:
        return 1.0
    scores = []
    for c in classes:
        pa, pb = pred_hw == c, ref_hw == c
        scores.append(2.0 * float((pa & pb).sum()) / float(pa.sum() + pb.sum()))
    return float(np.mean(scores))


def slice_dice(pred_zyx: np.ndarray, ref_zyx: np.ndarray, axis: str, index: int) -> float:
    """Mean Dice over the foreground classes present in either slice (1.0 when both empty).

    Args:
        pred_zyx: predicted labels (Z, Y, X).
        ref_zyx: reference labels (Z, Y, X).
        axis: slicing axis.
        index: slice index along ``axis``.

    Returns:
        Dice in [0, 1].
    """
    a = np.take(pred_zyx, index, axis=axis_index(axis))
    b = np.take(ref_zyx, index, axis=axis_index(axis))
    return dice_2d(a, b)
