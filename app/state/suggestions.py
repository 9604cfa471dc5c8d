"""Where to annotate next (Qt-free): ranked slices of a model's uncertainty.

``suggest_slices`` ranks the slices with the engine's ranking and locates their uncertain
regions; ``slice_scores`` gives the per-slice mean entropy the slice strips are coloured by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ugpcl_engine import axis_index, default_threshold, rank_slices, uncertain_regions


@dataclass(frozen=True)
class Suggestion:
    """A slice worth annotating next.

    Attributes:
        slice_index: along the training axis.
        score: uncertainty score in [0, 1] (``ugpcl_engine.uncertainty.slice_scores``).
        regions_rc: centres (row, col) of its uncertain regions, most uncertainty first.
        region_nats: mean entropy of the first region (nats; the slice mean without one).
        from_label: slices to the nearest labeled slice when it was ranked (``None``: none
            labeled). The list is ranked by score and this distance together, so a suggestion
            far from every label can come before a more uncertain one next to a label.
    """

    slice_index: int
    score: float
    regions_rc: tuple[tuple[int, int], ...] = ()
    region_nats: float = 0.0
    from_label: int | None = None

    def describe(self) -> str:
        """One line for the suggestions list: why this slice, and where to look on it."""
        parts = [f"slice {self.slice_index}", f"uncertainty {self.score:.2f}"]
        if self.from_label is not None:
            parts.append(
                f"{self.from_label} slice{'s' if self.from_label != 1 else ''} from a label"
            )
        if self.regions_rc:
            row, col = self.regions_rc[0]
            parts.append(f"unsure region at row {row}, col {col} ({self.region_nats:.2f} nats)")
        return " · ".join(parts)


def suggest_slices(
    entropy_zyx: np.ndarray,
    pred_zyx: np.ndarray,
    labeled: np.ndarray,
    axis: str = "z",
    top: int = 10,
    min_gap: int = 2,
) -> list[Suggestion]:
    """Rank slices to annotate next with the engine's ranking, and locate uncertain regions.

    Uses ``ugpcl_engine.uncertainty``: slices scored by foreground uncertainty and uncertain
    area, weighted by their distance to the labeled slices (double beyond the outermost ones,
    where the model extrapolates), spread at least ``min_gap`` slices from each other and from
    labeled slices; regions are connected areas above half the largest entropy.

    Args:
        entropy_zyx: entropy (Z, Y, X) in nats.
        pred_zyx: predicted labels (Z, Y, X).
        labeled: bool (N,) marks along ``axis`` (labeled slices are never suggested).
        axis: slicing axis.
        top: suggestions returned.
        min_gap: least distance in slices between suggestions and labeled slices.

    Returns:
        Up to ``top`` suggestions, best first, each with up to 3 region centres.
    """
    entropy = np.asarray(entropy_zyx)
    marked = np.flatnonzero(labeled)
    ranked = rank_slices(entropy, np.asarray(pred_zyx), marked.tolist(), axis, top, min_gap)
    threshold = default_threshold(entropy)
    stack = np.moveaxis(entropy, axis_index(axis), 0)
    out = []
    for pick in ranked:
        regions = uncertain_regions(stack[pick.index], threshold)[:3]
        centres = tuple((round(r.centroid[0]), round(r.centroid[1])) for r in regions)
        nats = regions[0].score if regions else float(stack[pick.index].mean())
        gap = int(np.abs(marked - pick.index).min()) if marked.size else None
        out.append(Suggestion(pick.index, pick.score, centres, float(nats), gap))
    return out


def slice_scores(entropy_zyx: np.ndarray, axis: str = "z") -> np.ndarray:
    """Mean entropy of every slice along ``axis`` (N,) float32, for the slice strip."""
    stack = np.moveaxis(np.asarray(entropy_zyx), axis_index(axis), 0)
    return np.asarray(stack.reshape(stack.shape[0], -1).mean(1), np.float32)
