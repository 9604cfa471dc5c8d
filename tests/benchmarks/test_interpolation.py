"""The ``interpolation`` baseline (ITK contour interpolation) and slice selection."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from ugpcl_benchmarks.baselines import interpolate_labels, interpolation, select_slices
from ugpcl_engine.errors import InputError
from ugpcl_engine.metrics import dice_jaccard, evaluate_segmentation
from ugpcl_engine.sample import SAMPLE_LABELED_SLICES, SamplePaths


def _growing_disc(radii: list[float], size: int = 48) -> np.ndarray:
    """A cone: slice z holds a disc of radius ``radii[z]`` (label 1)."""
    y, x = np.indices((size, size))
    dist = np.hypot(y - size / 2, x - size / 2)
    return np.stack([(dist <= r).astype(np.uint8) for r in radii])


def test_growing_disc_middle_slice_is_close_to_truth() -> None:
    truth = _growing_disc([6 + 1.2 * z for z in range(11)])
    given = truth.copy()
    given[1:10] = 7  # garbage on slices that are not labeled: must be ignored
    filled = interpolate_labels(given, [0, 10])
    assert filled.dtype == np.uint8 and filled.shape == truth.shape
    assert np.array_equal(filled[[0, 10]], truth[[0, 10]])
    assert set(np.unique(filled)) == {0, 1}
    dice, _ = dice_jaccard(filled[5] == 1, truth[5] == 1)
    assert dice > 0.88  # measured 0.909: morphological, not linear, interpolation of the radius
    radius = np.sqrt((filled[5] == 1).sum() / np.pi)
    assert radius == pytest.approx(12.0, abs=1.5)  # true radius 6 + 1.2 * 5 = 12 px
    areas = (filled == 1).sum(axis=(1, 2))
    assert np.all(np.diff(areas) > 0)  # grows monotonically between the two discs

    along_x = interpolate_labels(np.moveaxis(given, 0, 2), [0, 10], axis="x")
    assert np.array_equal(np.moveaxis(along_x, 2, 0), filled)


def test_interpolation_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = _growing_disc([5, 6, 7])
    with pytest.raises(InputError, match="outside the volume"):
        interpolate_labels(labels, [0, 3])
    with pytest.raises(InputError, match="No labeled slice"):
        interpolate_labels(labels, [])
    assert not interpolate_labels(np.zeros_like(labels), [0, 2]).any()
    monkeypatch.setattr(interpolation.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="pip install itk-morphologicalcontourinterpolation"):
        interpolate_labels(labels, [0, 2])


def test_select_slices_uniform_and_random() -> None:
    labels = np.zeros((20, 4, 4), np.uint8)
    labels[4:14, 1, 1] = 3  # foreground extent 4..13 (10 slices)
    assert select_slices(labels, 2) == [6, 11]  # floor(4 + 2.5), floor(4 + 7.5)
    assert select_slices(labels, 5) == [5, 7, 9, 11, 13]
    assert select_slices(labels, 10) == list(range(4, 14))
    picked = select_slices(labels, 4, "random", seed=1)
    assert picked == select_slices(labels, 4, "random", seed=1)
    assert len(set(picked)) == 4 and all(4 <= s <= 13 for s in picked)
    assert {tuple(select_slices(labels, 4, "random", seed=s)) for s in range(5)} != {tuple(picked)}
    assert select_slices(np.moveaxis(labels, 0, 1), 2, axis="y") == [6, 11]
    with pytest.raises(InputError, match="Cannot pick 11"):
        select_slices(labels, 11)
    with pytest.raises(InputError, match="Unknown slice strategy"):
        select_slices(labels, 2, "best")
    with pytest.raises(InputError, match="no foreground"):
        select_slices(labels * 0, 2)


def test_interpolation_on_chest_ct(chest_ct: SamplePaths) -> None:
    image = sitk.ReadImage(str(chest_ct.labels))
    ref = sitk.GetArrayFromImage(image)
    spacing_zyx = tuple(reversed(image.GetSpacing()))
    assert select_slices(ref, 3) == list(SAMPLE_LABELED_SLICES)
    dice = {}
    for k in (3, 5):
        slices = select_slices(ref, k)
        filled = interpolate_labels(ref, slices)
        assert np.array_equal(filled[slices], ref[slices])
        result = evaluate_segmentation(filled, ref, spacing_zyx, exclude=slices)
        dice[k] = result["mean_dice"]
    print(
        f"interpolation mean Dice (7 classes, other slices): k=3 {dice[3]:.4f}, k=5 {dice[5]:.4f}"
    )
    # measured 0.4214 and 0.5212 with itk-morphologicalcontourinterpolation 2.1.2 / ITK 5.4.7
    assert 0.35 < dice[3] < dice[5] < 0.7
