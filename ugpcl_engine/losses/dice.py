"""Supervised losses of UGPCL (method §3, step 2): batch Dice and cross-entropy.

All functions are pure torch, work on any device and never synchronise with the host.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

IGNORE_INDEX = -1


def _one_hot(target: Tensor, num_classes: int, dtype: torch.dtype) -> Tensor:
    """(B,H,W) int64 with -1 = ignore → (B,C,H,W) one-hot; ignored pixels are all-zero."""
    classes = torch.arange(num_classes, device=target.device).view(1, num_classes, 1, 1)
    return (target.unsqueeze(1) == classes).to(dtype)


def dice_loss(
    probs: Tensor, target: Tensor, eps: float = 1e-5, include_background: bool = False
) -> Tensor:
    """Batch soft Dice loss over the foreground classes (or over every class).

    Per class ``c`` in ``1..C-1``: ``1 - (2 Σ p g + eps) / (Σ p² + Σ g² + eps)``, where the sums run
    over the whole (sub-)batch and all pixels (a "batch Dice", as in the authors' code); the result
    is the mean over those classes. Background (class 0) is left out unless
    ``include_background``: then the mean runs over all ``C`` classes, as the authors' loss
    divides (``TrainingConfig.dice_background``). Pixels whose target is ``-1`` are ignored (left
    out of every sum); fully labeled slices have none.

    Args:
        probs: (B, C, H, W) softmax probabilities, C >= 2.
        target: (B, H, W) int64 class indices in ``[0, C)`` or ``-1`` (ignore).
        eps: smoothing added to numerator and denominator.
        include_background: average over classes ``0..C-1`` instead of ``1..C-1``.

    Returns:
        Scalar tensor (0 for a perfect one-hot prediction, near 1 for a disjoint one).

    Raises:
        ValueError: on mismatched shapes or fewer than two classes.
    """
    if probs.dim() != 4 or target.shape != (probs.shape[0], *probs.shape[2:]):
        raise ValueError(
            f"probs (B,C,H,W) and target (B,H,W) expected, got "
            f"{tuple(probs.shape)} and {tuple(target.shape)}"
        )
    num_classes = probs.shape[1]
    if num_classes < 2:
        raise ValueError("dice_loss needs at least 2 classes (background + foreground)")
    first = 0 if include_background else 1
    onehot = _one_hot(target, num_classes, probs.dtype)[:, first:]
    fg = probs[:, first:] * (target >= 0).unsqueeze(1).to(probs.dtype)
    dims = (0, 2, 3)
    intersect = (fg * onehot).sum(dims)
    denom = (fg * fg).sum(dims) + (onehot * onehot).sum(dims)
    return (1.0 - (2.0 * intersect + eps) / (denom + eps)).mean()


def cross_entropy(logits: Tensor, target: Tensor) -> Tensor:
    """Mean pixel cross-entropy, ignoring ``-1`` targets; 0 (not NaN) if every pixel is ignored.

    Args:
        logits: (B, C, H, W) raw scores.
        target: (B, H, W) int64 in ``[0, C)`` or ``-1``.

    Returns:
        Scalar tensor.
    """
    total = F.cross_entropy(logits, target, ignore_index=IGNORE_INDEX, reduction="sum")
    count = (target != IGNORE_INDEX).sum().clamp(min=1)
    return total / count


def dice_ce_loss(
    logits: Tensor, probs: Tensor, target: Tensor, include_background: bool = False
) -> Tensor:
    """``0.5 · dice_loss(probs, target) + 0.5 · CE(logits, target)`` (the paper's ``L_ds``).

    ``probs`` must be ``softmax(logits, 1)``; it is passed in so the softmax is computed once per
    decoder and reused by the consistency and uncertainty terms.

    Args:
        logits: (B, C, H, W) raw scores of one decoder.
        probs: (B, C, H, W) their softmax.
        target: (B, H, W) int64 ground truth, ``-1`` = ignore.
        include_background: see ``dice_loss``.

    Returns:
        Scalar tensor.
    """
    dice = dice_loss(probs, target, include_background=include_background)
    return 0.5 * dice + 0.5 * cross_entropy(logits, target)
