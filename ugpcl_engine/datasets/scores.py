"""Per-volume 3-D scores as the SSL4MIS tables give them, in voxels and in mm (numpy only).

For each foreground class ``c`` of a case (masks ``P = pred == c``, ``R = ref == c``):

- ``dice``, ``jaccard``: as ``metrics.dice_jaccard``; an empty prediction of a present class
  scores 0 (never null); a class absent from both scores 1.
- ``hd95``: 95th percentile of both directed surface-distance sets pooled (medpy ``hd95``).
- ``asd``: mean distance from the prediction's surface to the reference's (medpy ``asd``, the
  one-directional average the SSL4MIS tables report).
- ``_vox`` in voxel units (spacing 1, as SSL4MIS); ``_mm`` with the voxel spacing, ``null`` when
  the files store none (SSL4MIS h5). Distances are ``null`` when exactly one mask is empty
  (no surface to measure to); 0 when both are.

Aggregates (``summarise``): per class mean ± sd (population sd, ``ddof=0``) over the cases
whose value is defined, with ``undefined`` counting the others; ``mean_dice`` etc. average the
class means, which for Dice (always defined) equals the mean over every case and class;
``sd_dice`` etc. are the sd over cases of each case's mean over its classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ugpcl_engine.metrics import dice_jaccard, surface_distances_mm
from ugpcl_engine.volume import LabelTable

METRICS = ("dice", "jaccard", "hd95_vox", "asd_vox", "hd95_mm", "asd_mm")
UNIT_SPACING = (1.0, 1.0, 1.0)


@dataclass(frozen=True)
class CaseResult:
    """The scores of one case.

    Attributes:
        case_id: the case.
        classes: per foreground value, ``{metric: value or None}`` for ``METRICS``.
        spacing_zyx: voxel size used for ``_mm``.
        spacing_known: whether the files stored it.
    """

    case_id: str
    classes: dict[int, dict[str, float | None]]
    spacing_zyx: tuple[float, float, float]
    spacing_known: bool

    def mean(self, metric: str) -> float | None:
        """The mean of ``metric`` over this case's classes where defined."""
        return _mean([v[metric] for v in self.classes.values()])

    def to_json(self, table: LabelTable) -> dict[str, Any]:
        """JSON-safe form: case, spacing, per-class scores (keyed by value) and means."""
        return {
            "case": self.case_id,
            "spacing_zyx": list(self.spacing_zyx),
            "spacing_known": self.spacing_known,
            "mean_dice": self.mean("dice"),
            "classes": {
                str(c): {"name": table.names[c], **scores} for c, scores in self.classes.items()
            },
        }


def _distances(
    pred: np.ndarray, ref: np.ndarray, spacing_zyx: Sequence[float]
) -> tuple[float | None, float | None]:
    """(hd95, asd) of two masks, following the module's rules."""
    has_pred, has_ref = bool(pred.any()), bool(ref.any())
    if not has_pred and not has_ref:
        return 0.0, 0.0
    if has_pred != has_ref:
        return None, None
    to_ref, to_pred = surface_distances_mm(pred, ref, spacing_zyx)
    pooled = np.concatenate([to_ref, to_pred])
    return float(np.percentile(pooled, 95)), float(to_ref.mean())


def score_case(
    case_id: str,
    pred_zyx: np.ndarray,
    ref_zyx: np.ndarray,
    num_classes: int,
    spacing_zyx: tuple[float, float, float],
    spacing_known: bool,
    distances: bool = True,
) -> CaseResult:
    """Score one predicted volume against its reference, for classes 1..C-1.

    Args:
        case_id: the case's name.
        pred_zyx: (Z, Y, X) predicted labels.
        ref_zyx: (Z, Y, X) reference labels, same shape.
        num_classes: C, background included.
        spacing_zyx: voxel size in mm.
        spacing_known: False: ``_mm`` values are ``None``.
        distances: False: only Dice and Jaccard (validation during training).

    Returns:
        The case's scores.

    Raises:
        ValueError: shapes that differ (the caller predicts on the reference's grid).
    """
    if pred_zyx.shape != ref_zyx.shape:
        raise ValueError(f"prediction {pred_zyx.shape} and reference {ref_zyx.shape} differ")
    classes: dict[int, dict[str, float | None]] = {}
    for c in range(1, num_classes):
        p, r = pred_zyx == c, ref_zyx == c
        dice, jaccard = dice_jaccard(p, r)
        scores: dict[str, float | None] = dict.fromkeys(METRICS)
        scores.update(dice=dice, jaccard=jaccard)
        if distances:
            scores["hd95_vox"], scores["asd_vox"] = _distances(p, r, UNIT_SPACING)
            if spacing_known and tuple(spacing_zyx) == UNIT_SPACING:
                scores["hd95_mm"], scores["asd_mm"] = scores["hd95_vox"], scores["asd_vox"]
            elif spacing_known:
                scores["hd95_mm"], scores["asd_mm"] = _distances(p, r, spacing_zyx)
        classes[c] = scores
    return CaseResult(case_id, classes, spacing_zyx, spacing_known)


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(kept)) if kept else None


def _stats(values: Sequence[float | None]) -> dict[str, float | int | None]:
    kept = [v for v in values if v is not None]
    return {
        "mean": float(np.mean(kept)) if kept else None,
        "sd": float(np.std(kept)) if kept else None,
        "undefined": len(values) - len(kept),
    }


def summarise(results: Sequence[CaseResult], table: LabelTable) -> dict[str, Any]:
    """Aggregate case results: per class mean ± sd, overall means, and every case.

    Args:
        results: one per case (at least one).
        table: the label table (class names).

    Returns:
        ``{"mean_dice", "mean_<metric>" and "sd_<metric>" for each metric, "classes",
        "cases"}``; ``classes`` maps each foreground value (as a string) to its name and
        ``{metric: {mean, sd, undefined}}``.
    """
    classes: dict[str, dict[str, Any]] = {}
    for c in range(1, table.num_classes):
        entry: dict[str, Any] = {"name": table.names[c]}
        for metric in METRICS:
            entry[metric] = _stats([r.classes[c][metric] for r in results])
        classes[str(c)] = entry
    out: dict[str, Any] = {}
    for metric in METRICS:
        out[f"mean_{metric}"] = _mean([e[metric]["mean"] for e in classes.values()])
        per_case = [r.mean(metric) for r in results]
        out[f"sd_{metric}"] = _stats(per_case)["sd"]
    out["classes"] = classes
    out["cases"] = [r.to_json(table) for r in results]
    return out


def format_table(summary: dict[str, Any]) -> str:
    """The per-class table (mean ± sd) and the mean row, as text lines."""
    head = f"{'class':<18}" + "".join(f"{m:>17}" for m in METRICS)
    lines = [head]

    def cell(stats: dict[str, Any]) -> str:
        if stats["mean"] is None:
            return f"{'-':>17}"
        text = f"{stats['mean']:.4f}±{stats['sd']:.4f}"
        return f"{text:>17}"

    for entry in summary["classes"].values():
        lines.append(f"{entry['name'][:18]:<18}" + "".join(cell(entry[m]) for m in METRICS))
    means = [{"mean": summary[f"mean_{m}"], "sd": summary[f"sd_{m}"] or 0.0} for m in METRICS]
    lines.append(f"{'mean':<18}" + "".join(cell(s) for s in means))
    return "\n".join(lines)
