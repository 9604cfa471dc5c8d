"""Segmentation scores in 3-D: per-class Dice, Jaccard, HD95 and ASD in millimetres.

numpy + SimpleITK only (no torch, no scipy): the GUI process and ``ugpcl-studio evaluate`` use it.

Definitions (per foreground class ``c``, masks ``P = pred == c`` and ``R = ref == c``):

- Dice ``2|P∩R| / (|P|+|R|)``, Jaccard ``|P∩R| / |P∪R|``.
- Surfaces are the mask voxels with a background face neighbour (6-connectivity); voxels on the
  border of the (cropped) grid count as surface, as if the grid were padded with background.
- Surface distance: Euclidean distance in mm (voxel spacing, direction ignored as it is a
  rotation) from each surface voxel of one mask to the nearest surface voxel of the other.
- ``hd95_mm``: 95th percentile (linear interpolation) of both directed distance sets pooled;
  ``asd_mm``: their mean (the average *symmetric* surface distance).

NaN-safety convention (JSON output never holds NaN: undefined values are ``null``):

- class absent in both → Dice 1, Jaccard 1, HD95 0, ASD 0 (perfect agreement);
- class absent in exactly one → Dice 0, Jaccard 0, HD95 and ASD undefined (``null``): there is
  no surface to measure to;
- ``mean_dice`` / ``mean_jaccard``: mean over the foreground classes present in the reference;
  a class the prediction never found counts 0. ``null`` when the reference has no foreground.
- ``mean_hd95_mm`` / ``mean_asd_mm``: mean over the reference classes that the prediction found
  (defined distances only); the others are listed in ``missed_classes``. ``null`` when none.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import axis_index, parse_slices


@dataclass(frozen=True)
class ClassScores:
    """Scores of one class; ``nan`` marks an undefined distance (see module docstring).

    Attributes:
        dice: Dice overlap in [0, 1].
        jaccard: Jaccard index (IoU) in [0, 1].
        hd95_mm: 95th percentile symmetric surface distance in mm, or ``nan``.
        asd_mm: average symmetric surface distance in mm, or ``nan``.
    """

    dice: float
    jaccard: float
    hd95_mm: float
    asd_mm: float

    def to_json(self) -> dict[str, float | None]:
        """Return the scores as a JSON-safe dict (``nan`` → ``None``)."""
        return {
            "dice": _finite_or_none(self.dice),
            "jaccard": _finite_or_none(self.jaccard),
            "hd95_mm": _finite_or_none(self.hd95_mm),
            "asd_mm": _finite_or_none(self.asd_mm),
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def dice_jaccard(pred_mask_zyx: np.ndarray, ref_mask_zyx: np.ndarray) -> tuple[float, float]:
    """Dice and Jaccard of two boolean masks (both empty → 1.0, 1.0).

    Args:
        pred_mask_zyx: boolean array, any shape.
        ref_mask_zyx: boolean array of the same shape.

    Returns:
        ``(dice, jaccard)``.
    """
    pred = np.asarray(pred_mask_zyx, dtype=bool)
    ref = np.asarray(ref_mask_zyx, dtype=bool)
    inter = int(np.count_nonzero(pred & ref))
    total = int(np.count_nonzero(pred)) + int(np.count_nonzero(ref))
    if total == 0:
        return 1.0, 1.0
    return 2.0 * inter / total, inter / (total - inter)


def _surface_and_distance(
    mask_zyx: np.ndarray, spacing_zyx: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Surface voxels of a (padded) mask and the distance map (mm) to them."""
    image = sitk.GetImageFromArray(mask_zyx.astype(np.uint8))
    image.SetSpacing(tuple(float(s) for s in reversed(spacing_zyx)))
    contour = sitk.BinaryContour(image, fullyConnected=False, backgroundValue=0, foregroundValue=1)
    distance = sitk.SignedMaurerDistanceMap(
        contour, insideIsPositive=False, squaredDistance=False, useImageSpacing=True
    )
    surface = sitk.GetArrayFromImage(contour).astype(bool)
    return surface, np.maximum(sitk.GetArrayFromImage(distance), 0.0)


def surface_distances_mm(
    pred_mask_zyx: np.ndarray, ref_mask_zyx: np.ndarray, spacing_zyx: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances between two non-empty masks.

    Args:
        pred_mask_zyx: boolean array (Z, Y, X), not empty.
        ref_mask_zyx: boolean array of the same shape, not empty.
        spacing_zyx: voxel size in mm along z, y, x.

    Returns:
        ``(pred_to_ref, ref_to_pred)``: 1-D float arrays of distances in mm, one per surface
        voxel of the first / second mask.

    Raises:
        ValueError: when a mask is empty or the shapes differ.
    """
    pred = np.asarray(pred_mask_zyx, dtype=bool)
    ref = np.asarray(ref_mask_zyx, dtype=bool)
    if pred.shape != ref.shape or pred.ndim != 3:
        raise ValueError(f"masks must be 3-D and alike, got {pred.shape} and {ref.shape}")
    if not pred.any() or not ref.any():
        raise ValueError("surface distances need two non-empty masks")
    # crop to the union's bounding box (distances are unchanged), then pad with background
    box = tuple(slice(int(idx.min()), int(idx.max()) + 1) for idx in np.nonzero(pred | ref))
    pred = np.pad(pred[box], 1)
    ref = np.pad(ref[box], 1)
    pred_surface, pred_distance = _surface_and_distance(pred, spacing_zyx)
    ref_surface, ref_distance = _surface_and_distance(ref, spacing_zyx)
    return ref_distance[pred_surface].astype(np.float64), pred_distance[ref_surface].astype(
        np.float64
    )


def class_scores(
    pred_mask_zyx: np.ndarray, ref_mask_zyx: np.ndarray, spacing_zyx: Sequence[float]
) -> ClassScores:
    """All scores of one class, following the module's NaN-safety convention.

    Args:
        pred_mask_zyx: boolean array (Z, Y, X).
        ref_mask_zyx: boolean array of the same shape.
        spacing_zyx: voxel size in mm along z, y, x.

    Returns:
        The class's ``ClassScores``.
    """
    dice, jaccard = dice_jaccard(pred_mask_zyx, ref_mask_zyx)
    has_pred = bool(np.any(pred_mask_zyx))
    has_ref = bool(np.any(ref_mask_zyx))
    if not has_pred and not has_ref:
        return ClassScores(dice, jaccard, 0.0, 0.0)
    if has_pred != has_ref:
        return ClassScores(dice, jaccard, math.nan, math.nan)
    a_to_b, b_to_a = surface_distances_mm(pred_mask_zyx, ref_mask_zyx, spacing_zyx)
    pooled = np.concatenate([a_to_b, b_to_a])
    return ClassScores(dice, jaccard, float(np.percentile(pooled, 95)), float(pooled.mean()))


def remove_slices(array_zyx: np.ndarray, exclude: Sequence[int], axis: str = "z") -> np.ndarray:
    """Drop whole slices from a volume (the remaining slices keep their spacing).

    Args:
        array_zyx: array (Z, Y, X).
        exclude: slice indices along ``axis`` to remove.
        axis: ``"z"``, ``"y"`` or ``"x"``.

    Returns:
        The array without those slices.

    Raises:
        InputError: an index outside the volume, or nothing left to score.
    """
    dim = axis_index(axis)
    size = array_zyx.shape[dim]
    bad = [int(i) for i in exclude if not 0 <= int(i) < size]
    if bad:
        raise InputError(
            f"Slice index {bad[0]} is outside the volume: axis {axis} has slices 0..{size - 1}."
        )
    keep = sorted(set(range(size)) - {int(i) for i in exclude})
    if not keep:
        raise InputError("Every slice is excluded: leave at least one slice to score.")
    return np.take(array_zyx, keep, axis=dim)


def _mean_or_none(values: Sequence[float]) -> float | None:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else None


def _class_values(pred: np.ndarray, ref: np.ndarray, names: Mapping[int, str]) -> list[int]:
    values = set(np.unique(pred).tolist()) | set(np.unique(ref).tolist()) | set(names)
    return sorted(int(v) for v in values if int(v) > 0)


def evaluate_segmentation(
    pred_zyx: np.ndarray,
    ref_zyx: np.ndarray,
    spacing_zyx: Sequence[float],
    exclude: Sequence[int] = (),
    axis: str = "z",
    class_names: Mapping[int, str] | None = None,
) -> dict[str, Any]:
    """Score a label volume against a reference, in 3-D over the slices not excluded.

    Args:
        pred_zyx: integer label array (Z, Y, X); 0 is background.
        ref_zyx: reference label array of the same shape.
        spacing_zyx: voxel size in mm along z, y, x.
        exclude: slice indices along ``axis`` left out of the score (e.g. the labeled slices).
        axis: ``"z"``, ``"y"`` or ``"x"``.
        class_names: optional display names by label value; listed classes are always reported.

    Returns:
        A JSON-safe dict (no NaN): ``classes`` maps each foreground value (as a string) to
        ``{name, dice, jaccard, hd95_mm, asd_mm, in_reference, in_prediction}``; plus
        ``mean_dice``, ``mean_jaccard``, ``mean_hd95_mm``, ``mean_asd_mm``, ``missed_classes``,
        ``excluded_slices``, ``axis``, ``spacing_zyx``. See the module docstring for the rules.

    Raises:
        InputError: different shapes, non-3-D input, bad axis or slice indices.
    """
    pred = np.asarray(pred_zyx)
    ref = np.asarray(ref_zyx)
    if pred.ndim != 3 or pred.shape != ref.shape:
        raise InputError(
            f"Prediction {pred.shape} and reference {ref.shape} must be 3-D volumes on the same "
            "grid; resample the prediction onto the reference first."
        )
    names = dict(class_names or {})
    excluded = sorted({int(i) for i in exclude})
    pred = remove_slices(pred, excluded, axis)
    ref = remove_slices(ref, excluded, axis)
    classes: dict[str, dict[str, Any]] = {}
    in_ref: list[ClassScores] = []
    missed: list[int] = []
    for value in _class_values(pred, ref, names):
        p, r = pred == value, ref == value
        scores = class_scores(p, r, spacing_zyx)
        entry: dict[str, Any] = {"name": names.get(value, f"label {value}")}
        entry.update(scores.to_json())
        entry.update(in_reference=bool(r.any()), in_prediction=bool(p.any()))
        classes[str(value)] = entry
        if entry["in_reference"]:
            in_ref.append(scores)
            if not entry["in_prediction"]:
                missed.append(value)
    return {
        "classes": classes,
        "mean_dice": _mean_or_none([s.dice for s in in_ref]),
        "mean_jaccard": _mean_or_none([s.jaccard for s in in_ref]),
        "mean_hd95_mm": _mean_or_none([s.hd95_mm for s in in_ref]),
        "mean_asd_mm": _mean_or_none([s.asd_mm for s in in_ref]),
        "missed_classes": missed,
        "excluded_slices": excluded,
        "axis": axis,
        "spacing_zyx": [float(s) for s in spacing_zyx],
    }


def evaluate_command(args: argparse.Namespace) -> int:
    """``ugpcl-studio evaluate``: print the scores of ``--prediction`` vs ``--reference`` as JSON.

    Args:
        args: namespace with ``prediction``, ``reference``, ``exclude_slices`` (text or None)
            and ``axis``.

    Returns:
        0 after printing the JSON of ``evaluate_segmentation`` on stdout.

    Raises:
        InputError: missing or unreadable files, different grids, slice index out of range.
    """
    from ugpcl_engine.io.volume_files import read_label_map

    reference = read_label_map(args.reference)
    prediction = read_label_map(args.prediction)
    if not prediction.geometry.matches(reference.geometry):
        raise InputError(
            f"The prediction grid (shape {prediction.geometry.shape_zyx}, spacing "
            f"{prediction.geometry.spacing_zyx}) differs from the reference grid (shape "
            f"{reference.geometry.shape_zyx}, spacing {reference.geometry.spacing_zyx}); "
            "resample the prediction onto the reference first."
        )
    exclude = parse_slices(args.exclude_slices) if args.exclude_slices else []
    result = evaluate_segmentation(
        prediction.labels_zyx,
        reference.labels_zyx,
        reference.geometry.spacing_zyx,
        exclude=exclude,
        axis=args.axis,
        class_names={c.value: c.name for c in reference.table.classes},
    )
    result["prediction"] = str(args.prediction)
    result["reference"] = str(args.reference)
    json.dump(result, sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")
    return 0


def dice_2d(pred_hw: np.ndarray, ref_hw: np.ndarray) -> float:
    """Mean Dice over the foreground classes present in either slice (1.0 when both empty).

    Args:
        pred_hw: predicted labels of one slice.
        ref_hw: reference labels of the same slice (same shape).

    Returns:
        Dice in [0, 1].
    """
    classes = [int(c) for c in np.union1d(np.unique(pred_hw), np.unique(ref_hw)) if c != 0]
    if not classes:
        return 1.0
    scores = []
    for c in classes:
        pa, pb = pred_hw == c, ref_hw == c
        scores.append(2.0 * float((pa & pb).sum()) / float(pa.sum() + pb.sum()))
    return float(np.mean(scores))


def slice_dice(pred_zyx: np.ndarray, ref_zyx: np.ndarray, axis: str, index: int) -> float:
    """``dice_2d`` of one slice along ``axis`` of two label volumes.

    The held-out check of a training run (``training.holdout``, ``training.child``) and of fill
    between slices (``app.state.holdout_comparison``).

    Args:
        pred_zyx: predicted labels (Z, Y, X).
        ref_zyx: reference labels (Z, Y, X).
        axis: slicing axis.
        index: slice index along ``axis``.

    Returns:
        Dice in [0, 1].
    """
    a = np.take(pred_zyx, index, axis=axis_index(axis))
    b = np.take(ref_zyx, index, axis=axis_index(axis))
    return dice_2d(a, b)
