"""File › Open segmentation…: read a segmentation for the shown volume, then put it in place
as one undo step through the editor.

``read_segmentation`` is plain and blocking (``app.jobs`` runs it on a worker thread) and
touches no document. ``replace_labels`` runs on the GUI thread: the new table and labels and
the slice marks become one ``CompoundEdit`` pushed through the editor, so the change is undoable
and journaled for crash recovery like every other edit.

Slice marks: as when a volume opens with its labels in the sample and in dataset folders, the
axial slices that hold labels are marked labeled; axial slices left empty by the new
segmentation are unmarked, and coronal/sagittal marks, which spoke of the replaced labels, are
cleared. Undo restores every mark.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.state.document import AXIS_NAMES, Region
from app.state.editor import LabelEditor
from app.state.undo import CompoundEdit, LabelDelta, TableEdit
from ugpcl_engine import (
    InputError,
    LabelMap,
    LabelTable,
    OpenedSegmentation,
    VolumeGeometry,
    list_dicom_series,
    open_segmentation,
)


def read_segmentation(
    path: Path, geometry: VolumeGeometry, table: LabelTable, source_path: Path | None = None
) -> OpenedSegmentation:
    """Read a segmentation file for a volume (worker thread; the document is not touched).

    Args:
        path: NIfTI, NRRD, ``.seg.nrrd``, MHA/MHD or DICOM-SEG file.
        geometry: the volume's grid (the segmentation must lie on it).
        table: the volume's current label table (kept and extended when the file has none).
        source_path: where the volume came from; a DICOM folder lets a DICOM-SEG be placed by
            the source images it references.

    Returns:
        The labels on the grid with their table and the notes for the user.

    Raises:
        InputError: unreadable file or another grid (the message says what to do).
    """
    files = None
    if source_path is not None and source_path.is_dir():
        try:
            series = list_dicom_series(source_path)
        except InputError:  # the folder holds no series any more: the file may not need it
            series = []
        files = list(series[0].files) if len(series) == 1 else None
    return open_segmentation(path, geometry, table, source_dicom_files=files)


def replace_labels(
    editor: LabelEditor, labels: LabelMap, description: str = "open segmentation"
) -> CompoundEdit:
    """Replace the shown volume's labels and table as one undo step.

    Args:
        editor: the label editor of the document.
        labels: uint8 labels of the shown volume's shape, with their table.
        description: the undo text.

    Returns:
        The step (already applied, pushed and journaled).

    Raises:
        ValueError: labels of another shape than the shown volume.
    """
    editor.end_stroke()
    doc = editor.doc
    item = doc.item
    shape = item.labels.labels_zyx.shape
    after = np.ascontiguousarray(labels.labels_zyx, dtype=np.uint8)
    if after.shape != shape:
        raise ValueError(f"labels of shape {after.shape} for a volume of {shape}")
    region = Region((0, 0, 0), (int(shape[0]), int(shape[1]), int(shape[2])))
    delta = LabelDelta.capture(doc.current, region, item.labels.labels_zyx, after, description)
    held = np.asarray(after.reshape(shape[0], -1).any(axis=1), dtype=bool)
    for axis in AXIS_NAMES:
        wanted = held if axis == "z" else np.zeros_like(item.labeled[axis])
        for index in np.flatnonzero(item.labeled[axis] != wanted):
            delta.marks.append(
                (axis, int(index), bool(item.labeled[axis][index]), bool(wanted[index]))
            )
    steps: list[LabelDelta | TableEdit] = []
    if labels.table != item.labels.table:
        steps.append(TableEdit(doc.current, item.labels.table, labels.table, description))
    steps.append(delta)
    step = CompoundEdit(steps, description)
    step.apply(doc, forward=True)
    editor.push_step(step)
    return step
