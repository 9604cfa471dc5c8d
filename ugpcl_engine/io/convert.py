"""``ugpcl-studio convert IN OUT [--labels]``: image or label conversion keeping the geometry.

IN: NIfTI, NRRD, ``.seg.nrrd``, MHA/MHD, a DICOM file or a DICOM series folder.
OUT by suffix: ``.nii.gz``/``.nii``/``.nrrd``/``.seg.nrrd``/``.mha``/``.mhd``; a folder (no
suffix) for a DICOM series (images); ``.dcm`` for a DICOM-SEG (labels, with ``--reference`` the
source DICOM folder). Label conversions write the label table beside OUT
(``<stem>_labels.txt``, ITK-SNAP format).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.dicom_series import choose_series, list_dicom_series, write_dicom_series
from ugpcl_engine.io.segmentation_export import export_segmentation
from ugpcl_engine.io.volume_files import (
    WRITABLE_SUFFIXES,
    read_label_map,
    read_volume,
    write_array,
)
from ugpcl_engine.volume import VolumeGeometry


def _is_series_folder(path: Path) -> bool:
    return path.is_dir() or not any(
        path.name.lower().endswith(s) for s in (*WRITABLE_SUFFIXES, ".dcm")
    )


def _convert_labels(args: argparse.Namespace, source: Path, out: Path) -> VolumeGeometry:
    label_map = read_label_map(source, flatten_layers=args.flatten, series_uid=args.series)
    files = None
    if out.name.lower().endswith(".dcm"):
        if args.reference is None:
            raise InputError(
                "Writing a DICOM-SEG needs the source DICOM series: add --reference FOLDER."
            )
        files = choose_series(list_dicom_series(args.reference), None).files
    elif _is_series_folder(out):
        raise InputError(
            f"Cannot write labels to the folder {out}: give a file name ending in "
            f"{', '.join(WRITABLE_SUFFIXES)} or .dcm (DICOM-SEG)."
        )
    export_segmentation(label_map, out, source_dicom_files=files)
    return label_map.geometry


def _convert_image(args: argparse.Namespace, source: Path, out: Path) -> VolumeGeometry:
    volume = read_volume(source, args.component, args.time_point, series_uid=args.series)
    if out.name.lower().endswith(".dcm"):
        raise InputError(
            "A single .dcm output is only for label maps (DICOM-SEG); give a folder name to "
            "write the image as a DICOM series."
        )
    if _is_series_folder(out):
        modality = volume.modality if volume.modality != "unknown" else "OT"
        write_dicom_series(volume.image_zyx, volume.geometry, out, modality=modality)
    else:
        write_array(out, volume.image_zyx, volume.geometry)
    return volume.geometry


def convert_command(args: argparse.Namespace) -> int:
    """Run ``convert``: read IN (image, or labels with ``--labels``) and write OUT.

    Args:
        args: the parsed ``convert`` namespace (``input``, ``output``, ``labels``, ``series``,
            ``component``, ``time_point``, ``flatten``, ``reference``).

    Returns:
        0 on success (one summary line on stdout).

    Raises:
        InputError: any bad input or output (the CLI prints it and exits with 2).
    """
    source, out = Path(args.input), Path(args.output)
    if source.resolve() == out.resolve():
        raise InputError("IN and OUT are the same file; choose another output name.")
    convert = _convert_labels if args.labels else _convert_image
    geometry = convert(args, source, out)
    kind = "labels" if args.labels else "image"
    print(
        f"wrote {kind} {out} (shape zyx {geometry.shape_zyx}, spacing zyx "
        f"{tuple(round(s, 4) for s in geometry.spacing_zyx)})"
    )
    return 0
