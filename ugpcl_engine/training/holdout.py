"""The held-out check: Dice of a labeled slice left out of training (numpy only).

The app leaves one labeled slice of the first volume out of training (``RunRequest.
holdout_slice``); the model never sees its labels, so its Dice there says how well the model
does on a slice it has not learned. The trainer measures it a few times while it trains
(``holdout_every``, ``HOLDOUT_CHECKS`` per run: one forward pass of one slice each, like a
live preview), the child once more on the final prediction.
"""

from __future__ import annotations

import math

from ugpcl_engine.metrics import dice_2d, slice_dice

__all__ = ["HOLDOUT_CHECKS", "dice_2d", "holdout_due", "holdout_every", "slice_dice"]

HOLDOUT_CHECKS = 20  # held-out checks while a run trains (plus the final one)


def holdout_every(total: int, log_every: int) -> int:
    """Steps between held-out checks: about ``HOLDOUT_CHECKS`` per run of ``total`` steps,
    never more often than the losses are logged (``log_every``)."""
    return max(log_every, 1, math.ceil(total / HOLDOUT_CHECKS))


def holdout_due(steps_done: int, total: int, every: int) -> bool:
    """True at every ``every`` steps before the last one (the final check follows the
    prediction)."""
    return every > 0 and steps_done < total and steps_done % every == 0
