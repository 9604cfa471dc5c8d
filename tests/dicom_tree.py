"""Tiny DICOM files written with pydicom: series with chosen patient, study and window tags, and
a folder tree with two studies, several series, a broken file and a non-DICOM file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


@dataclass(frozen=True)
class SeriesSpec:
    """What one written series holds (the tags a chooser shows)."""

    modality: str = "MR"
    description: str = "T1"
    number: int = 1
    patient: str = "Doe^Jane"
    patient_id: str = "P1"
    study_uid: str = "1.2.3.4"
    study_date: str = "20240131"
    study_description: str = "Head"
    window: tuple[float, ...] | None = (
        None  # centre(s) then width(s), as (c, w) or (c1, c2, w1, w2)
    )
    spacing_z: float = 2.0
    prefix: str = "img"


def _slice(spec: SeriesSpec, series_uid: str, pixels: np.ndarray, k: int) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CT_STORAGE if spec.modality == "CT" else MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID = spec.patient, spec.patient_id
    ds.StudyInstanceUID, ds.StudyDate = spec.study_uid, spec.study_date
    ds.StudyDescription, ds.Modality = spec.study_description, spec.modality
    ds.SeriesInstanceUID, ds.SeriesNumber = series_uid, spec.number
    ds.SeriesDescription, ds.InstanceNumber = spec.description, k + 1
    ds.FrameOfReferenceUID = spec.study_uid + ".0"
    ds.ImagePositionPatient = [0.0, 0.0, k * spec.spacing_z]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], spec.spacing_z
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    if spec.window is not None:
        half = len(spec.window) // 2
        centres, widths = list(spec.window[:half]), list(spec.window[half:])
        ds.WindowCenter = centres if half > 1 else centres[0]
        ds.WindowWidth = widths if half > 1 else widths[0]
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()
    return ds


def write_series(folder: Path, image_zyx: np.ndarray, spec: SeriesSpec) -> list[Path]:
    """Write ``image_zyx`` (Z, Y, X) as one single-frame file per z slice; returns the files."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    files = []
    for k in range(image_zyx.shape[0]):
        path = folder / f"{spec.prefix}_{k:03d}.dcm"
        _slice(spec, uid, image_zyx[k], k).save_as(path)
        files.append(path)
    return files


def series_uid_of(path: Path) -> str:
    """The SeriesInstanceUID of a written file."""
    return str(pydicom.dcmread(path, stop_before_pixels=True).SeriesInstanceUID)


def ramp(value: int, shape: tuple[int, int, int] = (4, 8, 8)) -> np.ndarray:
    """A (Z, Y, X) int16 volume ``value + z`` per slice, so slices and series tell apart."""
    z = np.arange(shape[0], dtype=np.int16)[:, None, None]
    return np.broadcast_to(value + z, shape).astype(np.int16)


def make_tree(root: Path) -> Path:
    """Two patients/studies, four series, a broken DICOM file and a non-DICOM file.

    - ``study_ct/``: CT series 2 "Chest" of Roe^Richard, 4 slices, values from -1000, header
      window centres 50 and 500, widths 350 and 2000 (the first pair is the one to use);
    - ``study_mr/``: two MR series of Doe^Jane on the same 4×8×8 grid in one folder, "T1"
      (number 1, values 100 + z, files ``a_*``) and "T2" (number 2, values 200 + z, ``b_*``):
      the case a plain folder open could not choose between;
    - ``study_mr/extra/``: MR series 3 "FLAIR", 3 slices, values 300 + z;
    - ``study_ct/broken.dcm``: a DICOM file cut inside its header; ``notes.txt``: text.

    Returns:
        ``root``.
    """
    ct = SeriesSpec("CT", "Chest", 2, "Roe^Richard", "P2", "1.2.9", "20230105", "Thorax")
    write_series(root / "study_ct", ramp(-1000), replace(ct, window=(50, 500, 350, 2000)))
    write_series(root / "study_mr", ramp(100), SeriesSpec(description="T1", number=1, prefix="a"))
    write_series(root / "study_mr", ramp(200), SeriesSpec(description="T2", number=2, prefix="b"))
    flair = SeriesSpec(description="FLAIR", number=3)
    write_series(root / "study_mr" / "extra", ramp(300, (3, 8, 8)), flair)
    whole = (root / "study_ct" / "img_000.dcm").read_bytes()
    (root / "study_ct" / "broken.dcm").write_bytes(whole[:200])
    (root / "notes.txt").write_text("not an image\n")
    return root
