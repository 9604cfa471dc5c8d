"""Fill between slices (Qt-free): plan on the GUI thread, interpolate off it, apply as one step.

3D Slicer's *Fill between slices*: the slices marked labeled along one axis are interpolated
(ITK morphological contour interpolation, ``ugpcl_engine.interpolate_labels``, in a child
process) and the result is written into the **unmarked** slices between the first and the last
marked one, as ONE undo step through the ``LabelEditor`` (undo history, modified flag, crash
journal, redraw). For every label interpolated, the result replaces that label on those slices
(it adds where the interpolation has it, and takes it away where it has not), as Slicer's does;
other labels are only written over where the paint-over rule allows it. Locked labels are
neither overwritten nor interpolated, the paint-over rule and the intensity range of painting
apply as to a brush, and the marked slices are never changed. The filled slices are **not**
marked labeled: they are a proposal until the user marks them.

The three steps keep the document single-writer: ``plan_fill`` copies what the child needs
(the box between the first and the last marked slice, cropped in-plane to the labels
involved), ``compute_fill`` runs the interpolation on a pool thread, ``apply_fill`` checks that
the marked slices did not change meanwhile and writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.state.document import Document, Region
from app.state.editor import LabelEditor
from app.state.prediction_edits import write_box
from app.state.undo import LabelDelta
from app.state.view_state import VIEW_NAMES
from ugpcl_engine import InputError, axis_index, interpolate_labels, labeled_hash

Interpolator = Callable[..., np.ndarray]
"""``interpolate_labels(labels_zyx, labeled_slices, axis, cancelled=...)`` or a stand-in."""

MARGIN = 1  # voxels kept around the labels in-plane (the interpolation stays within their box)


@dataclass(frozen=True)
class FillPlan:
    """A snapshot of what one fill reads.

    Attributes:
        doc: the document; volume: the index of its volume.
        axis: the slicing axis of the view the fill runs along.
        values: the labels interpolated (never a locked one).
        box: the region of the volume the fill reads and may write.
        sparse_zyx: uint8 (box shape) the labels ``values`` on the marked slices, 0 elsewhere.
        marked: the marked slices, as indices along ``axis`` inside ``box``.
        marks_hash: ``labeled_hash`` of the marks and the marked slices when planned.
    """

    doc: Document
    volume: int
    axis: str
    values: tuple[int, ...]
    box: Region
    sparse_zyx: np.ndarray
    marked: tuple[int, ...]
    marks_hash: str

    @property
    def slice_count(self) -> int:
        """Unmarked slices between the first and the last marked slice."""
        return self.box.shape_zyx[axis_index(self.axis)] - len(self.marked)


@dataclass(frozen=True)
class FillResult:
    """What a fill changed.

    Attributes:
        delta: the undo step (None when no voxel changed).
        voxels: voxels whose label changed.
        slices: slice indices along the axis that changed.
        axis: the slicing axis.
    """

    delta: LabelDelta | None
    voxels: int
    slices: tuple[int, ...]
    axis: str


def axis_name(axis: str) -> str:
    """``"z"`` → ``"axial"`` (the view's name, for messages)."""
    return VIEW_NAMES[axis].lower()


def plan_fill(editor: LabelEditor, axis: str, label: int | None = None) -> FillPlan:
    """Copy what the fill needs from the current volume (GUI thread).

    Args:
        editor: the document's label editor (tools: paint-over rule, locks).
        axis: slicing axis of the active view.
        label: fill only this label; None: every label on the marked slices.

    Returns:
        The plan.

    Raises:
        InputError: fewer than two marked slices, nothing unmarked between them, no label to
            fill from, or the chosen label is locked.
    """
    doc = editor.doc
    a, name = axis_index(axis), axis_name(axis)
    marks = np.asarray(doc.item.labeled[axis], bool)
    marked = np.flatnonzero(marks)
    if len(marked) < 2:
        raise InputError(
            f"Fill between slices needs two or more {name} slices marked labeled; "
            f"{len(marked)} is marked. Paint or mark (M) another {name} slice, or run it "
            "in the view of the axis you painted along."
        )
    first, last = int(marked[0]), int(marked[-1])
    if len(marked) == last - first + 1:
        raise InputError(
            f"Every {name} slice from {first} to {last} is marked labeled: there is no "
            "unlabeled slice between them to fill."
        )
    slab = _along_box(doc.labels_zyx.shape, a, first, last + 1)
    labels = doc.labels_zyx[slab]
    on_marked = np.take(labels, marked - first, axis=a)
    values = _values(on_marked, label, doc.locked)
    involved = np.isin(labels, values)
    box = _crop(slab, involved, a)
    local = tuple(int(i) - first for i in marked)
    inside = doc.labels_zyx[box.slices()]
    sparse = np.where(np.isin(inside, values), inside, 0)
    keep = np.zeros(box.shape_zyx[a], bool)
    keep[list(local)] = True
    sparse = np.where(_along(keep, a), sparse, 0).astype(np.uint8)
    return FillPlan(
        doc,
        doc.current,
        axis,
        tuple(values),
        box,
        sparse,
        local,
        labeled_hash(doc.labels_zyx, marks, axis),
    )


def _values(on_marked: np.ndarray, label: int | None, locked: set[int]) -> list[int]:
    present = [int(v) for v in np.unique(on_marked) if v != 0]
    if label is not None:
        if label in locked:
            raise InputError(f"Label {label} is locked: unlock it to fill between slices.")
        if label not in present:
            raise InputError(
                f"Label {label} is on none of the labeled slices: paint it on two labeled "
                "slices first, or choose another label."
            )
        return [label]
    values = [v for v in present if v not in locked]
    if not values:
        raise InputError(
            "The labeled slices hold no unlocked label to fill from: paint a label on them "
            "(or unlock one) first."
        )
    return values


def compute_fill(
    plan: FillPlan,
    cancelled: Callable[[], bool] | None = None,
    interpolate: Interpolator = interpolate_labels,
) -> np.ndarray:
    """Interpolate the plan's box (any thread; reads only the plan's copies).

    Returns:
        uint8 labels of the box's shape.

    Raises:
        InputError: ITK is not installed; CancelledError: ``cancelled()`` became True.
    """
    filled = interpolate(plan.sparse_zyx, list(plan.marked), plan.axis, cancelled=cancelled)
    return np.asarray(filled, np.uint8)


def apply_fill(editor: LabelEditor, plan: FillPlan, filled_zyx: np.ndarray) -> FillResult:
    """Write the interpolated box into the unmarked slices as one undo step (GUI thread).

    Args:
        editor: the label editor of ``plan.doc``.
        plan: what was interpolated.
        filled_zyx: ``compute_fill``'s result.

    Returns:
        What changed (``delta`` None when nothing did).

    Raises:
        InputError: another document or volume is open now, or the marked slices changed.
    """
    doc, a = editor.doc, axis_index(plan.axis)
    if doc is not plan.doc or doc.current != plan.volume:
        raise InputError("Another volume is shown now: the fill was dropped. Run it again.")
    if labeled_hash(doc.labels_zyx, doc.item.labeled[plan.axis], plan.axis) != plan.marks_hash:
        raise InputError(
            "The labeled slices changed while filling: the fill was dropped. Run it again."
        )
    current = doc.labels_zyx[plan.box.slices()]
    between = np.ones(current.shape[a], bool)
    between[list(plan.marked)] = False
    ours = np.isin(current, plan.values)
    adds = np.isin(filled_zyx, plan.values) & editor.writable(current)
    takes = (filled_zyx == 0) & ours & editor.writable(current, erase=True)
    write = _along(between, a) & (filled_zyx != current) & (adds | takes)
    write &= _in_range(editor, plan.box)
    lo = plan.box.origin_zyx[a]
    if not write.any():
        return FillResult(None, 0, (), plan.axis)
    after = np.where(write, filled_zyx, current).astype(np.uint8)
    region, inner = _bounding(write, plan.box)
    delta = write_box(editor, region, after[inner], "fill between slices")
    others = tuple(i for i in range(3) if i != a)
    touched = tuple(int(i) + lo for i in np.flatnonzero(write.any(axis=others)))
    return FillResult(delta, int(write.sum()), touched, plan.axis)


def _in_range(editor: LabelEditor, box: Region) -> np.ndarray | bool:
    """The painting threshold (``ToolState.intensity_range``) applies as to a brush."""
    limits = editor.tools.intensity_range
    if limits is None:
        return True
    values = editor.doc.item.volume.image_zyx[box.slices()]
    return (values >= min(limits)) & (values <= max(limits))


def _along(flags: np.ndarray, a: int) -> np.ndarray:
    shape = [1, 1, 1]
    shape[a] = len(flags)
    return np.asarray(flags, bool).reshape(shape)


def _along_box(shape: Sequence[int], a: int, lo: int, hi: int) -> tuple[slice, slice, slice]:
    key = [slice(0, int(n)) for n in shape]
    key[a] = slice(lo, hi)
    return (key[0], key[1], key[2])


def _crop(slab: tuple[slice, slice, slice], involved: np.ndarray, a: int) -> Region:
    """The slab cut down in-plane to the voxels of the labels involved (plus ``MARGIN``)."""
    origin, shape = [], []
    for d in range(3):
        start, stop = int(slab[d].start), int(slab[d].stop)
        if d != a:  # in-plane, the slab starts at 0
            hit = np.flatnonzero(involved.any(axis=tuple(i for i in range(3) if i != d)))
            start, stop = max(int(hit[0]) - MARGIN, 0), min(int(hit[-1]) + 1 + MARGIN, stop)
        origin.append(start)
        shape.append(stop - start)
    return Region((origin[0], origin[1], origin[2]), (shape[0], shape[1], shape[2]))


def _bounding(mask: np.ndarray, box: Region) -> tuple[Region, tuple[slice, slice, slice]]:
    bounds = []
    for d in range(3):
        hit = np.flatnonzero(mask.any(axis=tuple(i for i in range(3) if i != d)))
        bounds.append((int(hit[0]), int(hit[-1]) + 1))
    inner = (slice(*bounds[0]), slice(*bounds[1]), slice(*bounds[2]))
    origin = tuple(o + b0 for o, (b0, _) in zip(box.origin_zyx, bounds, strict=True))
    shape = tuple(b1 - b0 for b0, b1 in bounds)
    return Region((origin[0], origin[1], origin[2]), (shape[0], shape[1], shape[2])), inner
