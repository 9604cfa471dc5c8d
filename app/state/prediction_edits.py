"""Label edits from a model prediction (Qt-free): accept, confirm as labeled, label check.

Accepting writes the prediction into the labels as ONE undo step through the ``LabelEditor``
(undo history, modified flag, autosave journal, redraw signal). By default it never changes a
voxel the user painted (a non-zero label, or any voxel of a slice marked labeled), never writes
into a locked label, and with "confident only" keeps voxels whose uncertainty is under a
threshold. Accepted slices are not marked labeled until the user confirms (``mark_labeled``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.state.document import Region
from app.state.editor import LabelEditor
from app.state.label_ops import free_values
from app.state.undo import LabelDelta
from ugpcl_engine import axis_index


@dataclass(frozen=True)
class AcceptOptions:
    """How a prediction is accepted.

    Attributes:
        confident_only: keep only voxels with entropy under ``threshold``.
        threshold: entropy limit in nats.
        overwrite_painted: also replace voxels the user painted.

    Raises:
        ValueError: negative threshold.
    """

    confident_only: bool = True
    threshold: float = 0.3
    overwrite_painted: bool = False

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError(f"threshold must be >= 0 nats, got {self.threshold}")


@dataclass(frozen=True)
class AcceptResult:
    """What an accept changed.

    Attributes:
        delta: the undo step.
        voxels: voxels whose label changed.
        slices: slice indices (along the axis) that changed.
    """

    delta: LabelDelta
    voxels: int
    slices: tuple[int, ...]


def accept_prediction(
    editor: LabelEditor,
    pred_zyx: np.ndarray,
    entropy_zyx: np.ndarray,
    axis: str,
    indices: Sequence[int],
    options: AcceptOptions,
) -> AcceptResult | None:
    """Copy the prediction into the labels of the given slices as one undo step.

    Args:
        editor: the label editor of the document.
        pred_zyx: predicted labels (Z, Y, X) uint8 on the label grid.
        entropy_zyx: uncertainty (Z, Y, X) in nats.
        axis: slicing axis of ``indices``.
        indices: slices to accept.
        options: confident-only threshold and overwrite rule.

    Returns:
        The result, or None when no voxel would change.

    Raises:
        ValueError: the prediction does not match the labels' shape.
    """
    doc = editor.doc
    labels = doc.labels_zyx
    if pred_zyx.shape != labels.shape or entropy_zyx.shape != labels.shape:
        raise ValueError("The prediction does not match this volume; train again on it.")
    a = axis_index(axis)
    picked = sorted({int(i) for i in indices if 0 <= int(i) < labels.shape[a]})
    if not picked:
        return None
    lo, hi = picked[0], picked[-1] + 1
    key: list[slice] = [slice(None)] * 3
    key[a] = slice(lo, hi)
    box = tuple(key)
    current = labels[box]
    proposed = np.asarray(pred_zyx[box], np.uint8)
    write = proposed != current
    in_range = np.zeros(hi - lo, bool)
    in_range[[i - lo for i in picked]] = True
    write &= _along(in_range, a)
    if options.confident_only:
        write &= np.asarray(entropy_zyx[box]) < options.threshold
    if not options.overwrite_painted:
        write &= current == 0
        write &= ~_along(doc.item.labeled[axis][lo:hi], a)
    for value in doc.locked:
        write &= current != value
        write &= proposed != value
    for value in free_values(doc.table):  # a model trained before a label was deleted
        write &= proposed != value
    if not write.any():
        return None
    after = np.where(write, proposed, current)
    region, inner = _bounding_region(write, a, lo)
    delta = write_box(editor, region, after[inner], "accept prediction")
    touched = np.flatnonzero(write.any(axis=tuple(i for i in range(3) if i != a))) + lo
    return AcceptResult(delta, int(write.sum()), tuple(int(i) for i in touched))


def _along(flags: np.ndarray, a: int) -> np.ndarray:
    shape = [1, 1, 1]
    shape[a] = len(flags)
    return np.asarray(flags, bool).reshape(shape)


def _bounding_region(
    mask: np.ndarray, a: int, offset: int
) -> tuple[Region, tuple[slice, slice, slice]]:
    bounds = []
    for d in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(i for i in range(3) if i != d)))
        bounds.append((int(hit[0]), int(hit[-1]) + 1))
    inner = tuple(slice(b0, b1) for b0, b1 in bounds)
    origin = [b0 for b0, _ in bounds]
    origin[a] += offset
    shape = [b1 - b0 for b0, b1 in bounds]
    return Region((origin[0], origin[1], origin[2]), (shape[0], shape[1], shape[2])), (
        inner[0],
        inner[1],
        inner[2],
    )


def write_box(
    editor: LabelEditor, region: Region, values_zyx: np.ndarray, description: str
) -> LabelDelta:
    """Write a box of label values as one undo step through the editor.

    Args:
        editor: the label editor.
        region: the box.
        values_zyx: uint8 values of shape ``region.shape_zyx``.
        description: undo text.

    Returns:
        The undo step (already pushed).
    """
    editor.end_stroke()
    doc = editor.doc
    target = doc.labels_zyx[region.slices()]
    delta = LabelDelta.capture(doc.current, region, target.copy(), values_zyx, description)
    target[...] = values_zyx
    editor.push_delta(delta)
    doc.labels_changed.emit(region)
    return delta


def mark_labeled(editor: LabelEditor, axis: str, indices: Sequence[int]) -> LabelDelta | None:
    """Mark slices labeled (the user confirmed accepted slices) as one undo step.

    Returns:
        The undo step, or None when every slice was marked already.
    """
    editor.end_stroke()
    doc = editor.doc
    marks = doc.item.labeled[axis]
    new = sorted({int(i) for i in indices if not marks[int(i)]})
    if not new:
        return None
    one = doc.labels_zyx[:1, :1, :1]  # a one-voxel no-op box carries the marks
    delta = LabelDelta.capture(
        doc.current, Region((0, 0, 0), (1, 1, 1)), one, one, "confirm accepted slices"
    )
    for index in new:
        delta.marks.append((axis, index, False, True))
        marks[index] = True
    editor.push_delta(delta)
    doc.marks_changed.emit(axis)
    return delta


def label_check(
    labels_zyx: np.ndarray,
    labeled: np.ndarray,
    pred_zyx: np.ndarray,
    entropy_zyx: np.ndarray,
    axis: str = "z",
    threshold: float = 0.1,
) -> np.ndarray:
    """Voxels where the model confidently disagrees with the user's own paint.

    The user's paint is every voxel of a labeled slice (its background too) plus any non-zero
    label elsewhere; a disagreement counts when the prediction differs there and its entropy is
    under ``threshold`` nats.

    Args:
        labels_zyx: the user's labels (Z, Y, X).
        labeled: bool (N,) marks along ``axis``.
        pred_zyx: predicted labels (Z, Y, X).
        entropy_zyx: entropy (Z, Y, X) in nats.
        axis: slicing axis.
        threshold: confidence limit in nats.

    Returns:
        bool (Z, Y, X), True at suspected annotation mistakes.
    """
    painted = (labels_zyx != 0) | _along(np.asarray(labeled, bool), axis_index(axis))
    disagree: np.ndarray = painted & (np.asarray(pred_zyx) != labels_zyx)
    disagree &= np.asarray(entropy_zyx) < threshold
    return disagree
