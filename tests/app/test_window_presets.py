"""Window presets by modality and the first window of a volume (Qt-free state)."""

from __future__ import annotations

import numpy as np
import pytest

from app.state.view_state import AUTO_PRESET, CT_PRESETS
from app.state.window_presets import (
    HEADER_PRESET,
    MR_PRESETS,
    initial_window,
    preset_names,
    preset_window,
)
from ugpcl_engine import Volume, VolumeGeometry


def _volume(image: np.ndarray, modality: str = "MR", header=None) -> Volume:
    return Volume(image, VolumeGeometry(image.shape), modality=modality, header_window=header)


def test_names_put_the_modality_first_and_keep_every_preset() -> None:
    ct = preset_names("CT", has_header_window=True)
    mr = preset_names("MR", has_header_window=False)
    assert ct == [HEADER_PRESET, *CT_PRESETS, AUTO_PRESET, *MR_PRESETS]
    assert mr == [AUTO_PRESET, *MR_PRESETS, *CT_PRESETS]
    assert preset_names("unknown", False) == mr


def test_mr_foreground_preset_ignores_the_background() -> None:
    image = np.zeros((4, 20, 20), np.int16)  # mostly air at 0
    image[:, 5:15, 5:15] = np.arange(100, dtype=np.int16).reshape(10, 10) + 500
    volume = _volume(image)
    centre, width = preset_window("MR tissue (1–99 % of foreground)", volume)
    low, high = centre - width / 2, centre + width / 2
    assert 500 <= low < 505 and 594 < high <= 599
    # the plain percentile window is pulled down to the background
    auto_centre, auto_width = preset_window(AUTO_PRESET, volume)
    assert auto_centre - auto_width / 2 == pytest.approx(0.0)


def test_header_window_is_the_initial_window_when_present() -> None:
    image = np.full((2, 4, 4), -1000, np.int16)
    assert initial_window(_volume(image, "CT", (50.0, 350.0))) == (50.0, 350.0)
    assert initial_window(_volume(image, "CT")) == CT_PRESETS["CT mediastinum"]
    assert preset_window(HEADER_PRESET, _volume(image, "CT")) is None
    assert preset_window("no such preset", _volume(image)) is None
