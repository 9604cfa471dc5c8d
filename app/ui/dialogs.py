"""Small dialogs: errors, the unsaved-changes and recovery questions, Help › Shortcuts.

``SHORTCUTS`` is the single list the menus, the dialog and ``docs/SHORTCUTS.md`` follow; its
tool lines come from the tool table (``tool_table.TOOLS``).
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QInputDialog,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.ui.error_dialog import error_box
from app.ui.tool_table import TOOLS

SHORTCUTS: tuple[tuple[str, str], ...] = (
    ("Ctrl+O", "Open image, DICOM file or project"),
    ("Ctrl+S / Ctrl+Shift+S", "Save project / save as"),
    ("Ctrl+E", "Export segmentation"),
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z, Ctrl+Y", "Redo"),
    *((entry.key, entry.help) for entry in TOOLS),
    ("[ and ]", "Smaller / larger brush"),
    ("1 – 9", "Choose label 1 to 9"),
    (", / .", "Previous / next label (ITK-SNAP's < / >)"),
    (
        "I",
        "Fill between slices: interpolate the unlabeled slices between the labeled ones "
        "(view under the mouse; one undo step)",
    ),
    ("M / Shift+M", "Mark / unmark the slice under the mouse as labeled"),
    ("Up/Right, Down/Left arrows", "Next / previous slice in the view under the mouse"),
    ("Page Up / Page Down", "Ten slices forward / back"),
    ("Mouse wheel", "Scroll slices; Ctrl+wheel zooms"),
    ("S", "Show / hide labels"),
    ("A / D", "Label opacity down / up"),
    ("O", "Outline mode on / off"),
    ("Space (hold) + drag, middle drag", "Pan"),
    ("Right drag", "Window / level (left-right: width, up-down: level)"),
    ("R", "Reset zoom"),
    ("L", "Toggle 1×3 / single-view layout"),
    ("Ctrl+T / Ctrl+Shift+T", "Start training / stop and keep the model"),
    ("N", "Jump to the next suggested slice (most useful to annotate)"),
    ("Ctrl+Return", "Accept the prediction on this slice (one undo step)"),
    ("Ctrl+L", "Label check: show where the model confidently disagrees with your paint"),
    ("V", "Toggle between the current and the compared model version"),
    ("F1", "This list"),
)


def show_error(
    parent: QWidget | None, title: str, message: str, details: str | None = None
) -> None:
    """A modal error box with the message (what happened and what to do), "Show details…"
    (``details``: a traceback or technical detail) and the log file (``error_dialog``)."""
    error_box(parent, title, message, details).exec()


def ask_unsaved(parent: QWidget | None, title: str) -> QMessageBox.StandardButton:
    """Ask whether to save changes; returns Save, Discard or Cancel."""
    buttons = (
        QMessageBox.StandardButton.Save
        | QMessageBox.StandardButton.Discard
        | QMessageBox.StandardButton.Cancel
    )
    return QMessageBox.question(
        parent,
        "Unsaved changes",
        f"{title} has unsaved changes. Save them first?",
        buttons,
        QMessageBox.StandardButton.Save,
    )


RECOVER, DISCARD, LATER = "recover", "discard", "later"


def ask_recover(parent: QWidget | None, detail: str) -> str:
    """Ask what to do with edits a session left unsaved (it may have crashed).

    Args:
        parent: dialog parent.
        detail: one sentence naming the document and the edits (``PendingRecovery.describe``).

    Returns:
        ``RECOVER`` (replay them now), ``DISCARD`` (delete them) or ``LATER`` (keep them and
        ask again at the next start; also Esc and closing the dialog).
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Recover unsaved edits")
    box.setText(f"{detail} Recover them?")
    box.setInformativeText("Later keeps them and asks again at the next start.")
    recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(recover)
    box.setEscapeButton(later)
    box.exec()
    clicked = box.clickedButton()
    return RECOVER if clicked is recover else DISCARD if clicked is discard else LATER


def ask_volume(parent: QWidget | None, title: str, names: list[str], current: int) -> int | None:
    """Let the user pick one volume of the document.

    Args:
        parent: dialog parent.
        title: what the volume is for.
        names: one line per volume (``volume_menu.volume_names``).
        current: index preselected.

    Returns:
        The index chosen, or None when cancelled.
    """
    name, ok = QInputDialog.getItem(parent, title, "Volume:", names, current, False)
    return names.index(name) if ok and name in names else None


class ShortcutsDialog(QDialog):
    """Help › Shortcuts: a two-column table of ``SHORTCUTS``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse shortcuts")
        table = QTableWidget(len(SHORTCUTS), 2)
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().setVisible(False)
        for row, (keys, action) in enumerate(SHORTCUTS):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(action))
        table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(620, 640)


def shortcuts_markdown() -> str:
    """``SHORTCUTS`` as a Markdown table (``docs/SHORTCUTS.md``)."""
    lines = ["| Keys | Action |", "| --- | --- |"]
    lines += [f"| {keys} | {action} |" for keys, action in SHORTCUTS]
    return "\n".join(lines) + "\n"
