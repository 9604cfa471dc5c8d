"""Label actions beyond the panel's own edits (issue 16): delete, merge, import a label table,
and the next / previous label keys.

The work is in ``app.state.label_ops`` (one undo step each, journaled); this module asks for
what it needs (a file), forwards the panel's requests and reports the result on the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.state.label_ops import delete_label, import_label_table, merge_label, step_label
from app.state.workspace import Workspace
from app.ui import dialogs
from app.ui.label_panel import LabelPanel

PREVIOUS_KEY, NEXT_KEY = ",", "."
"""ITK-SNAP's ``<`` / ``>`` keys (unshifted, so ``,`` and ``.``); free in this app."""
TABLE_FILTER = "Label tables (*.txt *.ctbl);;All files (*)"


def ask_table_file(parent: QWidget) -> str | None:
    """Ask for an ITK-SNAP label description or a Slicer colour table (None: cancelled)."""
    chosen, _ = QFileDialog.getOpenFileName(parent, "Import label table", "", TABLE_FILTER)
    return chosen or None


class LabelActions:
    """Connects the label panel's delete / merge / import requests, adds Edit › Import label
    table… and the label keys.

    Args:
        window: the main window (parent of the actions and dialogs).
        ws: the workspace.
        panel: the label panel.
        edit_menu: the Edit menu.
        status: shows a line on the status bar.
    """

    def __init__(
        self,
        window: QWidget,
        ws: Workspace,
        panel: LabelPanel,
        edit_menu: QMenu,
        status: Callable[[str], None],
    ) -> None:
        self.window = window
        self.ws = ws
        self.status = status
        panel.delete_requested.connect(self.delete)
        panel.merge_requested.connect(self.merge)
        panel.import_requested.connect(self.import_table)
        edit_menu.addSeparator()
        self.import_action = self._action("Import label table…", self.import_table, edit_menu)
        self.next_action = self._action("Next label", lambda: self.step(1), None, NEXT_KEY)
        self.previous_action = self._action(
            "Previous label", lambda: self.step(-1), None, PREVIOUS_KEY
        )

    def _action(
        self, text: str, slot: Callable[[], object], menu: QMenu | None, key: str = ""
    ) -> QAction:
        action = QAction(text, self.window)
        if key:
            action.setShortcut(QKeySequence(key))
        action.triggered.connect(lambda _=False: slot())
        (menu or self.window).addAction(action)
        return action

    def delete(self, value: int) -> None:
        """Delete label ``value`` of the volume shown (its voxels become background)."""
        editor = self.ws.editor
        if editor is None:
            return
        name = editor.doc.table.classes[value].name if value < editor.doc.table.num_classes else ""
        if self._run(lambda: delete_label(editor, value)):
            self.status(f"Deleted label {value} ({name}); Ctrl+Z brings it back.")

    def merge(self, source: int, target: int) -> None:
        """Merge label ``source`` into ``target`` in the volume shown."""
        editor = self.ws.editor
        if editor is None:
            return
        table = editor.doc.table
        names = [table.classes[v].name if v < table.num_classes else "" for v in (source, target)]
        if self._run(lambda: merge_label(editor, source, target)):
            self.status(f"Merged {names[0]} into {names[1]}; Ctrl+Z undoes it.")

    def import_table(self) -> None:
        """Edit › Import label table…: names and colours from an ITK-SNAP or Slicer file."""
        if self.ws.editor is None:
            dialogs.show_error(self.window, "Labels", "Open an image first, then import its table.")
            return
        path = ask_table_file(self.window)
        editor = self.ws.editor  # the dialog's event loop may have replaced the document
        if path is None or editor is None:
            return
        result = []
        if self._run(lambda: result.append(import_label_table(editor, path))):
            self.status(result[0].summary(Path(path).name))

    def step(self, step: int) -> None:
        """Make the next (+1) or previous (-1) label in use the active one."""
        doc = self.ws.doc
        if doc is not None:
            self.ws.tools.update(label=step_label(doc.table, self.ws.tools.label, step))

    def _run(self, change: Callable[[], object]) -> bool:
        try:
            change()
        except ValueError as err:  # InputError: a refusal the user can act on
            dialogs.show_error(self.window, "Labels", str(err))
            return False
        return True
