"""Reading and writing image and label volumes (the only SimpleITK user for pixel data).

SimpleITK indexes images x, y, z while ``GetArrayFromImage`` returns z, y, x arrays; the
conversion between ``sitk.Image`` and our ``Volume``/``LabelMap`` lives only in
``geometry_from_sitk`` / ``sitk_from_array`` so it is tested once, round trip, on an
anisotropic oblique grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

WRITABLE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".seg.nrrd", ".mha", ".mhd")


def geometry_from_sitk(image: sitk.Image) -> VolumeGeometry:
    """Read an image's grid.

    Args:
        image: a 3-D SimpleITK image.

    Returns:
        The geometry, with ``shape_zyx`` and ``spacing_zyx`` reversed from ITK's x, y, z order.
    """
    size_xyz = image.GetSize()
    spacing_xyz = image.GetSpacing()
    return VolumeGeometry(
        shape_zyx=(int(size_xyz[2]), int(size_xyz[1]), int(size_xyz[0])),
        spacing_zyx=(float(spacing_xyz[2]), float(spacing_xyz[1]), float(spacing_xyz[0])),
        origin_xyz=tuple(float(v) for v in image.GetOrigin()),  # type: ignore[arg-type]
        direction_xyz=tuple(float(v) for v in image.GetDirection()),
    )


def sitk_from_array(array_zyx: np.ndarray, geometry: VolumeGeometry) -> sitk.Image:
    """Build a SimpleITK image from a z, y, x array on a known grid.

    Args:
        array_zyx: array of shape ``geometry.shape_zyx``.
        geometry: the grid to stamp on the image.

    Returns:
        The image, with spacing, origin and direction set.
    """
    if tuple(array_zyx.shape) != tuple(geometry.shape_zyx):
        raise ValueError(f"array shape {array_zyx.shape} != grid {geometry.shape_zyx}")
    image = sitk.GetImageFromArray(np.ascontiguousarray(array_zyx))
    image.SetSpacing(tuple(reversed(geometry.spacing_zyx)))
    image.SetOrigin(geometry.origin_xyz)
    image.SetDirection(geometry.direction_xyz)
    return image


def _read_sitk(path: Path) -> sitk.Image:
    if not path.exists():
        raise InputError(f"File not found: {path}. Check the path and try again.")
    try:
        if path.is_dir():
            reader = sitk.ImageSeriesReader()
            series = reader.GetGDCMSeriesIDs(str(path))
            if not series:
                raise InputError(f"No DICOM series found in folder {path}.")
            files = reader.GetGDCMSeriesFileNames(str(path), series[0])
            reader.SetFileNames(files)
            return reader.Execute()
        return sitk.ReadImage(str(path))
    except InputError:
        raise
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unknown error"
        raise InputError(
            f"Cannot read {path} as an image ({first[:160]}). Check that it is a NIfTI, NRRD, "
            "MHA or DICOM file and that it is not truncated."
        ) from None


def _to_3d(image: sitk.Image, path: Path) -> sitk.Image:
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"{path.name} has {image.GetNumberOfComponentsPerPixel()} components per voxel "
            "(RGB or vector image); convert it to a single-channel grey volume first."
        )
    dim = image.GetDimension()
    if dim == 4:
        raise InputError(
            f"{path.name} is 4-D (size {image.GetSize()}); extract one time point or channel "
            "as a 3-D volume first."
        )
    if dim != 3:
        raise InputError(f"{path.name} is {dim}-D; a 3-D volume is needed.")
    if min(image.GetSize()) < 1 or int(np.prod(image.GetSize())) == 0:
        raise InputError(f"{path.name} is empty (size {image.GetSize()}).")
    return image


def _name_of(path: Path) -> str:
    name = path.name
    for suffix in (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_volume(path: str | Path) -> Volume:
    """Read a 3-D grey image volume.

    Args:
        path: a NIfTI, NRRD, MHA/MHD file, a DICOM file or a folder holding a DICOM series.

    Returns:
        The volume (``image_zyx`` as stored: integer or float dtype).

    Raises:
        InputError: missing, unreadable, non-3-D, multi-component or NaN/Inf-holding image.
    """
    path = Path(path)
    image = _to_3d(_read_sitk(path), path)
    array = sitk.GetArrayFromImage(image)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InputError(
            f"{path.name} has {bad} NaN or infinite voxels; replace them (e.g. with the minimum "
            "intensity) before training."
        )
    modality = _guess_modality(image, array)
    return Volume(array, geometry_from_sitk(image), name=_name_of(path), modality=modality)


def _guess_modality(image: sitk.Image, array: np.ndarray) -> str:
    if image.HasMetaDataKey("0008|0060"):
        value = image.GetMetaData("0008|0060").strip().upper()
        if value in ("CT", "MR"):
            return value
    if array.size and array.dtype.kind in "iuf" and float(array.min()) < -500:
        return "CT"
    return "unknown"


def read_label_map(
    path: str | Path, table: LabelTable | None = None, geometry: VolumeGeometry | None = None
) -> LabelMap:
    """Read a label volume.

    Args:
        path: any format ``read_volume`` reads; values must be whole numbers >= 0.
        table: the label table to check against; ``None`` builds a default one from the values.
        geometry: the image grid the labels must lie on, or ``None`` to skip the check.

    Returns:
        The label map, uint8.

    Raises:
        InputError: unreadable file, non-integer or negative values, values beyond ``table``,
            or a grid that differs from ``geometry``.
    """
    path = Path(path)
    image = _to_3d(_read_sitk(path), path)
    array = sitk.GetArrayFromImage(image)
    label_geometry = geometry_from_sitk(image)
    if geometry is not None and not label_geometry.matches(geometry):
        raise InputError(
            f"Labels {path.name} lie on another grid than the image (labels {label_geometry.shape_zyx} "
            f"spacing {label_geometry.spacing_zyx}, image {geometry.shape_zyx} spacing "
            f"{geometry.spacing_zyx}); resample the labels onto the image first."
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise InputError(f"{path.name} holds non-integer values; a label map needs whole numbers.")
    if array.size and array.min() < 0:
        raise InputError(f"{path.name} holds negative values; label values must be >= 0.")
    top = int(array.max()) if array.size else 0
    if table is None:
        table = LabelTable.default(max(top + 1, 2))
    elif top >= table.num_classes:
        raise InputError(
            f"{path.name} holds label value {top} but the label table has only values "
            f"0..{table.num_classes - 1}; add the missing classes or fix the labels."
        )
    if top > 255:
        raise InputError(f"{path.name} holds label value {top}; at most 255 labels are supported.")
    return LabelMap(array.astype(np.uint8), label_geometry, table)


def _check_writable(path: Path) -> None:
    if not path.name.lower().endswith(WRITABLE_SUFFIXES):
        raise InputError(
            f"Cannot write {path.name}: use one of {', '.join(WRITABLE_SUFFIXES)}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)


def write_array(path: str | Path, array_zyx: np.ndarray, geometry: VolumeGeometry) -> None:
    """Write an array on a grid to an image file (format from the suffix, compressed).

    Args:
        path: destination; ``.nii.gz``, ``.nii``, ``.nrrd``, ``.mha`` or ``.mhd``.
        array_zyx: array of shape ``geometry.shape_zyx``.
        geometry: grid of the source image, written exactly.

    Raises:
        InputError: unknown suffix or the file cannot be written.
    """
    path = Path(path)
    _check_writable(path)
    try:
        sitk.WriteImage(sitk_from_array(array_zyx, geometry), str(path), useCompression=True)
    except RuntimeError as err:
        raise InputError(f"Cannot write {path}: {str(err).strip()[:160]}") from None


def write_label_map(path: str | Path, label_map: LabelMap) -> None:
    """Write a label map as uint8 on its grid (see ``write_array``)."""
    write_array(path, label_map.labels_zyx.astype(np.uint8), label_map.geometry)
