"""UGPCL losses (method §3): Dice + CE, consistency, uncertainty guidance, pixel contrast.

Everything here is torch only and vectorised on the device. The slow loop-based versions of the
contrastive parts (tests, the step benchmark) are ``ugpcl_benchmarks.contrast_reference``.
"""

from __future__ import annotations

from ugpcl_engine.losses.consistency import consistency_loss, sigmoid_rampup
from ugpcl_engine.losses.dice import IGNORE_INDEX, cross_entropy, dice_ce_loss, dice_loss
from ugpcl_engine.losses.guidance import (
    certain_pseudo_labels,
    entropy_of_mean,
    uncertainty_threshold,
)
from ugpcl_engine.losses.memory_bank import ClassMemoryBank
from ugpcl_engine.losses.pixel_contrast import (
    ContrastOutput,
    downsample_labels,
    pixel_contrast_loss,
    region_means,
    sample_anchors,
    ugpcl_contrast,
)

__all__ = [
    "IGNORE_INDEX",
    "ClassMemoryBank",
    "ContrastOutput",
    "certain_pseudo_labels",
    "consistency_loss",
    "cross_entropy",
    "dice_ce_loss",
    "dice_loss",
    "downsample_labels",
    "entropy_of_mean",
    "pixel_contrast_loss",
    "region_means",
    "sample_anchors",
    "sigmoid_rampup",
    "ugpcl_contrast",
    "uncertainty_threshold",
]
