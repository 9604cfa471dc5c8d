"""DICOM series from a folder: list, choose, sort by position, check for gaps; and write one.

Slices are ordered by their position along the slice normal (``ImagePositionPatient`` projected
on the normal of ``ImageOrientationPatient``), never by file name. A series whose slice
positions are not evenly spaced (missing or duplicated slices) is refused with the gap named,
because reading it as a regular grid would put every slice after the gap in the wrong place.
"""

from __future__ import annotations

import locale
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.dicom_scan import series_files_of
from ugpcl_engine.io.itk_quiet import itk_reason, itk_warnings_off
from ugpcl_engine.io.sitk_images import sitk_from_array
from ugpcl_engine.volume import VolumeGeometry

# WindowCenter, WindowWidth: the display window the series was stored with
WINDOW_TAGS = ("0028|1050", "0028|1051")
# relative deviation of a slice gap from the median gap that counts as missing / uneven slices
GAP_TOLERANCE = 0.05


@dataclass(frozen=True)
class DicomSeriesInfo:
    """One series found in a folder.

    Attributes:
        uid: SeriesInstanceUID.
        description: SeriesDescription (may be empty).
        modality: Modality tag (``CT``, ``MR``, ...; may be empty).
        files: the series' files, sorted by slice position (inferior/first slice first).
    """

    uid: str
    description: str
    modality: str
    files: tuple[Path, ...]

    @property
    def num_files(self) -> int:
        """Number of files (slices) in the series."""
        return len(self.files)

    def describe(self) -> str:
        """One line for a message or a chooser: UID, description, modality, file count."""
        text = self.description or "no description"
        return f"{self.uid} ({text}, {self.modality or '?'}, {self.num_files} files)"


def _header(path: Path) -> sitk.ImageFileReader:
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.LoadPrivateTagsOff()
    with itk_warnings_off():
        reader.ReadImageInformation()
    return reader


def _tag(reader: sitk.ImageFileReader, key: str) -> str:
    return reader.GetMetaData(key).strip() if reader.HasMetaDataKey(key) else ""


def _numbers(text: str, count: int) -> np.ndarray | None:
    try:
        values = np.array([float(v) for v in text.replace("\\", " ").split()])
    except ValueError:
        return None
    return values if values.size == count else None


def _positions(reader: sitk.ImageSeriesReader, count: int) -> np.ndarray | None:
    """Each slice's position along the slice normal (mm), from the series reader's headers."""

    def tag(i: int, key: str) -> str:
        return str(reader.GetMetaData(i, key)) if reader.HasMetaDataKey(i, key) else ""

    orientation = _numbers(tag(0, "0020|0037"), 6)
    if orientation is None:
        return None
    normal = np.cross(orientation[:3], orientation[3:])
    out = []
    for i in range(count):
        position = _numbers(tag(i, "0020|0032"), 3)
        if position is None:
            return None
        out.append(float(np.dot(position, normal)))
    return np.array(out)


def _check_spacing(sorted_positions: np.ndarray, uid: str) -> None:
    """Refuse duplicated positions and uneven gaps (missing slices) in a sorted series."""
    gaps = np.diff(sorted_positions)
    if gaps.size == 0:
        return
    # the smallest gap is the true spacing when slices are only missing, never added
    step = float(np.min(gaps))
    if step <= 1e-6 * max(1.0, float(np.max(gaps))):
        raise InputError(
            f"DICOM series {uid} has several slices at the same position (duplicated or mixed "
            "acquisitions); remove the duplicates or export the series again."
        )
    uneven = np.flatnonzero(np.abs(gaps - step) > GAP_TOLERANCE * step)
    if uneven.size:
        first = int(uneven[0])
        missing = int(sum(max(round(gaps[i] / step) - 1, 0) for i in uneven))
        raise InputError(
            f"DICOM series {uid} has missing slices or uneven spacing: gap of {gaps[first]:.2f} mm "
            f"after slice {first + 1} of {gaps.size + 1} where the spacing is {step:.2f} mm "
            f"(about {missing} slice(s) missing); copy the complete series into the folder."
        )


def list_dicom_series(folder: str | Path) -> list[DicomSeriesInfo]:
    """List the DICOM series in a folder (not its subfolders).

    Args:
        folder: a folder holding DICOM files.

    Returns:
        The series, largest first, files in GDCM's position order (``read_dicom_series``
        checks and, if needed, corrects that order and the slice spacing).

    Raises:
        InputError: the folder is missing or holds no DICOM series.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Folder not found: {folder}. Check the path.")
    with itk_warnings_off():  # "No Series were found" would print before our message
        series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputError(
            f"No DICOM series found in folder {folder}; choose the folder that holds the .dcm "
            "files, or open a NIfTI/NRRD/MHA file instead."
        )
    found = []
    for uid in series_ids:
        with itk_warnings_off():
            names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), uid)
        files = tuple(Path(n) for n in names)
        first = _header(files[0])
        found.append(
            DicomSeriesInfo(uid, _tag(first, "0008|103e"), _tag(first, "0008|0060"), files)
        )
    return sorted(found, key=lambda s: -s.num_files)


def choose_series(series: Sequence[DicomSeriesInfo], uid: str | None) -> DicomSeriesInfo:
    """Pick a series by UID, or the largest when ``uid`` is None.

    Raises:
        InputError: unknown UID, or several series tie for largest (names them all).
    """
    listing = "; ".join(s.describe() for s in series)
    if uid is not None:
        for info in series:
            if info.uid == uid:
                return info
        raise InputError(f"No DICOM series with UID {uid} here; the folder holds: {listing}.")
    if len(series) > 1 and series[0].num_files == series[1].num_files:
        raise InputError(
            f"The folder holds {len(series)} DICOM series of the same size; choose one by its "
            f"UID: {listing}."
        )
    return series[0]


def _read_files(files: Sequence[Path], uid: str) -> tuple[sitk.ImageSeriesReader, sitk.Image]:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(f) for f in files])
    reader.MetaDataDictionaryArrayUpdateOn()
    # ITK's own "non uniform sampling" warning would only go to stderr; _check_spacing says more
    try:
        with itk_warnings_off():
            return reader, reader.Execute()
    except RuntimeError as err:
        raise InputError(
            f"Cannot read DICOM series {uid} ({itk_reason(err)}); check that the files "
            "are complete."
        ) from None


def read_dicom_series(folder: str | Path, series_uid: str | None = None) -> sitk.Image:
    """Read one DICOM series from a folder as a 3-D image.

    Args:
        folder: the folder.
        series_uid: SeriesInstanceUID to read; ``None`` reads the only or the largest series.

    Returns:
        The image, slices ordered by position, with spacing/origin/direction from the headers.

    Raises:
        InputError: see ``list_dicom_series`` and ``choose_series``; unreadable pixel data.
    """
    return _read_series(choose_series(list_dicom_series(folder), series_uid))


def read_series_of_file(path: str | Path) -> sitk.Image | None:
    """Read the whole series a single DICOM slice file belongs to (its folder's files of the
    same SeriesInstanceUID), as ``read_dicom_series`` reads a folder.

    Args:
        path: a file.

    Returns:
        The series as a 3-D image; None when ``path`` is not a single-frame DICOM image file
        with other slices of its series beside it (read it as a file on its own then).

    Raises:
        InputError: the series cannot be read (see ``read_dicom_series``).
    """
    files = series_files_of(path)
    if files is None or len(files) < 2:
        return None
    first = _header(files[0])
    uid = _tag(first, "0020|000e")
    return _read_series(DicomSeriesInfo(uid, _tag(first, "0008|103e"), "", files))


def _read_series(info: DicomSeriesInfo) -> sitk.Image:
    """Read a series' files, ordered by slice position, spacing checked, key tags kept."""
    reader, image = _read_files(info.files, info.uid)
    positions = _positions(reader, info.num_files)
    if positions is not None:
        order = np.argsort(positions, kind="stable")
        if np.any(order != np.arange(order.size)):  # GDCM fell back to another order
            reader, image = _read_files([info.files[int(i)] for i in order], info.uid)
        _check_spacing(positions[order], info.uid)
    keys = ("0008|0060", "0020|000e", "0020|0052", "0008|103e", *WINDOW_TAGS)
    tags = {k: reader.GetMetaData(0, k) for k in keys if reader.HasMetaDataKey(0, k)}
    del reader  # the reader shares the pixel buffer: drop it so tagging does not copy it
    for key, value in tags.items():
        image.SetMetaData(key, value)
    return image


def _new_uid() -> str:
    # 2.25 + a 128-bit random integer: a valid UID without an organisation root
    return "2.25." + str(int.from_bytes(np.random.default_rng().bytes(16), "big"))


def _series_tags(geometry: VolumeGeometry, modality: str, description: str) -> dict[str, str]:
    """Tags shared by every slice of a new series (patient, study, series, orientation)."""
    d = geometry.direction_xyz
    orientation = (d[0], d[3], d[6], d[1], d[4], d[7])  # row then column direction cosines
    day, now = time.strftime("%Y%m%d"), time.strftime("%H%M%S")
    return {
        "0008|0060": modality,
        "0008|103e": description,
        "0008|0008": "DERIVED\\SECONDARY",
        "0008|0020": day, "0008|0030": now, "0008|0021": day, "0008|0031": now,
        "0010|0010": "Anonymous^", "0010|0020": "ugpcl", "0010|0030": "", "0010|0040": "O",
        "0008|0050": "", "0008|0090": "", "0020|0010": "1", "0020|0011": "1",
        "0020|000e": _new_uid(),
        "0020|0037": "\\".join(f"{v:.10g}" for v in orientation),
        "0018|0050": f"{geometry.spacing_zyx[0]:.10g}",
    }  # fmt: skip


def _display_window(image_zyx: np.ndarray, modality: str) -> tuple[float, float]:
    """The WindowCenter/WindowWidth written: soft tissue for CT (HU), the 1-99 % intensity
    range otherwise (MR has no absolute unit; a CT window would show it black or white)."""
    if modality.upper() == "CT" or image_zyx.size == 0:
        return (40.0, 400.0)
    low, high = np.percentile(image_zyx, [1.0, 99.0])
    return (float(low + high) / 2.0, max(float(high - low), 1.0))


def write_dicom_series(
    image_zyx: np.ndarray,
    geometry: VolumeGeometry,
    folder: str | Path,
    *,
    modality: str = "CT",
    description: str = "ugpcl-studio",
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
) -> list[Path]:
    """Write a volume as a single-frame DICOM series (one int16 file per z slice).

    Args:
        image_zyx: array (Z, Y, X), cast to int16.
        geometry: its grid (written as ImagePositionPatient / ImageOrientationPatient / spacing).
        folder: destination folder (created); files are ``slice_0000.dcm`` ...
        modality: Modality tag.
        description: SeriesDescription.
        study_uid: StudyInstanceUID (new one when None).
        frame_of_reference_uid: FrameOfReferenceUID (new one when None).

    Returns:
        The files written, in z order.

    Raises:
        InputError: the folder cannot be written.
    """
    folder = Path(folder)
    image = sitk_from_array(np.asarray(image_zyx).astype(np.int16), geometry)
    common = _series_tags(geometry, modality, description)
    centre, width = _display_window(np.asarray(image_zyx), modality)
    common["0028|1050"], common["0028|1051"] = f"{centre:.6g}", f"{width:.6g}"
    common["0020|000d"] = study_uid or _new_uid()
    common["0020|0052"] = frame_of_reference_uid or _new_uid()
    try:
        with _locale_kept():
            return _write_slices(image, common, folder, geometry.shape_zyx[0])
    except OSError as err:
        raise InputError(f"Cannot write the DICOM series to {folder}: {err.strerror}.") from None
    except RuntimeError as err:
        raise InputError(f"Cannot write the DICOM series to {folder}: {itk_reason(err)}.") from None


@contextmanager
def _locale_kept() -> Iterator[None]:
    """Restore the process locale after GDCM: its writer leaves ``LC_CTYPE`` at ``C``, which
    turns Python's default text encoding into ASCII for the rest of the process."""
    saved = locale.setlocale(locale.LC_ALL)
    try:
        yield
    finally:
        locale.setlocale(locale.LC_ALL, saved)


def _write_slices(
    image: sitk.Image, common: dict[str, str], folder: Path, count: int
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    paths = []
    for k in range(count):
        slice_image = image[:, :, k]
        for key, value in common.items():
            slice_image.SetMetaData(key, value)
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        slice_image.SetMetaData("0020|0032", "\\".join(f"{v:.10g}" for v in position))
        slice_image.SetMetaData("0020|0013", str(k + 1))
        slice_image.SetMetaData("0008|0018", _new_uid())
        paths.append(folder / f"slice_{k:04d}.dcm")
        writer.SetFileName(str(paths[-1]))
        writer.Execute(slice_image)
    return paths
