"""Decoder consistency and its ramp (method §3, step 3)."""

from __future__ import annotations

import math

from torch import Tensor


def sigmoid_rampup(current: float, length: float) -> float:
    """The sigmoid-shaped ramp ``exp(-5 (1 - clip(current / length, 0, 1))²)``.

    Args:
        current: the current position (e.g. the step, or the step in units of 100 steps).
        length: the ramp length in the same units; ``0`` means "no ramp" (returns 1.0).

    Returns:
        A float in ``(0, 1]``: ``exp(-5) ≈ 0.0067`` at the start, ``1.0`` at and after ``length``.

    Raises:
        ValueError: if ``length`` is negative.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if length == 0:
        return 1.0
    phase = 1.0 - min(max(current / length, 0.0), 1.0)
    return math.exp(-5.0 * phase * phase)


def consistency_loss(p: Tensor, q: Tensor) -> Tensor:
    """Mean squared difference between two decoders' softmax outputs, ``mean((p - q)²)``.

    Args:
        p: (B, C, H, W) probabilities of the CNN decoder.
        q: (B, C, H, W) probabilities of the transformer decoder.

    Returns:
        Scalar tensor; gradients flow into both inputs.
    """
    return ((p - q) ** 2).mean()
