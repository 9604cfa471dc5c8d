"""Scanning a folder tree for DICOM series on the task runner (QtCore only).

``DicomScanTask`` reads headers only (``ugpcl_engine.scan_dicom_folder``), reports ``progress``
as (files read, files in all) and stops at the next file when cancelled. A dataset folder
(MSD / nnU-Net, SSL4MIS) is not scanned: the result is then None, meaning "open it as a
dataset", so that the check never blocks the GUI thread either.
"""

from __future__ import annotations

from pathlib import Path

from app.jobs.tasks import Task
from ugpcl_engine import DicomScan, is_dataset_folder, scan_dicom_folder


class DicomScanTask(Task):
    """Find the DICOM series under a folder.

    Args:
        folder: the folder to scan (recursively).
        datasets_too: when True a dataset folder gives None instead of a scan.

    ``finished`` carries the ``DicomScan`` (or None for a dataset folder).
    """

    kind = "dicom-scan"
    reassurance = "Nothing was opened; please report this with the folder that caused it."

    def __init__(self, folder: Path, datasets_too: bool = False) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.datasets_too = datasets_too

    def work(self) -> DicomScan | None:
        if self.datasets_too and is_dataset_folder(self.folder):
            return None
        return scan_dicom_folder(
            self.folder, progress=self.report_progress, is_cancelled=self.is_cancelled
        )
