"""Reading and writing image and label volumes (SimpleITK for pixel data).

The xyz ↔ zyx conversion between ``sitk.Image`` and our ``Volume``/``LabelMap`` is
``io.sitk_images`` (``geometry_from_sitk`` / ``sitk_from_array``), the module below this one,
``dicom_series`` and ``label_tables``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.io import label_tables, nifti_check
from ugpcl_engine.io.declared_size import check_declared_size
from ugpcl_engine.io.dicom_series import WINDOW_TAGS, read_dicom_series, read_series_of_file
from ugpcl_engine.io.itk_quiet import itk_reason, itk_warnings_off
from ugpcl_engine.io.seg_nrrd import read_seg_nrrd, write_seg_nrrd
from ugpcl_engine.io.sitk_images import geometry_from_sitk, sitk_from_array
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

# marks an image read as the series of a slice file (named after its folder and description)
_SERIES_OF_FILE = "ugpcl|series_of_file"
WRITABLE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".seg.nrrd", ".mha", ".mhd")


def _read_sitk(path: Path, series_uid: str | None = None) -> sitk.Image:
    with itk_warnings_off():  # ITK's warning lines would come before our one-line error
        return _open_image(path, series_uid)


def _open_image(path: Path, series_uid: str | None) -> sitk.Image:
    if not path.exists():
        raise InputError(f"File not found: {path}. Check the path and try again.")
    if path.is_dir():
        return read_dicom_series(path, series_uid)
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is an empty file (0 bytes); it holds no image.")
    series = read_series_of_file(path)  # one slice of a series opens the whole series
    if series is not None:
        series.SetMetaData(_SERIES_OF_FILE, "1")
        return series
    if path.name.lower().endswith((".nii", ".nii.gz")):
        layout = nifti_check.nifti_layout(path)
        if layout is not None:
            nifti_check.check_nifti_complete(path, layout)
    check_declared_size(path)
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise InputError(
            f"Cannot read {path.name} as an image ({itk_reason(err)}). Check that it is a "
            "NIfTI, NRRD, MHA or DICOM file and that it is complete (not truncated)."
        ) from None


def _pick_component(image: sitk.Image, path: Path, component: int | None) -> sitk.Image:
    count = image.GetNumberOfComponentsPerPixel()
    if count == 1:
        return image
    if component is None:
        raise InputError(
            f"{path.name} has {count} components per voxel (RGB or vector image); choose one "
            f"component, 0..{count - 1}, to read it as a grey volume."
        )
    if not 0 <= component < count:
        raise InputError(f"{path.name} has components 0..{count - 1}; {component} is not one.")
    return sitk.VectorIndexSelectionCast(image, component)


def _pick_time_point(image: sitk.Image, path: Path, time_point: int | None) -> sitk.Image:
    size = list(image.GetSize())
    if time_point is None:
        raise InputError(
            f"{path.name} is 4-D (size {tuple(size)}, {size[3]} time points or channels); choose "
            f"a time point, 0..{size[3] - 1}, to read one 3-D volume."
        )
    if not 0 <= time_point < size[3]:
        raise InputError(f"{path.name} has time points 0..{size[3] - 1}; {time_point} is not one.")
    return sitk.Extract(image, [*size[:3], 0], [0, 0, 0, time_point])


def _to_3d(
    image: sitk.Image, path: Path, component: int | None = None, time_point: int | None = None
) -> sitk.Image:
    if 0 in image.GetSize():
        raise InputError(f"{path.name} is empty (size {image.GetSize()}); it holds no voxels.")
    image = _pick_component(image, path, component)
    dim = image.GetDimension()
    if dim == 4:
        image = _pick_time_point(image, path, time_point)
    elif dim == 2:  # a single 2-D image becomes a one-slice volume
        image = sitk.JoinSeries(image)
    elif dim != 3:
        raise InputError(f"{path.name} is {dim}-D; a 3-D volume is needed.")
    return image


def _name_of(path: Path, image: sitk.Image) -> str:
    if image.HasMetaDataKey(_SERIES_OF_FILE):  # a series, not the slice file named
        description = (
            str(image.GetMetaData("0008|103e")) if image.HasMetaDataKey("0008|103e") else ""
        )
        words = [path.parent.name, re.sub(r"[^\w.-]+", "_", description.strip()).strip("_")]
        return "_".join(w for w in words if w) or path.stem
    name = path.name
    for suffix in (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def read_volume(
    path: str | Path,
    component: int | None = None,
    time_point: int | None = None,
    *,
    series_uid: str | None = None,
    replace_nonfinite: float | None = None,
) -> Volume:
    """Read a 3-D grey image volume.

    Args:
        path: a NIfTI, NRRD, MHA/MHD file, a DICOM file (one slice of a series reads the
            series' files in its folder) or a folder holding a DICOM series.
        component: for RGB/vector images, the component to read (refused without one).
        time_point: for 4-D images, the time point (or channel) to read (refused without one).
        series_uid: for a DICOM folder, the SeriesInstanceUID (default: the only/largest one).
        replace_nonfinite: value written over NaN/Inf voxels; ``None`` refuses such images.

    Returns:
        The volume (``image_zyx`` as stored: integer or float dtype; ``header_window`` from
        the DICOM header's WindowCenter/WindowWidth when it has them).

    Raises:
        InputError: missing, empty, corrupt or non-image file; 4-D or vector image without a
            choice; NaN/Inf voxels without ``replace_nonfinite``; bad DICOM folder.
    """
    path = Path(path)
    image = _to_3d(_read_sitk(path, series_uid), path, component, time_point)
    array = sitk.GetArrayFromImage(image)
    bad = _nonfinite_mask(path, array)
    if bad is not None:
        if replace_nonfinite is None:
            raise InputError(
                f"{path.name} has {int(np.count_nonzero(bad))} NaN or infinite voxels; choose a "
                "value to replace them with (e.g. the minimum intensity) or fix the file."
            )
        array[bad] = replace_nonfinite
    modality = _guess_modality(image, array)
    return Volume(
        array,
        geometry_from_sitk(image),
        name=_name_of(path, image),
        modality=modality,
        header_window=_header_window(image),
    )


def _header_window(image: sitk.Image) -> tuple[float, float] | None:
    """(centre, width) from DICOM WindowCenter/WindowWidth (the first of several), or None."""
    values = []
    for key in WINDOW_TAGS:
        text = str(image.GetMetaData(key)) if image.HasMetaDataKey(key) else ""
        try:
            values.append(float(text.replace("\\", " ").split()[0]))
        except (IndexError, ValueError):
            return None
    centre, width = values
    if not (np.isfinite(centre) and np.isfinite(width)) or width <= 0:
        return None
    return (centre, width)


def _nonfinite_mask(path: Path, array_zyx: np.ndarray) -> np.ndarray | None:
    """Mask (Z, Y, X) of NaN/Inf voxels, or None; NIfTI is scanned raw (ITK zeroes NaNs)."""
    if array_zyx.dtype.kind != "f":
        return None
    mask = ~np.isfinite(array_zyx)
    if path.is_file() and path.name.lower().endswith((".nii", ".nii.gz")):
        layout = nifti_check.nifti_layout(path)
        raw = (
            None
            if layout is None
            else nifti_check.nonfinite_mask_zyx(path, layout, array_zyx.shape)
        )
        if raw is not None:
            mask |= raw
    return mask if mask.any() else None


def _guess_modality(image: sitk.Image, array: np.ndarray) -> str:
    if image.HasMetaDataKey("0008|0060"):
        value = str(image.GetMetaData("0008|0060")).strip().upper()
        if value in ("CT", "MR"):
            return value
    if array.size and array.dtype.kind in "iuf" and float(array.min()) < -500:
        return "CT"
    return "unknown"


def _label_array(image: sitk.Image, path: Path) -> tuple[np.ndarray, sitk.Image]:
    """Return the label values (Z, Y, X) and the 3-D image they came from (a 2-D label image
    becomes one slice, as in ``read_volume``; vector and 4-D images are refused)."""
    image = _to_3d(image, path)
    return sitk.GetArrayFromImage(image), image


def read_seg_nrrd_labels(
    path: Path, flatten_layers: bool
) -> tuple[np.ndarray, VolumeGeometry, LabelTable | None, list[str]]:
    """Read a Slicer ``.seg.nrrd`` (through ``slicerio``) as one label map.

    Returns:
        ``(labels_zyx, geometry, table, notes)``: ``notes`` tells, for a multi-layer file, which
        segments overlapped, which one was kept and on how many voxels.

    Raises:
        InputError: unreadable file, or overlapping layers without ``flatten_layers``.
    """
    array, geometry, segments = read_seg_nrrd(path)
    if array.ndim == 3:
        _check_label_values(array, path)  # before any uint8 cast: 256 must not become 0
        return array, geometry, label_tables.table_from_segments(segments) if segments else None, []
    layers = array.shape[3]
    if not flatten_layers:
        raise InputError(
            f"{path.name} holds {len(segments)} segments on {layers} overlapping layers; "
            "flatten them into one label map (where segments overlap, the later one is kept) "
            "or save the segmentation without overlaps in Slicer."
        )
    labels, table, _overlap = label_tables.flatten_layers(array, segments)
    notes = [
        f"{path.name}: its {len(segments)} segments lie on {layers} overlapping layers; each "
        "segment became a class of its own."
    ]
    for lost, kept, voxels in label_tables.layer_overlaps(array, segments, labels):
        notes.append(
            f"'{segments[lost].name}' and '{segments[kept].name}' overlap in {voxels} voxels; "
            f"'{segments[kept].name}' (later in the file) was kept there."
        )
    return labels, geometry, table, notes


def read_label_map(
    path: str | Path,
    table: LabelTable | None = None,
    geometry: VolumeGeometry | None = None,
    *,
    flatten_layers: bool = False,
    series_uid: str | None = None,
) -> LabelMap:
    """Read a label volume with its names and colours.

    The table comes from, in order: ``table``; the file's own ``.seg.nrrd`` segment header; a
    table file beside it (``<stem>_labels.txt`` or ``<stem>.ctbl``); default names.

    Args:
        path: any format ``read_volume`` reads; values must be whole numbers 0..255.
        table: the label table to check against, or ``None`` (see above).
        geometry: the image grid the labels must lie on, or ``None`` to skip the check
            (``resample_labels_to`` moves labels onto another grid).
        flatten_layers: merge the overlapping layers of a multi-layer ``.seg.nrrd``; refused
            when False.
        series_uid: for a DICOM folder, which series.

    Returns:
        The label map, uint8.

    Raises:
        InputError: unreadable file, overlapping layers without ``flatten_layers``, non-integer
            or negative values, values beyond the table, or a grid that differs from ``geometry``.
    """
    path = Path(path)
    if path.name.lower().endswith(".seg.nrrd") and path.is_file():
        array, label_geometry, own_table, _notes = read_seg_nrrd_labels(path, flatten_layers)
    else:
        array, image = _label_array(_read_sitk(path, series_uid), path)
        label_geometry, own_table = geometry_from_sitk(image), None
    if geometry is not None and not label_geometry.matches(geometry):
        raise InputError(
            f"Labels {path.name} lie on another grid than the image (labels "
            f"{label_geometry.shape_zyx} spacing {label_geometry.spacing_zyx}, image "
            f"{geometry.shape_zyx} spacing {geometry.spacing_zyx}); resample the labels onto "
            "the image grid (nearest neighbour) or pick the matching image."
        )
    _check_label_values(array, path)
    if table is None:
        beside = label_tables.find_table_beside(path)
        table = own_table or (label_tables.read_label_table(beside) if beside else None)
    top = int(array.max())
    if table is None:
        table = LabelTable.default(max(top + 1, 2))
    elif top >= table.num_classes:
        raise InputError(
            f"{path.name} holds label value {top} but the label table has only values "
            f"0..{table.num_classes - 1}; add the missing classes or fix the labels."
        )
    return LabelMap(array.astype(np.uint8), label_geometry, table)


def _check_label_values(array: np.ndarray, path: Path) -> None:
    if array.dtype.kind == "f" and (
        not np.all(np.isfinite(array)) or not np.all(array == np.round(array))
    ):
        raise InputError(f"{path.name} holds non-integer values; a label map needs whole numbers.")
    if array.dtype.kind not in "iuf" or array.ndim != 3:
        raise InputError(f"{path.name} is not a single-channel 3-D label volume.")
    if array.min() < 0:
        raise InputError(f"{path.name} holds negative values; label values must be >= 0.")
    if array.max() > label_tables.MAX_LABEL_VALUE:
        raise InputError(
            f"{path.name} holds label value {int(array.max())}; at most 255 labels are supported."
        )


def resample_labels_to(label_map: LabelMap, geometry: VolumeGeometry) -> LabelMap:
    """Move a label map onto another grid by nearest-neighbour resampling.

    Args:
        label_map: labels on their own grid.
        geometry: the target (image) grid.

    Returns:
        Labels of shape ``geometry.shape_zyx``; voxels outside the source grid are 0.
    """
    reference = sitk.Image([int(v) for v in reversed(geometry.shape_zyx)], sitk.sitkUInt8)
    reference.SetSpacing(tuple(reversed(geometry.spacing_zyx)))
    reference.SetOrigin(geometry.origin_xyz)
    reference.SetDirection(geometry.direction_xyz)
    moved = sitk.Resample(
        sitk_from_array(label_map.labels_zyx.astype(np.uint8), label_map.geometry),
        reference,
        sitk.Transform(),
        sitk.sitkNearestNeighbor,
        0,
        sitk.sitkUInt8,
    )
    return LabelMap(sitk.GetArrayFromImage(moved), geometry, label_map.table)


def check_writable_suffix(path: str | Path, extra: tuple[str, ...] = ()) -> None:
    """Refuse a destination whose suffix names no format the data layer writes.

    Args:
        path: the destination file.
        extra: further accepted suffixes (``.dcm`` where a DICOM-SEG writer takes it).

    Raises:
        InputError: unknown suffix; the message lists the known ones.
    """
    name = Path(path).name
    known = (*WRITABLE_SUFFIXES, *extra)
    if not name.lower().endswith(known):
        raise InputError(f"Cannot write {name}: unknown file type; use one of {', '.join(known)}.")


def _check_writable(path: Path) -> None:
    check_writable_suffix(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"Cannot create folder {path.parent}: {err.strerror}.") from None


def write_array(
    path: str | Path,
    array_zyx: np.ndarray,
    geometry: VolumeGeometry,
    *,
    header_fields: Mapping[str, str] | None = None,
) -> None:
    """Write an array on a grid to an image file (format from the suffix, compressed).

    Args:
        path: destination; ``.nii.gz``, ``.nii``, ``.nrrd``, ``.seg.nrrd``, ``.mha`` or ``.mhd``.
        array_zyx: array of shape ``geometry.shape_zyx``.
        geometry: grid of the source image, written exactly.
        header_fields: extra key/value header fields (kept by NRRD and MHA, e.g. Slicer's
            ``Segment*`` fields).

    Raises:
        InputError: unknown suffix or the file cannot be written.
    """
    path = Path(path)
    _check_writable(path)
    image = sitk_from_array(array_zyx, geometry)
    for key, value in (header_fields or {}).items():
        image.SetMetaData(key, value)
    try:
        with itk_warnings_off():
            sitk.WriteImage(image, str(path), useCompression=True)
    except RuntimeError as err:
        raise InputError(f"Cannot write {path}: {itk_reason(err)}.") from None


def write_label_map(path: str | Path, label_map: LabelMap) -> None:
    """Write a label map as uint8 on its grid (see ``write_array``).

    A ``.seg.nrrd`` destination is written by ``slicerio`` with Slicer's segment header (names,
    colours, extents, DICOM codes) so that Slicer shows the classes by name.
    """
    labels = label_map.labels_zyx.astype(np.uint8)
    if str(path).lower().endswith(".seg.nrrd"):
        _check_writable(Path(path))
        write_seg_nrrd(path, labels, label_map.geometry, label_map.table)
        return
    write_array(path, labels, label_map.geometry)
