"""Small dialogs: errors, the unsaved-changes and recovery questions, Help › Shortcuts.

The shortcut list is ``shortcut_table.SHORTCUTS`` (our bindings next to 3D Slicer's, ITK-SNAP's
and napari's); the dialog and ``docs/SHORTCUTS.md`` both show it; its tool lines come from the
tool table (``tool_table.TOOLS``).
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

from app.ui import shortcut_table
from app.ui.error_dialog import error_box

SHORTCUTS: tuple[tuple[str, str], ...] = tuple(
    (row.keys, row.action) for row in shortcut_table.SHORTCUTS
)
"""(keys, action) of every binding; the full rows, with the other programs' bindings, are
``shortcut_table.SHORTCUTS``."""


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
    """Help › Shortcuts: the table of ``shortcut_table.SHORTCUTS``, one column per program."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard and mouse shortcuts")
        rows = shortcut_table.SHORTCUTS
        self.table = table = QTableWidget(len(rows), len(shortcut_table.HEADERS))
        table.setHorizontalHeaderLabels(list(shortcut_table.HEADERS))
        table.verticalHeader().setVisible(False)
        for r, row in enumerate(rows):
            for c, text in enumerate(shortcut_table.row_cells(row)):
                table.setItem(r, c, QTableWidgetItem(text))
        table.resizeColumnsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        layout.addWidget(buttons)
        self.resize(1100, 700)


def shortcuts_markdown() -> str:
    """``shortcut_table.SHORTCUTS`` as a Markdown table (``docs/SHORTCUTS.md``)."""
    headers = shortcut_table.HEADERS
    lines = ["| " + " | ".join(headers) + " |", "|" + " --- |" * len(headers)]
    for row in shortcut_table.SHORTCUTS:
        cells = [cell.replace("|", "\\|") for cell in shortcut_table.row_cells(row)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
