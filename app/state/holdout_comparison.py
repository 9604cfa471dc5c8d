"""The held-out slice scored twice (Qt-free): the model's Dice beside fill between slices'.

A training run leaves one labeled slice out (``training_session.holdout_slice``) and reports
the model's Dice on it (a ``Validation`` event). The baseline a user knows is Slicer's *Fill
between slices*: here the same slice is interpolated from the labeled slices on either side of
it (ITK morphological contour interpolation, every label; ``ugpcl_engine.interpolate_labels``)
and scored the same way (``ugpcl_engine.slice_dice``, mean over the classes on either slice).
A held-out slice before the first or after the last other labeled slice cannot be filled
between slices: it gets a note instead of a number.

``plan_holdout`` copies the few slices it needs when the run starts (GUI thread),
``holdout_fill_dice`` interpolates and scores them (pool thread), ``HoldoutComparison`` keeps
both numbers of the latest run for the panel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.state.observable import Signal
from app.state.slice_fill import Interpolator
from ugpcl_engine import axis_index, interpolate_labels, slice_dice

NOT_BETWEEN = "not between two labeled slices"


@dataclass(frozen=True)
class HoldoutPlan:
    """The slab from the labeled slice before the held-out one to the one after it.

    Attributes:
        slab_zyx: uint8 labels, a copy; along ``axis`` its first and last slices are the
            labeled neighbours, the held-out slice is at ``index``.
        axis: the training axis.
        index: the held-out slice's position inside the slab.
    """

    slab_zyx: np.ndarray
    axis: str
    index: int


def plan_holdout(
    labels_zyx: np.ndarray, labeled: np.ndarray, axis: str, holdout: int
) -> HoldoutPlan | None:
    """Copy the slices between the held-out slice's labeled neighbours.

    Args:
        labels_zyx: the labels the run trains on (Z, Y, X).
        labeled: bool (N,) marks along ``axis`` (the held-out slice among them).
        axis: the training axis.
        holdout: the held-out slice.

    Returns:
        The plan, or None when no labeled slice lies on one side of ``holdout``.
    """
    others = np.flatnonzero(np.asarray(labeled, bool))
    before, after = others[others < holdout], others[others > holdout]
    if not len(before) or not len(after):
        return None
    lo, hi = int(before[-1]), int(after[0])
    key: list[slice] = [slice(None)] * 3
    key[axis_index(axis)] = slice(lo, hi + 1)
    slab = np.array(labels_zyx[tuple(key)], dtype=np.uint8)
    return HoldoutPlan(slab, axis, holdout - lo)


def holdout_fill_dice(
    plan: HoldoutPlan,
    cancelled: Callable[[], bool] | None = None,
    interpolate: Interpolator = interpolate_labels,
) -> float:
    """Fill the held-out slice from its labeled neighbours and score it against the user's.

    Returns:
        Mean Dice over the classes on either slice, as the model's held-out Dice.

    Raises:
        InputError: ITK is not installed; CancelledError: ``cancelled()`` became True.
    """
    last = plan.slab_zyx.shape[axis_index(plan.axis)] - 1
    filled = interpolate(plan.slab_zyx, [0, last], plan.axis, cancelled=cancelled)
    return slice_dice(np.asarray(filled), plan.slab_zyx, plan.axis, plan.index)


class HoldoutComparison:
    """The held-out slice of the latest run: the model's Dice and fill between slices'.

    Attributes:
        slice_index: the held-out slice, or None (no run, or a run without one).
        model_dice: the model's Dice, None until the run reports it.
        fill_dice: fill between slices' Dice, None until computed (or when it cannot be).
        fill_note: why there is no fill number (``NOT_BETWEEN``, a failure), or None.
        changed: emits None after any change.
    """

    def __init__(self) -> None:
        self.changed: Signal[None] = Signal()
        self.slice_index: int | None = None
        self.model_dice: float | None = None
        self.fill_dice: float | None = None
        self.fill_note: str | None = None

    def begin(self, slice_index: int | None) -> None:
        """A run starts with this held-out slice (None: it holds none out)."""
        self.slice_index, self.model_dice, self.fill_dice, self.fill_note = (
            slice_index,
            None,
            None,
            None,
        )
        self.changed.emit(None)

    def set_model(self, slice_index: int, dice: float) -> None:
        """The run reported the model's Dice on its held-out slice."""
        if slice_index != self.slice_index:  # a run this comparison was not told about
            self.begin(slice_index)
        self.model_dice = float(dice)
        self.changed.emit(None)

    def set_fill(self, slice_index: int, dice: float | None, note: str | None = None) -> None:
        """Fill between slices' Dice on ``slice_index`` (or, with None, why there is none)."""
        if slice_index != self.slice_index:
            return  # the result of an older run
        self.fill_dice, self.fill_note = (None if dice is None else float(dice)), note
        self.changed.emit(None)
