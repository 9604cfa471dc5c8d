"""The workspace: the open document with its editor, undo history, view and tool settings.

One per main window. Replacing the document resets history and view and is announced on
``document_replaced``; showing another volume of the same document is announced on
``volume_changed``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from app.state.document import Document, VolumeItem
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

    Undo across volumes: every volume of the document has its own history, and ``undo`` is the
    history of the volume shown. Undo and redo therefore only ever change the volume on screen;
    switching back to a volume brings its steps back. Each history has the ``undo_bytes``
    budget (a project holds a handful of volumes).

    Attributes:
        doc: the document, or None before anything is opened.
        editor: the label editor of ``doc`` (None without a document).
        undo: the undo history of the volume shown.
        view: crosshair, layout, window and overlay settings.
        tools: tool in hand.
        document_replaced: emits None after ``set_document``.
        volume_changed: emits the volume index after ``set_current`` showed another volume.
    """

    def __init__(self, undo_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.doc: Document | None = None
        self.editor: LabelEditor | None = None
        self.undo_bytes = undo_bytes
        self.undo = UndoStack(undo_bytes)
        self._histories = [self.undo]
        self.view = ViewState()
        self.tools = ToolState()
        self.journal: EditJournal | None = None
        self._saved_volumes = 0
        self.document_replaced: Signal[None] = Signal()
        self.volume_changed: Signal[int] = Signal()

    def set_document(self, doc: Document) -> None:
        """Show a new document: clear history, centre the crosshair, pick a window.

        Args:
            doc: a fully loaded document (loading failed before this point otherwise).
        """
        self.doc = doc
        self.undo.clear()
        self._histories = [self.undo] + [UndoStack(self.undo_bytes) for _ in doc.items[1:]]
        self.undo = self._histories[doc.current]
        self.journal = None
        self._saved_volumes = len(doc.items) if doc.project_path is not None else 0
        if doc.project_path is not None:
            self.attach_journal(doc.project_path)
        self.editor = LabelEditor(doc, self.tools, self.undo, self._journal_sink())
        self._reset_view()
        self.document_replaced.emit(None)

    def set_current(self, index: int) -> None:
        """Show volume ``index`` of the document, with its own undo history.

        Ends an open stroke first (it belongs to the volume left), then centres the crosshair
        and picks a window for the new volume as ``set_document`` does. Nothing happens when
        ``index`` is already shown.

        Args:
            index: position in ``doc.items``.

        Raises:
            ValueError: without a document, or for an index outside ``doc.items``.
        """
        doc = self.doc
        if doc is None or not 0 <= index < len(doc.items):
            raise ValueError(f"there is no volume {index} to show")
        if index == doc.current:
            return
        if self.editor is not None:
            self.editor.end_stroke()
        doc.current = index
        self.undo = self._histories[index]
        if self.editor is not None:
            self.editor.undo_stack = self.undo
        self._reset_view()
        self.volume_changed.emit(index)

    def add_volumes(self, items: Sequence[VolumeItem]) -> int:
        """Append volumes to the open document (each with an empty history) and show the first.

        The document is marked modified; the new volumes reach the project file on the next
        save (until then their edits are not journaled, see ``_journal_sink``).

        Args:
            items: fully loaded volumes.

        Returns:
            The index of the first new volume.

        Raises:
            ValueError: without a document, or with no item.
        """
        doc = self.doc
        if doc is None or not items:
            raise ValueError("add_volumes needs an open document and at least one volume")
        first = len(doc.items)
        doc.items.extend(items)
        self._histories.extend(UndoStack(self.undo_bytes) for _ in items)
        doc.modified = True
        self.set_current(first)
        return first

    def _reset_view(self) -> None:
        """Crosshair in the middle (on a labeled axial slice when there is one), a window for
        the volume shown, an active label its table has."""
        doc = self.doc
        if doc is None:
            return
        volume = doc.item.volume
        self.view.cursor_zyx = [n // 2 for n in volume.geometry.shape_zyx]
        labeled = doc.item.labeled["z"].nonzero()[0]
        if labeled.size:
            self.view.cursor_zyx[0] = int(labeled[len(labeled) // 2])
        self.view.window = default_window(volume.image_zyx, volume.modality)
        self.tools.label = min(self.tools.label, doc.table.num_classes - 1) or 1

    def attach_journal(self, project_path: Path) -> None:
        """Start journaling edits beside ``project_path`` (after open or first save).

        Raises:
            InputError: when the journal file cannot be created.
        """
        self.journal = EditJournal(journal_path_for(project_path))
        if self.editor is not None:
            self.editor.journal = self._journal_sink()

    def _journal_sink(self) -> JournalSink | None:
        if self.journal is None:
            return None
        return _SavedVolumesJournal(self.journal, lambda: self._saved_volumes)

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

    def saved(self, path: Path, volumes: int | None = None) -> None:
        """Record a successful save: new project path, clean state, empty journal.

        Args:
            path: the project file written.
            volumes: how many volumes the file holds (default: all of the document's; a
                volume added while the save ran is not in the file).
        """
        if self.doc is None:
            return
        self._saved_volumes = len(self.doc.items) if volumes is None else volumes
        self.doc.project_path = path
        self.doc.modified = False
        if self.journal is None or self.journal.path != journal_path_for(path):
            self.attach_journal(path)
        if self.journal is not None:
            self.journal.clear()


class _SavedVolumesJournal:
    """Journals only edits of volumes the project file already holds.

    An edit of a volume added since the last save could not be replayed onto the saved file,
    and the journal would then be refused as a whole (losing the recovery of every other
    edit); such volumes are protected by saving instead.

    Args:
        journal: the project's edit journal.
        saved_volumes: returns how many volumes the project file holds.
    """

    def __init__(self, journal: EditJournal, saved_volumes: Callable[[], int]) -> None:
        self.journal = journal
        self._saved_volumes = saved_volumes

    def record(
        self, volume_index: int, origin_zyx: tuple[int, int, int], values_zyx: np.ndarray
    ) -> None:
        """Append the new values of a box of a saved volume; ignore other volumes."""
        if volume_index < self._saved_volumes():
            self.journal.record(volume_index, origin_zyx, values_zyx)


def pending_recovery(project_path: Path) -> bool:
    """True when a project has journaled edits newer than its last save."""
    try:
        return has_recovery(project_path)
    except (OSError, InputError):
        return False
