"""Metrics: Dice/Jaccard by hand, HD95/ASD vs analytic distances, NaN-safety, evaluate CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ugpcl_engine.cli import main
from ugpcl_engine.errors import InputError
from ugpcl_engine.metrics import (
    class_scores,
    dice_jaccard,
    evaluate_segmentation,
    remove_slices,
    surface_distances_mm,
)
from ugpcl_engine.sample import SamplePaths

SPACING = (2.0, 1.0, 0.5)  # anisotropic, mm along z, y, x


def _ball(radius_mm: float, shape: tuple[int, int, int] = (30, 60, 120)) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=np.float64)
    centre = [(n - 1) / 2 for n in shape]
    dist = np.sqrt(
        ((z - centre[0]) * SPACING[0]) ** 2
        + ((y - centre[1]) * SPACING[1]) ** 2
        + ((x - centre[2]) * SPACING[2]) ** 2
    )
    return dist <= radius_mm


def test_dice_jaccard_by_hand() -> None:
    pred = np.zeros((1, 2, 4), bool)
    ref = np.zeros((1, 2, 4), bool)
    pred[0, 0, :3] = True  # 3 voxels
    ref[0, 0, 1:] = True  # 3 voxels, 2 shared
    dice, jaccard = dice_jaccard(pred, ref)
    assert dice == pytest.approx(2 * 2 / 6)
    assert jaccard == pytest.approx(2 / 4)
    assert dice_jaccard(np.zeros((2, 2, 2), bool), np.zeros((2, 2, 2), bool)) == (1.0, 1.0)
    assert dice_jaccard(pred, np.zeros_like(ref)) == (0.0, 0.0)


def test_concentric_balls_hd95_and_asd_match_radius_gap() -> None:
    scores = class_scores(_ball(10.0), _ball(16.0), SPACING)
    # every surface point of one ball is 6 mm from the other's; allow one (largest) voxel
    assert scores.hd95_mm == pytest.approx(6.0, abs=max(SPACING))
    assert scores.asd_mm == pytest.approx(6.0, abs=max(SPACING))
    assert scores.dice == pytest.approx(2 * 10**3 / (10**3 + 16**3), rel=0.1)


def test_identical_masks_have_zero_distance() -> None:
    ball = _ball(12.0)
    scores = class_scores(ball, ball, SPACING)
    assert (scores.dice, scores.jaccard, scores.hd95_mm, scores.asd_mm) == (1.0, 1.0, 0.0, 0.0)


def test_shifted_cube_distances_follow_spacing() -> None:
    ref = np.zeros((12, 12, 12), bool)
    ref[3:7, 3:7, 3:7] = True
    pred = np.roll(ref, 3, axis=0)  # 3 slices of 2 mm = 6 mm along z
    to_ref, to_pred = surface_distances_mm(pred, ref, SPACING)
    assert to_ref.max() == pytest.approx(6.0) and to_pred.max() == pytest.approx(6.0)
    pred_x = np.roll(ref, 3, axis=2)  # 3 voxels of 0.5 mm along x
    assert class_scores(pred_x, ref, SPACING).hd95_mm <= 1.5 + 1e-6


def test_cube_at_grid_border_still_has_a_surface() -> None:
    full = np.ones((3, 4, 5), bool)
    smaller = full.copy()
    smaller[0] = False  # one 2 mm slice less
    scores = class_scores(smaller, full, SPACING)
    assert math.isfinite(scores.hd95_mm) and scores.hd95_mm == pytest.approx(2.0)


def test_empty_classes_follow_the_convention_and_json_has_no_nan() -> None:
    ref = np.zeros((4, 6, 6), np.uint8)
    pred = np.zeros_like(ref)
    ref[1:3, 1:4, 1:4] = 1  # class 1 in the reference only
    pred[1:3, 1:4, 1:4] = 2  # class 2 in the prediction only
    result = evaluate_segmentation(pred, ref, SPACING, class_names={3: "absent"})
    one, two, three = (result["classes"][k] for k in ("1", "2", "3"))
    assert one["dice"] == 0.0 and one["hd95_mm"] is None and one["asd_mm"] is None
    assert two["dice"] == 0.0 and not two["in_reference"]
    assert three == {
        "name": "absent",
        "dice": 1.0,
        "jaccard": 1.0,
        "hd95_mm": 0.0,
        "asd_mm": 0.0,
        "in_reference": False,
        "in_prediction": False,
    }
    assert result["mean_dice"] == 0.0  # only class 1 is in the reference, and it was missed
    assert result["mean_hd95_mm"] is None and result["missed_classes"] == [1]
    json.dumps(result, allow_nan=False)
    empty = evaluate_segmentation(pred * 0, ref * 0, SPACING)
    assert empty["mean_dice"] is None and empty["classes"] == {}


def test_mean_dice_over_reference_classes_and_excluded_slices() -> None:
    ref = np.zeros((6, 8, 8), np.uint8)
    ref[:, 1:4, 1:4] = 1
    ref[:, 5:7, 5:7] = 2
    pred = ref.copy()
    pred[2] = 0  # wrong on slice 2 only
    whole = evaluate_segmentation(pred, ref, SPACING)
    assert whole["mean_dice"] < 1.0
    skipped = evaluate_segmentation(pred, ref, SPACING, exclude=[2])
    assert skipped["mean_dice"] == 1.0 and skipped["excluded_slices"] == [2]
    assert remove_slices(ref, [0, 5], "x").shape == (6, 8, 6)
    with pytest.raises(InputError, match="outside the volume"):
        evaluate_segmentation(pred, ref, SPACING, exclude=[6])
    with pytest.raises(InputError, match="Every slice"):
        remove_slices(ref, range(6))
    with pytest.raises(InputError, match="same grid"):
        evaluate_segmentation(pred[:5], ref, SPACING)


def _evaluate(capsys: pytest.CaptureFixture[str], pred: Path, ref: Path, *extra: str) -> dict:
    code = main(["evaluate", "--prediction", str(pred), "--reference", str(ref), *extra])
    out = capsys.readouterr().out
    assert code == 0
    return dict(json.loads(out))


def test_evaluate_cli_on_chest_ct(
    chest_ct: SamplePaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    same = _evaluate(capsys, chest_ct.labels, chest_ct.labels, "--exclude-slices", "5,17,28")
    assert same["mean_dice"] == 1.0 and same["mean_hd95_mm"] == 0.0
    assert len(same["classes"]) == 7 and same["classes"]["5"]["name"] == "right lung"

    ref = sitk.ReadImage(str(chest_ct.labels))
    array = sitk.GetArrayFromImage(ref)
    shifted = sitk.GetImageFromArray(np.roll(array, 2, axis=2))  # 2 voxels ≈ 6.1 mm along x
    shifted.CopyInformation(ref)
    sitk.WriteImage(shifted, str(tmp_path / "shifted.nii.gz"))
    moved = _evaluate(capsys, tmp_path / "shifted.nii.gz", chest_ct.labels)
    assert 0.2 < moved["mean_dice"] < 0.95
    assert 2.0 < moved["mean_hd95_mm"] < 40.0


def test_evaluate_cli_bad_input(
    chest_ct: SamplePaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = sitk.Image(8, 8, 4, sitk.sitkUInt8)
    sitk.WriteImage(small, str(tmp_path / "small.nii.gz"))
    cases = [
        (["--prediction", str(tmp_path / "none.nii.gz")], "File not found"),
        (["--prediction", str(tmp_path / "small.nii.gz")], "differs from the reference grid"),
        (["--prediction", str(chest_ct.labels), "--exclude-slices", "40"], "outside the volume"),
    ]
    for extra, message in cases:
        code = main(["evaluate", "--reference", str(chest_ct.labels), *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1
