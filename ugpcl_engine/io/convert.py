"""``ugpcl-studio convert IN OUT [--labels]``: image or label conversion keeping the geometry.

IN: NIfTI, NRRD, ``.seg.nrrd``, MHA/MHD, a DICOM file or a DICOM series folder.
OUT by suffix: ``.nii.gz``/``.nii``/``.nrrd``/``.seg.nrrd``/``.mha``/``.mhd``; a folder (no
suffix) for a DICOM series (images); ``.dcm`` for a DICOM-SEG (labels, with ``--reference`` the
source DICOM folder). Label conversions write the label table beside OUT
(``<stem>_labels.txt``, ITK-SNAP format).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.dicom_series import choose_series, list_dicom_series, write_dicom_series
from ugpcl_engine.io.label_tables import table_path_beside
from ugpcl_engine.io.output_paths import staged_outputs
from ugpcl_engine.io.segmentation_export import export_segmentation
from ugpcl_engine.io.volume_files import (
    WRITABLE_SUFFIXES,
    read_label_map,
    read_volume,
    write_array,
)
from ugpcl_engine.volume import VolumeGeometry

KNOWN_SUFFIXES = (*WRITABLE_SUFFIXES, ".dcm")


def _is_series_folder(text: str) -> bool:
    """OUT names a folder (a DICOM series): an existing folder, a trailing ``/`` or no suffix.

    Raises:
        InputError: a file name whose suffix is no known format (``c.xyz``).
    """
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return True
    if path.name.lower().endswith(KNOWN_SUFFIXES):
        return False
    if not path.suffix:
        return True
    raise InputError(
        f"Cannot write {path.name}: unknown file type '{path.suffix}'; use one of "
        f"{', '.join(WRITABLE_SUFFIXES)}, .dcm (DICOM-SEG, labels), or for a DICOM series "
        "(images) a folder name without an extension or ending in /."
    )


def _check_destination(args: argparse.Namespace, out: Path, series: bool) -> None:
    """Refuse, before reading anything, an OUT that does not fit an image or a label map."""
    is_dcm = not series and out.name.lower().endswith(".dcm")
    if args.labels and series:
        raise InputError(
            f"Cannot write labels to the folder {out}: give a file name ending in "
            f"{', '.join(WRITABLE_SUFFIXES)} or .dcm (DICOM-SEG)."
        )
    if args.labels and is_dcm and args.reference is None:
        raise InputError(
            "Writing a DICOM-SEG needs the source DICOM series: add --reference FOLDER."
        )
    if not args.labels and is_dcm:
        raise InputError(
            "A single .dcm output is only for label maps (DICOM-SEG); give a folder name to "
            "write the image as a DICOM series."
        )


def _convert_labels(args: argparse.Namespace, source: Path, out: Path) -> VolumeGeometry:
    label_map = read_label_map(source, flatten_layers=args.flatten, series_uid=args.series)
    files = None
    if out.name.lower().endswith(".dcm"):
        files = choose_series(list_dicom_series(args.reference), None).files
    export_segmentation(label_map, out, source_dicom_files=files)
    return label_map.geometry


def _convert_image(
    args: argparse.Namespace, source: Path, out: Path, series: bool
) -> VolumeGeometry:
    volume = read_volume(source, args.component, args.time_point, series_uid=args.series)
    if series:
        modality = volume.modality if volume.modality != "unknown" else "OT"
        write_dicom_series(volume.image_zyx, volume.geometry, out, modality=modality)
    else:
        write_array(out, volume.image_zyx, volume.geometry)
    return volume.geometry


def convert_command(args: argparse.Namespace) -> int:
    """Run ``convert``: read IN (image, or labels with ``--labels``) and write OUT.

    OUT is checked before IN is read (known format, not IN itself, writable) and written
    under a hidden name first: a failed conversion leaves nothing at OUT.

    Args:
        args: the parsed ``convert`` namespace (``input``, ``output``, ``labels``, ``series``,
            ``component``, ``time_point``, ``flatten``, ``reference``).

    Returns:
        0 on success (one summary line on stdout).

    Raises:
        InputError: any bad input or output (the CLI prints it and exits with 2).
    """
    source, out = Path(args.input), Path(args.output)
    series = _is_series_folder(args.output)
    _check_destination(args, out, series)
    table = {} if series or not args.labels else {"OUT's label table": table_path_beside(out)}
    inputs = {"IN": source, "--reference": args.reference}
    with staged_outputs(
        {"OUT": out}, inputs, also_written=table, folders={"OUT"} if series else ()
    ) as staged:
        if args.labels:
            geometry = _convert_labels(args, source, staged["OUT"])
        else:
            geometry = _convert_image(args, source, staged["OUT"], series)
    kind = "labels" if args.labels else "image"
    print(
        f"wrote {kind} {out} (shape zyx {geometry.shape_zyx}, spacing zyx "
        f"{tuple(round(s, 4) for s in geometry.spacing_zyx)})"
    )
    return 0
