"""The workspace: the open document with its editor, undo history, view and tool settings.

One per main window. Replacing the document resets history and view and is announced on
``document_replaced``; a training session (issue 5) will hang off this object too.
"""

from __future__ import annotations

from pathlib import Path

from app.state.document import Document
from app.state.editor import JournalSink, LabelEditor
from app.state.observable import Signal
from app.state.undo import DEFAULT_MAX_BYTES, UndoStack
from app.state.view_state import ToolState, ViewState, default_window
from ugpcl_engine.errors import InputError
from ugpcl_engine.io.journal import EditJournal, has_recovery, journal_path_for


class Workspace:
    """Everything the main window shows and edits.

    Args:
        undo_bytes: memory budget of the undo history.

    Attributes:
        doc: the document, or None before anything is opened.
        editor: the label editor of ``doc`` (None without a document).
        undo: the undo history.
        view: crosshair, layout, window and overlay settings.
        tools: tool in hand.
        document_replaced: emits None after ``set_document``.
    """

    def __init__(self, undo_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.doc: Document | None = None
        self.editor: LabelEditor | None = None
        self.undo = UndoStack(undo_bytes)
        self.view = ViewState()
        self.tools = ToolState()
        self.journal: EditJournal | None = None
        self.document_replaced: Signal[None] = Signal()

    def set_document(self, doc: Document) -> None:
        """Show a new document: clear history, centre the crosshair, pick a window.

        Args:
            doc: a fully loaded document (loading failed before this point otherwise).
        """
        self.doc = doc
        self.undo.clear()
        self.journal = None
        if doc.project_path is not None:
            self.attach_journal(doc.project_path)
        self.editor = LabelEditor(doc, self.tools, self.undo, self._journal_sink())
        volume = doc.item.volume
        self.view.cursor_zyx = [n // 2 for n in volume.geometry.shape_zyx]
        labeled = doc.item.labeled["z"].nonzero()[0]
        if labeled.size:
            self.view.cursor_zyx[0] = int(labeled[len(labeled) // 2])
        self.view.window = default_window(volume.image_zyx, volume.modality)
        self.tools.label = min(self.tools.label, doc.table.num_classes - 1) or 1
        self.document_replaced.emit(None)

    def attach_journal(self, project_path: Path) -> None:
        """Start journaling edits beside ``project_path`` (after open or first save).

        Raises:
            InputError: when the journal file cannot be created.
        """
        self.journal = EditJournal(journal_path_for(project_path))
        if self.editor is not None:
            self.editor.journal = self._journal_sink()

    def _journal_sink(self) -> JournalSink | None:
        return self.journal

    def recover(self) -> int:
        """Replay the journal of the open project onto its labels.

        Returns:
            The number of edits applied (the document is then marked modified).

        Raises:
            InputError: the journal belongs to another project (nothing changed).
        """
        if self.doc is None or self.journal is None:
            return 0
        count = self.journal.apply([item.labels.labels_zyx for item in self.doc.items])
        if count:
            self.doc.modified = True
            for axis in ("z", "y", "x"):
                self.doc.marks_changed.emit(axis)
            self.document_replaced.emit(None)
        return count

    def saved(self, path: Path) -> None:
        """Record a successful save: new project path, clean state, empty journal."""
        if self.doc is None:
            return
        self.doc.project_path = path
        self.doc.modified = False
        if self.journal is None or self.journal.path != journal_path_for(path):
            self.attach_journal(path)
        if self.journal is not None:
            self.journal.clear()


def pending_recovery(project_path: Path) -> bool:
    """True when a project has journaled edits newer than its last save."""
    try:
        return has_recovery(project_path)
    except (OSError, InputError):
        return False
