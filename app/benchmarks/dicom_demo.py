"""A tiny DICOM folder tree for the DICOM browser screenshot: two patients, three CT series.

Written with pydicom (one 16-bit slice file per z slice, explicit VR little endian), from a
downsampled copy of whatever image is given (the screenshots pass the bundled chest CT), so
``scan_dicom_folder`` finds real series with patient, study and series tags to list.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid


@dataclass(frozen=True)
class DemoSeries:
    """One series of the demo tree (the tags the browser shows) and its sub-folder."""

    folder: str
    patient: str
    patient_id: str
    study: str
    study_date: str
    number: int
    description: str
    step: int  # keep every step-th z slice


DEMO_SERIES = (
    DemoSeries(
        "anon01/ct_chest", "Demo^Alice", "ANON01", "Chest CT", "20240312", 2, "Chest 10 mm", 1
    ),
    DemoSeries("anon01/ct_scout", "Demo^Alice", "ANON01", "Chest CT", "20240312", 1, "Scout", 8),
    DemoSeries(
        "anon02/followup", "Demo^Bob", "ANON02", "Follow-up", "20250107", 3, "Thorax low dose", 2
    ),
)


def _slice(series: DemoSeries, uids: tuple[str, str], pixels: np.ndarray, k: int) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID = series.patient, series.patient_id
    ds.StudyInstanceUID, ds.SeriesInstanceUID = uids
    ds.StudyDate, ds.StudyDescription, ds.Modality = series.study_date, series.study, "CT"
    ds.SeriesNumber, ds.SeriesDescription, ds.InstanceNumber = (
        series.number,
        series.description,
        k + 1,
    )
    ds.FrameOfReferenceUID = uids[0]
    ds.ImagePositionPatient = [0.0, 0.0, 10.0 * series.step * k]
    ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    ds.PixelSpacing, ds.SliceThickness = [6.0, 6.0], 10.0 * series.step
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope = 0, 1
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()
    return ds


def write_demo_tree(folder: Path, image_zyx: np.ndarray) -> list[Path]:
    """Write ``DEMO_SERIES`` under ``folder`` from ``image_zyx`` (Z, Y, X), halved in-plane.

    Returns:
        The series folders written, in the order of ``DEMO_SERIES``.
    """
    image = np.clip(image_zyx[:, ::2, ::2], -32768, 32767).astype(np.int16)
    study_uids: dict[str, str] = {}
    written = []
    for series in DEMO_SERIES:
        study_uid = study_uids.setdefault(series.patient_id + series.study, generate_uid())
        uids = (study_uid, generate_uid())
        target = folder / series.folder
        target.mkdir(parents=True, exist_ok=True)
        for k, plane in enumerate(image[:: series.step]):
            _slice(series, uids, plane, k).save_as(target / f"ct_{k:03d}.dcm")
        written.append(target)
    return written
