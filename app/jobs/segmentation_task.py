"""Reading a segmentation for the shown volume as a background task (File › Open segmentation…).

The read is one blocking call, so progress comes in two steps (read, checked) and a cancel
takes effect when the read returns: the result is then dropped and the labels stay as they
were. Starting another read of the same kind cancels this one (``TaskRunner``).
"""

from __future__ import annotations

from pathlib import Path

from app.jobs.tasks import Task
from app.state.segmentation_import import read_segmentation
from ugpcl_engine import CancelledError, LabelTable, OpenedSegmentation, VolumeGeometry


class SegmentationReadTask(Task):
    """Read ``path`` for a volume of ``geometry`` on a pool thread.

    Args:
        path: the segmentation file.
        geometry: the volume's grid.
        table: the volume's label table when the read started.
        source_path: where the volume came from (a DICOM folder places a DICOM-SEG).

    Signals (``signals``): ``progress(done, 2)``; ``finished(OpenedSegmentation)``;
    ``failed(message)``; ``cancelled()``.
    """

    kind = "open-segmentation"
    reassurance = "Your labels are unchanged; please report this with the file that caused it."

    def __init__(
        self, path: Path, geometry: VolumeGeometry, table: LabelTable, source_path: Path | None
    ) -> None:
        super().__init__()
        self.path, self.geometry, self.table, self.source_path = path, geometry, table, source_path

    def work(self) -> OpenedSegmentation:
        self.report_progress(0, 2)
        opened = read_segmentation(self.path, self.geometry, self.table, self.source_path)
        self.report_progress(1, 2)
        if self.is_cancelled():
            raise CancelledError("cancelled after reading")
        self.report_progress(2, 2)
        return opened
