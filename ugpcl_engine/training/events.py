"""Small picklable events the trainer yields (numbers, paths, small numpy previews; no tensors).

The child process forwards them on a queue; the CLI prints them; tests assert on them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Started:
    """Training began.

    Attributes:
        total_steps: planned optimiser steps.
        device: ``"cpu"`` or ``"cuda:0"``.
        parameters: trainable parameter count.
        labeled: number of labeled slices; unlabeled: number of unlabeled slices.
        network_size: longest side of the training canvas.
        crop_size: side of the square training crops (``None``: whole slices).
        budget_seconds: the run's time budget (training + prediction), ``None`` without one.
        predict_seconds: the measured estimate of the whole-volume prediction (budgeted runs).
    """

    total_steps: int
    device: str
    parameters: int
    labeled: int
    unlabeled: int
    network_size: int
    crop_size: int | None = None
    budget_seconds: float | None = None
    predict_seconds: float | None = None


@dataclass(frozen=True)
class Progress:
    """Losses every ``log_every`` steps.

    Attributes:
        step: steps done; total: planned steps; elapsed: seconds since start; eta: seconds left.
        losses: named loss values (total, sup, con, rot, contrast) averaged since the last event.
        lr: current learning rate.
    """

    step: int
    total: int
    elapsed: float
    eta: float
    losses: dict[str, float]
    lr: float


@dataclass(frozen=True)
class Preview:
    """Prediction of one slice from the current weights.

    Attributes:
        step: training step; slice_index: slice along the training axis.
        labels_hw: (H, W) uint8 predicted labels at native size.
        entropy_hw: (H, W) float32 uncertainty.
    """

    step: int
    slice_index: int
    labels_hw: np.ndarray
    entropy_hw: np.ndarray


@dataclass(frozen=True)
class Validation:
    """Held-out check: Dice of a labeled slice left out of training."""

    step: int
    slice_index: int
    dice: float


@dataclass(frozen=True)
class Finished:
    """Training ended normally or was stopped with the model kept.

    Attributes:
        checkpoint: path of ``model.pt``; steps: steps done; seconds: wall time;
        stopped_early: True when cancelled and the model was kept; metrics: final numbers.
    """

    checkpoint: str
    steps: int
    seconds: float
    stopped_early: bool = False
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    """Training failed; ``message`` says what happened and what to do."""

    message: str
    step: int = 0


@dataclass(frozen=True)
class Stage:
    """A phase change the child announces (picklable), e.g. ``"predicting"`` after training.

    The training child's own event, not the trainer's (so not in ``Event``).
    """

    name: str


Event = Started | Progress | Preview | Validation | Finished | Failed
