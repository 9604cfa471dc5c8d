"""The welcome panel: what the centre of the window shows while no document is open.

Buttons for File › Open, Open DICOM folder and Open sample, and the recent files (a click opens
one). The panel gives way to the slice views as soon as a document opens and comes back when
none is open.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.state.workspace import Workspace
from app.ui.file_actions import FileActions


class WelcomePanel(QWidget):
    """Start buttons and the recent files.

    Args:
        files: the window's file actions (every button goes through them).

    Attributes:
        buttons: the buttons by their text (``"Open volume…"``, ``"Open DICOM folder…"``,
            ``"Open sample"``).
        recent: the recent-files list; each item's ``Qt.UserRole`` holds its paths.
    """

    def __init__(self, files: FileActions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.files = files
        title = QLabel("<h2>ugpcl-studio</h2>")
        hint = QLabel(
            "Open a volume, a DICOM folder or a project, or try the sample chest CT. "
            "You can also drop files or a folder on this window."
        )
        hint.setWordWrap(True)
        row = QHBoxLayout()
        self.buttons: dict[str, QPushButton] = {}
        for text, name in (
            ("Open volume…", "ask_open"),
            ("Open DICOM folder…", "ask_open_folder"),
            ("Open sample", "open_sample"),
        ):
            button = QPushButton(text)
            button.clicked.connect(lambda _=False, n=name: getattr(self.files, n)())
            row.addWidget(button)
            self.buttons[text] = button
        self.recent_title = QLabel("Recent files (click to open)")
        self.recent = QListWidget()
        self.recent.itemClicked.connect(self._open_item)
        self.recent.setMaximumHeight(260)
        column = QVBoxLayout()
        column.addStretch(1)  # the block sits together a little above the middle
        column.addWidget(title)
        column.addWidget(hint)
        column.addLayout(row)
        column.addSpacing(12)
        column.addWidget(self.recent_title)
        column.addWidget(self.recent)
        column.addStretch(2)
        box = QWidget()
        box.setLayout(column)
        box.setMaximumWidth(640)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(box, 4)
        outer.addStretch(1)
        files.recent_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        """Show the recent-files list as it is now."""
        self.recent.clear()
        for entry in self.files.recent.paths():
            item = QListWidgetItem(" + ".join(Path(p).name for p in entry))
            item.setToolTip("\n".join(entry))
            item.setData(Qt.ItemDataRole.UserRole, list(entry))
            self.recent.addItem(item)
        empty = self.recent.count() == 0
        self.recent_title.setText(
            "No recent files yet" if empty else "Recent files (click to open)"
        )
        self.recent.setVisible(not empty)

    def _open_item(self, item: QListWidgetItem) -> None:
        self.files.open_paths(item.data(Qt.ItemDataRole.UserRole))


class CentreSwitch:
    """Puts the welcome panel and the window's central widget (the views) in one stack and
    shows the panel exactly while no document is open.

    Args:
        window: the main window, its central widget already built.
        workspace: its state.
        files: its file actions.
    """

    def __init__(self, window: QMainWindow, workspace: Workspace, files: FileActions) -> None:
        self.window = window
        self.ws = workspace
        self.stack = QStackedWidget()
        self.views = window.takeCentralWidget()
        self.panel = WelcomePanel(files)
        self.stack.addWidget(self.views)
        self.stack.addWidget(self.panel)
        window.setCentralWidget(self.stack)
        workspace.document_replaced.connect(lambda _: self.update())
        self.update()

    def update(self) -> None:
        """Show the panel when no document is open, else the views."""
        showing_panel = self.stack.currentWidget() is self.panel
        if self.ws.doc is None:
            self.stack.setCurrentWidget(self.panel)
        elif showing_panel:
            self.stack.setCurrentWidget(self.views)
            reset = getattr(self.window, "reset_zoom", None)
            if reset is not None:  # fit the slices once the views have their size
                QTimer.singleShot(0, reset)


def install_welcome(window: QMainWindow, workspace: Workspace, files: FileActions) -> CentreSwitch:
    """Show the welcome panel in the centre of ``window`` while no document is open (call it
    before the window connects to ``document_replaced``, so the views show before they are
    filled)."""
    return CentreSwitch(window, workspace, files)
