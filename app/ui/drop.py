"""Drag and drop onto the main window: dropped files and folders open as File › Open does.

Images (each optionally followed by its labels, as for the command line), a DICOM folder, a
dataset folder or a ``.ugpcl`` project all go through ``FileActions.open_paths``, so the
unsaved-changes question, the background read and the error message are the same as there.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QWidget

from app.ui.file_actions import FileActions


def dropped_paths(mime: QMimeData) -> list[Path]:
    """The local files and folders a drag carries, in the drag's order (as on the command
    line: an image, then its labels); web links are left out."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class FileDrop(QObject):
    """Event filter on the main window that accepts file drags and opens the drop.

    Args:
        window: the main window (drops are enabled on it).
        files: its file actions.
    """

    def __init__(self, window: QWidget, files: FileActions) -> None:
        super().__init__(window)
        self.files = files
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and isinstance(
            event, QDragEnterEvent | QDragMoveEvent
        ):
            if dropped_paths(event.mimeData()):
                event.acceptProposedAction()
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.Drop and isinstance(event, QDropEvent):
            paths = dropped_paths(event.mimeData())
            if not paths:
                event.ignore()
                return True
            event.acceptProposedAction()
            self.files.open_paths(paths)
            return True
        return False


def install_file_drop(window: QWidget, files: FileActions) -> FileDrop:
    """Let ``window`` open files dropped on it."""
    return FileDrop(window, files)
