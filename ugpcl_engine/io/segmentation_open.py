"""Open a segmentation file for a volume that is already open (File › Open segmentation…).

Formats: NIfTI, NRRD, MHA/MHD, 3D Slicer ``.seg.nrrd`` (through ``slicerio``; overlapping
layers become separate classes, with a note) and DICOM-SEG. The segmentation must lie on the
volume's grid: nothing is resampled; a grid that differs is refused with a message naming the
property (size, spacing, origin, direction) and what to do. A DICOM-SEG, which usually holds
only the frames that have segments, is placed frame by frame at the slices its positions name;
a FRACTIONAL one (probabilities) labels a voxel where a segment's fraction is at least 50 %
(the larger fraction wins where two do), with a note.

A ``.seg.nrrd`` that Slicer saved cropped to its segments (a block of the image grid: same
spacing and direction, corner on a voxel) is put back at its place, voxel for voxel.

The label table comes from the file where it has one (``.seg.nrrd`` segments, DICOM-SEG
segments, a table file beside it); otherwise the volume's current table is kept, extended with
placeholder classes for values beyond it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.io import label_tables
from ugpcl_engine.io.label_table_text import default_color
from ugpcl_engine.io.volume_files import read_label_map, read_seg_nrrd_labels
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, VolumeGeometry

if TYPE_CHECKING:
    from ugpcl_engine.io.dicom_seg import SegFrames

SEGMENTATION_SUFFIXES = (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm")
GRID_TOLERANCE = 1e-3  # as VolumeGeometry.matches: spacing and direction; origin 10x this (mm)


@dataclass(frozen=True)
class OpenedSegmentation:
    """A segmentation read for a volume.

    Attributes:
        labels: uint8 labels on the volume's grid, with their table.
        notes: what the user should know (overlapping segments and which one was kept, where
            the table came from); empty when nothing needs saying.
    """

    labels: LabelMap
    notes: tuple[str, ...] = ()


def _xyz(values: Iterable[float] | np.ndarray) -> str:
    return " × ".join(f"{v:g}" for v in values)


def grid_difference(
    found: VolumeGeometry, expected: VolumeGeometry, tolerance: float = GRID_TOLERANCE
) -> str | None:
    """Say how a segmentation's grid differs from the image's, or None when they match.

    Args:
        found: the segmentation's grid.
        expected: the image's grid.
        tolerance: as ``VolumeGeometry.matches``.

    Returns:
        e.g. ``"spacing 1 × 1 × 2 mm (x × y × z) instead of the image's 1 × 1 × 3 mm"``;
        every property that differs, joined by ``"; "``.
    """
    out = []
    if found.shape_zyx != expected.shape_zyx:
        out.append(
            f"size {_xyz(found.shape_zyx[::-1])} voxels (x × y × z) instead of the image's "
            f"{_xyz(expected.shape_zyx[::-1])}"
        )
    if not np.allclose(found.spacing_zyx, expected.spacing_zyx, atol=tolerance):
        out.append(
            f"spacing {_xyz(np.round(found.spacing_zyx[::-1], 4))} mm (x × y × z) instead of "
            f"the image's {_xyz(np.round(expected.spacing_zyx[::-1], 4))} mm"
        )
    if not np.allclose(found.origin_xyz, expected.origin_xyz, atol=tolerance * 10):
        out.append(
            f"origin ({_xyz(np.round(found.origin_xyz, 3))}) mm instead of the image's "
            f"({_xyz(np.round(expected.origin_xyz, 3))}) mm"
        )
    if not np.allclose(found.direction_xyz, expected.direction_xyz, atol=tolerance):
        out.append("direction (orientation) differs from the image's")
    return "; ".join(out) or None


def _refuse_grid(path: Path, difference: str) -> InputError:
    return InputError(
        f"{path.name} does not lie on the grid of the open image: {difference}. Nothing was "
        "changed. Segmentations are not resampled: open the image this segmentation was made "
        "on, or resample it onto this image (nearest neighbour, this image as reference) in "
        "the program that made it, then open it again."
    )


def extend_table(table: LabelTable, top: int) -> LabelTable:
    """The table with placeholder classes ``label k`` added up to value ``top`` (codes kept).

    Raises:
        InputError: ``top`` beyond 255.
    """
    if top < table.num_classes:
        return table
    if top > label_tables.MAX_LABEL_VALUE:
        raise InputError(f"Label value {top} is beyond 255; at most 255 labels are supported.")
    added = tuple(
        LabelClass(v, f"label {v}", default_color(v)) for v in range(table.num_classes, top + 1)
    )
    return LabelTable((*table.classes, *added))


def _frames_difference(frames: SegFrames, geometry: VolumeGeometry) -> str | None:
    """How a DICOM-SEG's planes differ from the image's slices, or None when they are its
    slices (same rows/columns, pixel spacing and orientation)."""
    direction = np.asarray(geometry.direction_xyz).reshape(3, 3)
    out = []
    rows, cols = frames.frames.shape[1:]
    if (rows, cols) != geometry.shape_zyx[1:]:
        out.append(
            f"frames of {cols} × {rows} pixels instead of the image's slices of "
            f"{geometry.shape_zyx[2]} × {geometry.shape_zyx[1]}"
        )
    if not np.allclose(frames.pixel_spacing, geometry.spacing_zyx[1:], atol=GRID_TOLERANCE):
        out.append(
            f"pixel spacing {frames.pixel_spacing[1]:g} × {frames.pixel_spacing[0]:g} mm "
            f"instead of the image's {geometry.spacing_zyx[2]:g} × {geometry.spacing_zyx[1]:g}"
        )
    wanted = np.concatenate([direction[:, 0], direction[:, 1]])
    if not np.allclose(frames.orientation, wanted, atol=GRID_TOLERANCE):
        out.append("direction (orientation) differs from the image's")
    return "; ".join(out) or None


def _place_frames(
    path: Path, frames: SegFrames, geometry: VolumeGeometry
) -> tuple[np.ndarray, list[str]]:
    """Put each frame at the image slice its position names (the frames of one segment may
    be fewer than the slices: a SEG usually leaves empty frames out)."""
    difference = _frames_difference(frames, geometry)
    if difference is not None:
        raise _refuse_grid(path, difference)
    step = np.asarray(geometry.direction_xyz).reshape(3, 3) * np.asarray(geometry.spacing_zyx[::-1])
    index = np.linalg.solve(step, (frames.positions_xyz - geometry.origin_xyz).T).T
    slices = np.round(index[:, 2]).astype(int)
    off = np.abs(index - np.stack([np.zeros_like(slices), np.zeros_like(slices), slices], 1))
    if off.size and (off.max() > 0.05 or slices.min() < 0 or slices.max() >= geometry.shape_zyx[0]):
        raise _refuse_grid(
            path,
            "its frames lie between or beyond the image's slices (origin or slice spacing differ)",
        )
    out = np.zeros(geometry.shape_zyx, np.uint8)
    # a FRACTIONAL SEG: the fraction of the segment kept at each voxel; a segment wins a voxel
    # where its fraction is as large or larger (the later one on a tie, as the BINARY rule)
    fractions = frames.fractions
    best = None if fractions is None else np.zeros(geometry.shape_zyx, np.float32)
    lost: dict[tuple[int, int], int] = {}  # (covered, kept) segment numbers -> voxels
    for i, (frame, k) in enumerate(zip(frames.frames, slices, strict=True)):
        mask = frame > 0
        wins = mask
        if fractions is not None and best is not None:
            wins = mask & (fractions[i] >= best[k])
            best[k] = np.where(wins, fractions[i], best[k])
        clash = mask & (out[k] > 0) & (out[k] != frame)
        number = int(frame.max())
        for covered, count in zip(
            *np.unique(out[k][clash & wins], return_counts=True), strict=True
        ):
            key = (int(covered), number)
            lost[key] = lost.get(key, 0) + int(count)
        for kept, count in zip(*np.unique(out[k][clash & ~wins], return_counts=True), strict=True):
            key = (number, int(kept))
            lost[key] = lost.get(key, 0) + int(count)
        out[k] = np.where(wins, frame, out[k])  # BINARY: the later segment wins overlaps
    names = frames.table.names
    from ugpcl_engine.io.dicom_seg import FRACTION_THRESHOLD  # loaded: it read the frames

    percent = f"{FRACTION_THRESHOLD * 100:g}"
    if fractions is None:
        notes = [
            f"Segments '{names[a]}' and '{names[b]}' overlap in {n} voxels; '{names[b]}' (the "
            "later segment) was kept there."
            for (a, b), n in sorted(lost.items())
        ]
    else:
        notes = [
            f"{path.name} is a fractional DICOM-SEG (probabilities or occupancy): a voxel was "
            f"labelled with a segment where its value is at least {percent} % of the maximum "
            "(MaximumFractionalValue); lower fractions were left unlabelled."
        ]
        notes += [
            f"Segments '{names[a]}' and '{names[b]}' both reach {percent} % in {n} "
            f"voxels; '{names[b]}' (the larger fraction, or the later segment on a tie) was "
            "kept there."
            for (a, b), n in sorted(lost.items())
        ]
    return out, notes


def _place_block(
    array: np.ndarray, found: VolumeGeometry, expected: VolumeGeometry
) -> np.ndarray | None:
    """Put a smaller grid's array into ``expected`` when it is a block of it (same spacing and
    direction, first voxel on a voxel of ``expected``, inside it); None otherwise."""
    if not (
        np.allclose(found.spacing_zyx, expected.spacing_zyx, atol=GRID_TOLERANCE)
        and np.allclose(found.direction_xyz, expected.direction_xyz, atol=GRID_TOLERANCE)
    ):
        return None
    step = np.asarray(expected.direction_xyz).reshape(3, 3) * np.asarray(expected.spacing_zyx[::-1])
    index_xyz = np.linalg.solve(step, np.subtract(found.origin_xyz, expected.origin_xyz))
    start_xyz = np.round(index_xyz)
    if np.abs(index_xyz - start_xyz).max() > 0.05:
        return None
    start = [int(v) for v in start_xyz[::-1]]
    if min(start) < 0 or any(
        s + n > m for s, n, m in zip(start, found.shape_zyx, expected.shape_zyx, strict=True)
    ):
        return None
    out = np.zeros(expected.shape_zyx, np.uint8)
    out[tuple(slice(s, s + n) for s, n in zip(start, found.shape_zyx, strict=True))] = array
    return out


def _read_dicom_seg(
    path: Path, geometry: VolumeGeometry, source_dicom_files: Sequence[str | Path] | None
) -> tuple[np.ndarray, LabelTable, list[str]]:
    """Place a DICOM-SEG by its frames' positions; by the source images it references only
    when its frames carry no position (and the sources are known)."""
    # here, not at import: highdicom is only needed for a DICOM-SEG (not at the app's start)
    from ugpcl_engine.io.dicom_seg import read_dicom_seg, read_dicom_seg_frames

    try:
        frames = read_dicom_seg_frames(path)
    except InputError:
        if not source_dicom_files:
            raise
        labels = read_dicom_seg(path, source_dicom_files, geometry)
        return labels.labels_zyx, labels.table, []
    placed, notes = _place_frames(path, frames, geometry)
    return placed, frames.table, notes


def _is_dicom(path: Path) -> bool:
    if path.name.lower().endswith(".dcm"):
        return True
    try:
        with path.open("rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return head[128:132] == b"DICM"


def open_segmentation(
    path: str | Path,
    geometry: VolumeGeometry,
    table: LabelTable,
    *,
    source_dicom_files: Sequence[str | Path] | None = None,
) -> OpenedSegmentation:
    """Read a segmentation for an open volume, on that volume's grid.

    Args:
        path: a NIfTI, NRRD, ``.seg.nrrd``, MHA/MHD or DICOM-SEG file.
        geometry: the open volume's grid.
        table: the volume's current label table (kept and extended when the file has none).
        source_dicom_files: the volume's DICOM files when it came from a DICOM folder (a
            DICOM-SEG is then placed by the source instances it references).

    Returns:
        The labels on ``geometry`` with their table, and notes for the user.

    Raises:
        InputError: unreadable file, values that are not labels 0..255, or a grid that differs
            from ``geometry`` (the message names the property and what to do).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"File not found: {path}. Check the path and try again.")
    notes: list[str] = []
    own: LabelTable | None
    if path.name.lower().endswith(".seg.nrrd"):
        array, found, own, notes = read_seg_nrrd_labels(path, flatten_layers=True)
        block = _place_block(array, found, geometry) if grid_difference(found, geometry) else None
        if block is not None:  # Slicer saved it cropped to its segments: put it back in place
            array, found = block, geometry
            notes.append(
                f"{path.name} covers only part of the image (Slicer saved it cropped); it was "
                "put at its place on the image grid, voxel for voxel."
            )
    elif _is_dicom(path):
        array, own, notes = _read_dicom_seg(path, geometry, source_dicom_files)
        found = geometry  # placed on it, or refused
    else:
        beside = label_tables.find_table_beside(path)
        read = read_label_map(path)
        array, found, own = read.labels_zyx, read.geometry, read.table if beside else None
        if beside is not None:
            notes.append(f"The label names and colours come from {beside.name}.")
    difference = grid_difference(found, geometry)
    if difference is not None:
        raise _refuse_grid(path, difference)
    array = np.ascontiguousarray(array, dtype=np.uint8)
    top = int(array.max()) if array.size else 0
    if own is None:
        own = extend_table(table, top)
        if own.num_classes > table.num_classes:
            notes.append(
                f"{path.name} holds values up to {top}; classes {table.num_classes}..{top} were "
                "added to the label table."
            )
    elif top >= own.num_classes:
        own = extend_table(own, top)
    return OpenedSegmentation(LabelMap(array, geometry, own), tuple(notes))
