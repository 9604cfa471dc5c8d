"""The error dialog: the message, "Show details" (the traceback or technical detail), the log
file's path, and buttons to copy the report or open the log folder.

``dialogs.show_error`` builds it with ``error_box`` and runs it; tests inspect the box without
running it. Details default to the last error logged (``app_log.last_error``) when the message is
an unexpected error (``app.jobs.tasks.unexpected_failure`` logs the traceback first).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox, QWidget

from app.state.app_log import last_error, log_file

UNEXPECTED = "Unexpected error"


def report_text(title: str, message: str, details: str | None) -> str:
    """What "Copy details" puts on the clipboard: title, message, details and the log file."""
    parts = [title, message, details or "", f"Log file: {log_file() or 'none (stderr)'}"]
    return "\n\n".join(part for part in parts if part)


def error_box(
    parent: QWidget | None, title: str, message: str, details: str | None = None
) -> QMessageBox:
    """Build the error dialog (not shown).

    Args:
        parent: dialog parent.
        title: window title.
        message: what happened and what to do.
        details: traceback or technical detail for "Show details…"; None: the last error
            logged when ``message`` reports an unexpected error, else no details.

    Returns:
        The message box, with "Copy details" and (when logging to a file) "Open log folder".
    """
    if details is None and (message.startswith(UNEXPECTED) or title == UNEXPECTED):
        details = last_error() or None
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    path = log_file()
    box.setInformativeText(
        f"The log file is {path}." if path else "The log goes to the terminal (stderr)."
    )
    if details:
        box.setDetailedText(details)
    box.addButton(QMessageBox.StandardButton.Ok)
    copy = box.addButton("Copy details", QMessageBox.ButtonRole.ActionRole)
    copy.clicked.disconnect()  # an action button would close the box: copy and stay open
    copy.clicked.connect(lambda: copy_report(title, message, details))
    if path is not None:
        folder = box.addButton("Open log folder", QMessageBox.ButtonRole.ActionRole)
        folder.clicked.disconnect()
        folder.clicked.connect(lambda: open_folder(path.parent))
    return box


def copy_report(title: str, message: str, details: str | None) -> None:
    """Put the error report on the clipboard."""
    QGuiApplication.clipboard().setText(report_text(title, message, details))


def open_folder(folder: Path) -> bool:
    """Open ``folder`` in the system's file manager; True when it could."""
    return bool(QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))))
