"""Finding DICOM series in a folder tree by their headers only (pydicom, no pixel data).

``scan_dicom_folder`` walks a folder recursively and groups the image files by folder and
SeriesInstanceUID, with the patient, study and series fields a chooser shows. Files that are
not DICOM (no ``DICM`` marker) or whose header cannot be read as an image are skipped and
counted, never raised. ``series_files_of`` finds the files of one file's series beside it, so
that opening one slice opens its whole series.

A series spread over several folders is listed once per folder: what a row lists is exactly
what opening it reads (the files of that series in that folder).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ugpcl_engine.errors import CancelledError, InputError

if TYPE_CHECKING:
    import pydicom

# the header fields a scan reads (pydicom stops parsing after the last one it needs)
SCAN_TAGS = (
    "PatientName",
    "PatientID",
    "StudyInstanceUID",
    "StudyDate",
    "StudyDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "SeriesDescription",
    "Modality",
    "Rows",
    "NumberOfFrames",
)
_PREAMBLE = 128  # bytes before the "DICM" marker of a DICOM Part 10 file


@dataclass(frozen=True)
class DicomSeriesEntry:
    """One series found by a scan (the files of one SeriesInstanceUID in one folder).

    Attributes:
        patient_name: PatientName as text (``^`` between name parts; may be empty).
        patient_id: PatientID (may be empty).
        study_uid: StudyInstanceUID.
        study_date: StudyDate as written (``YYYYMMDD``; may be empty).
        study_description: StudyDescription (may be empty).
        series_uid: SeriesInstanceUID.
        series_number: SeriesNumber, or None when missing.
        series_description: SeriesDescription (may be empty).
        modality: Modality (``CT``, ``MR``, ...; may be empty).
        folder: the folder holding the files.
        files: the series' files, sorted by name (reading orders them by position).
        slices: number of image frames (one per file, ``NumberOfFrames`` for multi-frame).
    """

    patient_name: str
    patient_id: str
    study_uid: str
    study_date: str
    study_description: str
    series_uid: str
    series_number: int | None
    series_description: str
    modality: str
    folder: Path
    files: tuple[Path, ...]
    slices: int

    @property
    def study_date_text(self) -> str:
        """The study date as ``YYYY-MM-DD`` (the raw text when not 8 digits)."""
        d = self.study_date
        return f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 and d.isdigit() else d

    def sort_key(self) -> tuple[str, str, str, str, int, str, str]:
        """Patient, study date, study, then series number and description."""
        number = self.series_number if self.series_number is not None else 1 << 30
        return (
            self.patient_name.lower(),
            self.patient_id,
            self.study_date,
            self.study_uid,
            number,
            self.series_description.lower(),
            str(self.folder),
        )


@dataclass(frozen=True)
class DicomScan:
    """What a scan found.

    Attributes:
        folder: the folder scanned.
        series: the series found, sorted by ``DicomSeriesEntry.sort_key``.
        files_seen: files looked at.
        not_dicom: files skipped that are not DICOM (no ``DICM`` marker).
        unreadable: DICOM files skipped: a header that cannot be read, or no image in it
            (reports, DICOMDIR, broken or truncated headers).
        examples: up to five skipped files, relative to ``folder``, for a message.
    """

    folder: Path
    series: tuple[DicomSeriesEntry, ...]
    files_seen: int
    not_dicom: int = 0
    unreadable: int = 0
    examples: tuple[str, ...] = field(default=(), compare=False)

    def summary(self) -> str:
        """One line: series and files found, files skipped and why."""
        text = f"{len(self.series)} series in {self.files_seen} files"
        skipped = []
        if self.not_dicom:
            skipped.append(f"{self.not_dicom} not DICOM")
        if self.unreadable:
            skipped.append(f"{self.unreadable} unreadable or without an image")
        return text + (f"; skipped {', '.join(skipped)}" if skipped else "")


def _is_dicom_file(path: Path) -> bool:
    try:
        if not path.is_file():  # a FIFO or device would block open() or never end
            return False
        with path.open("rb") as f:
            f.seek(_PREAMBLE)
            return f.read(4) == b"DICM"
    except OSError:
        return False


Header = dict[str, str]


def _text(ds: pydicom.Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _read_header(path: Path) -> Header | None:
    """The scan fields of an image file's header as text, or None when it holds no readable
    image. The values are converted here, inside the warning filter (pydicom converts lazily).
    pydicom is imported here, on the first scan: opening the app does not pay for it."""
    import pydicom

    try:
        with warnings.catch_warnings():  # odd but readable headers are not the user's concern
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(SCAN_TAGS))
            header = {keyword: _text(ds, keyword) for keyword in SCAN_TAGS}
    except Exception:  # a damaged header raises many types (NotImplementedError for an unknown
        return None  # VR, struct.error, BytesLengthException...): skip the file, never the scan
    if not header["SeriesInstanceUID"] or not header["Rows"]:
        return None
    return header


def _number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _frames(header: Header) -> int:
    return max(_number(header["NumberOfFrames"]) or 1, 1)


def _entry(folder: Path, members: list[tuple[Path, Header]]) -> DicomSeriesEntry:
    members.sort(key=lambda m: m[0].name)
    first = members[0][1]
    return DicomSeriesEntry(
        patient_name=first["PatientName"],
        patient_id=first["PatientID"],
        study_uid=first["StudyInstanceUID"],
        study_date=first["StudyDate"],
        study_description=first["StudyDescription"],
        series_uid=first["SeriesInstanceUID"],
        series_number=_number(first["SeriesNumber"]),
        series_description=first["SeriesDescription"],
        modality=first["Modality"].upper(),
        folder=folder,
        files=tuple(path for path, _ in members),
        slices=sum(_frames(header) for _, header in members),
    )


def _list_files(folder: Path, is_cancelled: Callable[[], bool]) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        if is_cancelled():
            raise CancelledError("DICOM scan cancelled")
        dirs.sort()
        found += [Path(root) / n for n in sorted(names)]
    return found


def scan_dicom_folder(
    folder: str | Path,
    *,
    progress: Callable[[int, int], None] | None = None,
    is_cancelled: Callable[[], bool] | None = None,
) -> DicomScan:
    """Find the DICOM series under a folder (recursively), reading headers only.

    Args:
        folder: the folder to scan.
        progress: called with (files read, files in all) as the scan goes.
        is_cancelled: polled between files; True stops the scan.

    Returns:
        The series (sorted by patient, study date, study, series number) and the counts of
        files looked at and skipped.

    Raises:
        InputError: the folder does not exist.
        CancelledError: ``is_cancelled`` returned True.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"Folder not found: {folder}. Choose a folder that holds DICOM files.")
    stop = is_cancelled or (lambda: False)
    files = _list_files(folder, stop)
    groups: dict[tuple[Path, str], list[tuple[Path, Header]]] = {}
    not_dicom = unreadable = 0
    examples: list[str] = []
    for done, path in enumerate(files, 1):
        if stop():
            raise CancelledError("DICOM scan cancelled")
        is_dicom = _is_dicom_file(path)
        ds = _read_header(path) if is_dicom else None
        if ds is not None:
            key = (path.parent, ds["SeriesInstanceUID"])
            groups.setdefault(key, []).append((path, ds))
        elif is_dicom:
            unreadable += 1
        else:
            not_dicom += 1
        if ds is None and len(examples) < 5:
            examples.append(str(path.relative_to(folder)))
        if progress is not None:
            progress(done, len(files))
    series = sorted((_entry(k[0], v) for k, v in groups.items()), key=DicomSeriesEntry.sort_key)
    return DicomScan(folder, tuple(series), len(files), not_dicom, unreadable, tuple(examples))


def series_files_of(path: str | Path) -> tuple[Path, ...] | None:
    """The files of the series a single-frame DICOM image file belongs to, in its folder.

    Args:
        path: a file.

    Returns:
        The files beside ``path`` (``path`` included) with its SeriesInstanceUID, sorted by
        name; None when ``path`` is not a DICOM Part 10 image file or is multi-frame (it is
        then a volume by itself).
    """
    path = Path(path)
    if not _is_dicom_file(path):
        return None
    ds = _read_header(path)
    if ds is None or _frames(ds) > 1:
        return None
    uid = ds["SeriesInstanceUID"]
    same = []
    for other in sorted(path.parent.iterdir()):
        if other == path:
            same.append(path)
            continue
        if not other.is_file() or not _is_dicom_file(other):
            continue
        header = _read_header(other)
        if header is not None and _frames(header) == 1:
            same += [other] if header["SeriesInstanceUID"] == uid else []
    return tuple(same)
