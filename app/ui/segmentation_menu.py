"""File › Open segmentation…: read a segmentation for the shown volume and put it in place.

The file is read on the window's task runner (``SegmentationReadTask``); the labels change only
when the read succeeded and the same volume is still shown, as one undo step through the editor
(``app.state.segmentation_import.replace_labels``). A file on another grid shows the message
and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.jobs.segmentation_task import SegmentationReadTask
from app.jobs.tasks import TaskRunner
from app.state.document import Document
from app.state.segmentation_import import replace_labels
from app.state.workspace import Workspace
from app.ui import dialogs
from ugpcl_engine import OpenedSegmentation

SEGMENTATION_FILTER = (
    "Segmentations (*.seg.nrrd *.nii.gz *.nii *.nrrd *.mha *.mhd *.dcm);;All files (*)"
)


def show_notes(parent: QWidget | None, title: str, text: str) -> None:
    """A modal note (replaced by a recorder in tests)."""
    QMessageBox.information(parent, title, text)


class SegmentationOpener(QObject):
    """Opens segmentation files onto the shown volume.

    Args:
        workspace: the state whose shown volume gets the labels.
        window: dialog parent.
        tasks: the window's task runner.
        status: shows a status-bar text.

    Signals:
        replaced(object): the ``OpenedSegmentation`` now in the labels.
    """

    replaced = Signal(object)

    def __init__(
        self,
        workspace: Workspace,
        window: QWidget,
        tasks: TaskRunner,
        status: Callable[[str], None],
    ) -> None:
        super().__init__(window)
        self.ws, self.window, self.tasks, self.status = workspace, window, tasks, status

    def ask_open(self) -> None:
        """Ask for a file and open it (nothing happens without an open volume)."""
        if self.ws.doc is None:
            self._fail("Open an image first; a segmentation is opened onto the image shown.")
            return
        name, _ = QFileDialog.getOpenFileName(
            self.window, "Open segmentation", "", SEGMENTATION_FILTER
        )
        if name:
            self.open_path(Path(name))

    def open_path(self, path: Path) -> SegmentationReadTask | None:
        """Read ``path`` in the background for the shown volume; return the task."""
        doc = self.ws.doc
        if doc is None:
            self._fail("Open an image first; a segmentation is opened onto the image shown.")
            return None
        item, index = doc.item, doc.current
        task = SegmentationReadTask(path, item.volume.geometry, item.labels.table, item.source_path)
        task.signals.finished.connect(lambda opened: self._read(doc, index, path, opened))
        task.signals.failed.connect(self._fail)
        task.signals.cancelled.connect(
            lambda: self.status(f"Opening {path.name} was cancelled; the labels are unchanged.")
        )
        task.signals.progress.connect(
            lambda done, total: self.status(f"Opening segmentation {path.name}… {done}/{total}")
        )
        self.tasks.start(task)
        return task

    def _read(self, doc: Document, index: int, path: Path, opened: OpenedSegmentation) -> None:
        editor = self.ws.editor
        if self.ws.doc is not doc or doc.current != index or editor is None:
            self._fail(
                f"Another volume is shown now; {path.name} was not applied. Show the volume it "
                "belongs to and open it again."
            )
            return
        replace_labels(editor, opened.labels, f"open segmentation {path.name}")
        if self.ws.tools.label >= opened.labels.table.num_classes:  # no such class any more
            self.ws.tools.update(label=1)
        self.status(
            f"Opened {path.name}: {opened.labels.table.num_classes - 1} classes. "
            "Edit › Undo brings the previous labels back."
        )
        if opened.notes:
            show_notes(self.window, "Segmentation opened", "\n\n".join(opened.notes))
        self.replaced.emit(opened)

    def _fail(self, message: str) -> None:
        self.status(message)
        dialogs.show_error(self.window, "Cannot open segmentation", message)
