"""Intensity normalisation shared by training and every inference path (numpy only).

The network sees ``clip((x - low) / (high - low), 0, 1)``. CT uses a fixed HU window; MR (and
unknown modalities) use percentiles of the volume itself, recomputed for each new volume.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ugpcl_engine.config import NormalisationConfig


@dataclass(frozen=True)
class IntensityWindow:
    """The resolved intensity mapping of one volume.

    Attributes:
        mode: ``"ct"`` or ``"mr"``: how ``low``/``high`` were found.
        low: intensity mapped to 0.
        high: intensity mapped to 1.
    """

    mode: str
    low: float
    high: float


def resolve_mode(config: NormalisationConfig, modality: str) -> str:
    """Return ``"ct"`` or ``"mr"`` for a volume of ``modality`` under ``config``."""
    if config.mode != "auto":
        return config.mode
    return "ct" if modality.upper() == "CT" else "mr"


def resolve_window(
    image_zyx: np.ndarray, mode: str, config: NormalisationConfig
) -> IntensityWindow:
    """Find the intensity window of one volume.

    Args:
        image_zyx: the raw volume (Z, Y, X).
        mode: ``"ct"`` (fixed window from config) or ``"mr"`` (percentiles of this volume).
        config: window and percentiles.

    Returns:
        The window; ``high > low`` always (a constant image gets a unit-width window).
    """
    if mode == "ct":
        low, high = config.ct_window
    else:
        sample = image_zyx[:: max(1, image_zyx.shape[0] // 64)]
        low, high = (float(v) for v in np.percentile(sample, config.percentiles))
    if not high > low:
        high = low + 1.0
    return IntensityWindow(mode, float(low), float(high))


def apply_window(image: np.ndarray, window: IntensityWindow) -> np.ndarray:
    """Map raw intensities to [0, 1] float32 (any shape)."""
    scaled = (image.astype(np.float32) - np.float32(window.low)) / np.float32(
        window.high - window.low
    )
    return np.clip(scaled, 0.0, 1.0, out=scaled)
