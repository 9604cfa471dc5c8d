"""Export a segmentation on the source geometry, with its label table written beside it.

Formats by suffix: ``.nii.gz`` / ``.nii`` (NIfTI), ``.nrrd``, ``.seg.nrrd`` (Slicer segment
header with names and colours), ``.mha`` / ``.mhd``, and ``.dcm`` (DICOM-SEG, which needs the
source DICOM files). Beside every file except DICOM-SEG goes a label table,
``<stem>_labels.txt`` (ITK-SNAP) or ``<stem>.ctbl`` (Slicer colour table).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ugpcl_engine.errors import InputError
from ugpcl_engine.io import label_tables
from ugpcl_engine.io.output_paths import staged_outputs
from ugpcl_engine.io.volume_files import WRITABLE_SUFFIXES, write_label_map
from ugpcl_engine.volume import LabelMap, VolumeGeometry

EXPORT_SUFFIXES = (*WRITABLE_SUFFIXES, ".dcm")
TABLE_FORMATS = ("itksnap", "ctbl", "none")


def export_segmentation(
    label_map: LabelMap,
    out_path: str | Path,
    *,
    source_geometry: VolumeGeometry | None = None,
    table_format: str = "itksnap",
    source_dicom_files: Sequence[str | Path] | None = None,
) -> list[Path]:
    """Write a label map and its label table.

    Args:
        label_map: labels (Z, Y, X) with names and colours.
        out_path: destination; its suffix picks the format (see the module docstring).
        source_geometry: the source image's grid; when given, the labels must lie on it, so
            the export lines up with the original scan in any viewer.
        table_format: ``"itksnap"``, ``"ctbl"`` or ``"none"`` (no table file).
        source_dicom_files: the source series' files, needed for ``.dcm`` (DICOM-SEG).

    The label file and its table are written under hidden names and moved into place together:
    a failure leaves neither behind.

    Returns:
        The files written (label file first).

    Raises:
        InputError: unknown suffix or table format, labels off the source grid, DICOM-SEG
            without source files, or a write failure.
    """
    out_path = Path(out_path)
    lower = out_path.name.lower()
    if not lower.endswith(EXPORT_SUFFIXES):
        raise InputError(
            f"Cannot export to {out_path.name}: use one of {', '.join(EXPORT_SUFFIXES)}."
        )
    if table_format not in TABLE_FORMATS:
        raise InputError(f"Unknown label table format '{table_format}': use itksnap, ctbl or none.")
    if source_geometry is not None and not label_map.geometry.matches(source_geometry):
        raise InputError(
            "The segmentation is not on the source image's grid; resample it onto the image "
            "before exporting so that it lines up in other viewers."
        )
    if lower.endswith(".dcm"):
        if not source_dicom_files:
            raise InputError(
                "DICOM-SEG export needs the source DICOM series; open the image from its DICOM "
                "folder, or export to NIfTI, NRRD or MHA instead."
            )
        from ugpcl_engine.io.dicom_seg import write_dicom_seg

        with staged_outputs({"segmentation": out_path}) as staged:
            write_dicom_seg(label_map, source_dicom_files, staged["segmentation"])
        return [out_path]
    table = (
        None if table_format == "none" else label_tables.table_path_beside(out_path, table_format)
    )
    with staged_outputs({"segmentation": out_path, "label table": table}) as staged:
        write_label_map(staged["segmentation"], label_map)
        if table is not None:
            label_tables.write_label_table(staged["label table"], label_map.table)
    return [out_path] if table is None else [out_path, table]
