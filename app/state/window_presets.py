"""Window presets by modality: CT windows in HU, MR windows from intensity percentiles, and the
window the file's own header gives (DICOM WindowCenter/WindowWidth).

MR intensities have no absolute unit (they change with scanner, coil and sequence), so fixed
centre/width pairs named "T1 brain" or "T2" would be right for one scanner and wrong for the
next. The MR presets are therefore percentile windows of the volume: of the whole volume, or of
its foreground (voxels above its minimum, which drops the air around the body that otherwise
pulls the low percentiles to the background value).
"""

from __future__ import annotations

import numpy as np

from app.state.view_state import AUTO_PRESET, CT_PRESETS, auto_window, default_window
from ugpcl_engine import Volume

# name: (low percentile, high percentile, foreground only)
MR_PRESETS: dict[str, tuple[float, float, bool]] = {
    "MR tissue (1–99 % of foreground)": (1.0, 99.0, True),
    "MR contrast (5–95 % of foreground)": (5.0, 95.0, True),
    "MR wide (0.5–99.9 %)": (0.5, 99.9, False),
}
HEADER_PRESET = "From the file header"
_SAMPLE_VOXELS = 2_000_000


def preset_names(modality: str, has_header_window: bool) -> list[str]:
    """The window presets to offer, the volume's own kind first, every preset kept.

    Args:
        modality: ``Volume.modality`` (``"CT"`` from the DICOM Modality tag, or guessed from
            intensities below -500 for other files; ``"MR"``; ``"unknown"``).
        has_header_window: the volume's file gave a window (``HEADER_PRESET`` is offered first).

    Returns:
        Preset names: for CT the CT presets, then the automatic and MR ones; otherwise the
        automatic and MR presets, then the CT ones.
    """
    percentile = [AUTO_PRESET, *MR_PRESETS]
    ordered = [*CT_PRESETS, *percentile] if modality == "CT" else [*percentile, *CT_PRESETS]
    return ([HEADER_PRESET] if has_header_window else []) + ordered


def _foreground_window(image_zyx: np.ndarray, low: float, high: float) -> tuple[float, float]:
    step = max(1, round((image_zyx.size / _SAMPLE_VOXELS) ** (1 / 3)))
    sample = image_zyx[::step, ::step, ::step]
    foreground = sample[sample > sample.min()]
    if foreground.size == 0:
        return auto_window(image_zyx, low, high)
    lo, hi = np.percentile(foreground, [low, high])
    return (float(lo + hi) / 2.0, max(float(hi - lo), 1.0))


def preset_window(name: str, volume: Volume) -> tuple[float, float] | None:
    """The (centre, width) a preset gives for a volume.

    Args:
        name: a name from ``preset_names``.
        volume: the volume shown (its intensities for percentile presets, its header window).

    Returns:
        (centre, width), or None for an unknown name or a header preset without a header
        window.
    """
    if name in CT_PRESETS:
        return CT_PRESETS[name]
    if name == AUTO_PRESET:
        return auto_window(volume.image_zyx)
    if name == HEADER_PRESET:
        return volume.header_window
    if name in MR_PRESETS:
        low, high, foreground = MR_PRESETS[name]
        if foreground:
            return _foreground_window(volume.image_zyx, low, high)
        return auto_window(volume.image_zyx, low, high)
    return None


def initial_window(volume: Volume) -> tuple[float, float]:
    """The window a volume is first shown with: its header's, else ``default_window``."""
    if volume.header_window is not None:
        return volume.header_window
    return default_window(volume.image_zyx, volume.modality)
