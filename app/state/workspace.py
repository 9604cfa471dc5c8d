"""The workspace: the open document with its editor, undo history, view and tool settings.

One per main window. Replacing the document resets history and view and is announced on
``document_replaced``; showing another volume of the same document is announced on
``volume_changed``. Saving follows ``snapshot`` + ``save_point`` on the GUI thread, the file
written on a worker, then ``saved(path, point)`` back on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.state.autosave import (
    JournalKeeper,
    PendingRecovery,
    discard_pending,
    pending_for_project,
)
from app.state.document import Document, DocumentOrigin, VolumeItem
from app.state.editor import LabelEditor
from app.state.label_ops import is_free, step_label
from app.state.observable import Signal
from app.state.undo import DEFAULT_MAX_BYTES, UndoStack
from app.state.view_state import PaintOver, ToolState, ViewState
from app.state.window_presets import initial_window
from ugpcl_engine import EditJournal, LabelTable, ReplayVolume, read_journal, replay


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
        keeper: sends the document's edits to its crash journal (``app.state.autosave``).
        pending: a journal of edits a previous session left unsaved for this document, until
            the user decides (``recover``, ``discard_recovery``, ``postpone_recovery``).
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
        self.keeper = JournalKeeper()
        self.pending: PendingRecovery | None = None
        self.document_replaced: Signal[None] = Signal()
        self.volume_changed: Signal[int] = Signal()

    def set_document(
        self,
        doc: Document,
        recovery: PendingRecovery | None = None,
        discard_previous: bool = False,
    ) -> None:
        """Show a new document: clear history, centre the crosshair, pick a window.

        A journal of edits the document's last session left unsaved becomes ``pending``
        (``recovery``, else the one beside its project): the caller asks the user and calls
        ``recover``, ``discard_recovery`` or ``postpone_recovery`` before any edit. Until
        then the pending journal is not touched.

        Args:
            doc: a fully loaded document (loading failed before this point otherwise).
            recovery: a pending journal found at start that applies to ``doc``.
            discard_previous: the user dropped the shown document's edits (Discard): its
                journal goes once the new document's journal exists.

        Raises:
            InputError: the journal beside the project cannot be created; nothing changed
                (the document shown keeps its history and its journal).
        """
        pending = recovery
        if recovery is None and doc.project_path is not None:
            pending = pending_for_project(doc.project_path)
        # first, as it may fail: the document shown, its history and journal stay as they are
        self.keeper.start(doc, beside=pending is None, discard_previous=discard_previous)
        self.doc = doc
        self.undo.clear()
        self._histories = [self.undo] + [UndoStack(self.undo_bytes) for _ in doc.items[1:]]
        self.undo = self._histories[doc.current]
        self.pending = pending
        self.editor = LabelEditor(doc, self.tools, self.undo, self.keeper)
        doc.table_changed.connect(lambda _: self._keep_label_usable())
        self._reset_view()
        self.document_replaced.emit(None)

    def close_document(self) -> None:
        """Show no document (File › Close): its journal is let go of (an autosave with edits
        is kept for the next start, as when the window closes; the caller asked first), its
        history cleared; ``document_replaced`` tells the views, which go back to the start."""
        if self.doc is None:
            return
        if self.editor is not None:
            self.editor.end_stroke()
        self.keeper.close()
        self.doc, self.editor, self.pending = None, None, None
        self.undo.clear()
        self._histories = [self.undo]
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
        save (until then their edits are not journaled, see ``JournalKeeper``).

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

    def _keep_label_usable(self) -> None:
        """After any change of the table (a redone delete or merge, an import, an undone add):
        a deleted active label moves on to one in use, or the brush would paint a grey free
        entry; "Paint over: only label X" with X deleted or gone goes back to Everything, or
        the brush would silently paint nothing (a merge made now takes both to the label
        merged into: ``label_ops``)."""
        doc = self.doc
        if doc is None:
            return
        changes: dict[str, object] = {}
        if is_free(doc.table, self.tools.label):
            changes["label"] = step_label(doc.table, self.tools.label, 1)
        if _paint_over_gone(self.tools, doc.table):
            changes["paint_over"] = PaintOver.EVERYTHING
        if changes:
            self.tools.update(**changes)

    def _reset_view(self) -> None:
        """Crosshair in the middle (on a labeled axial slice when there is one), a window for
        the volume shown, an active label its table has (one in use, not a deleted one)."""
        doc = self.doc
        if doc is None:
            return
        volume = doc.item.volume
        self.view.cursor_zyx = [n // 2 for n in volume.geometry.shape_zyx]
        labeled = doc.item.labeled["z"].nonzero()[0]
        if labeled.size:
            self.view.cursor_zyx[0] = int(labeled[len(labeled) // 2])
        self.view.window = initial_window(volume)  # the header's window when it has one
        label = min(self.tools.label, doc.table.num_classes - 1) or 1
        if is_free(doc.table, label):  # a deleted label: paint would go to a grey free entry
            label = step_label(doc.table, label, 1)
        self.tools.label = label
        if _paint_over_gone(self.tools, doc.table):  # the volume's table freed the rule's label
            self.tools.paint_over = PaintOver.EVERYTHING

    @property
    def journal(self) -> EditJournal | None:
        """The journal the open document's edits go to (None before the first edit of a
        document that journals into the autosave folder, or without a document)."""
        return self.keeper.journal

    def save_point(self) -> SavePoint:
        """What a snapshot taken now holds (take it right after ``files.snapshot``)."""
        doc = self.doc
        volumes = len(doc.items) if doc is not None else 0
        revision = doc.revision if doc is not None else 0
        return SavePoint(volumes, revision, self.keeper.last_seq)

    def recover(self) -> int:
        """Replay the pending journal (``pending``) onto the open document.

        Label boxes, slice marks and label tables come back; the document is then marked
        modified and its edits go on into that journal.

        Returns:
            The number of edits applied (0 without a pending journal).

        Raises:
            InputError: the journal does not fit the document or is damaged beyond reading;
                nothing changed and the journal is kept.
        """
        doc, pending = self.doc, self.pending
        if doc is None or pending is None:
            return 0
        records = read_journal(pending.journal_path).records
        volumes = [ReplayVolume(i.labels.labels_zyx, i.labeled, i.labels.table) for i in doc.items]
        count = replay(records, volumes)  # checks that every record fits before writing
        for item, volume in zip(doc.items, volumes, strict=True):
            if volume.table is not None:
                item.labels.table = volume.table
        self.pending = None
        self.keeper.adopt(pending.journal_path)
        doc.modified = True
        for axis in ("z", "y", "x"):
            doc.marks_changed.emit(axis)
        doc.table_changed.emit(None)
        self.document_replaced.emit(None)
        return count

    def discard_recovery(self) -> None:
        """The user dropped the pending journal's edits: delete them (or empty the journal
        beside the project, which this session then uses).

        Raises:
            InputError: the journal cannot be deleted.
        """
        pending, doc = self.pending, self.doc
        if pending is None or doc is None:
            return
        discard_pending(pending)
        self.pending = None
        if not pending.is_autosave:
            self.keeper.start(doc, beside=True)

    def postpone_recovery(self) -> None:
        """Leave the pending journal untouched (it is offered again at the next start); this
        session's edits go to an autosave journal of their own."""
        self.pending = None

    def discard_edits(self) -> None:
        """The user dropped the document's unsaved edits: drop its journaled ones too."""
        self.keeper.discard()

    def saved(self, path: Path, point: SavePoint | None = None) -> None:
        """Record a successful save: new project path; journal and modified flag follow.

        The journal drops only the edits the file holds (up to ``point.journal_seq``); edits
        made while the file was being written stay journaled and keep the document modified.

        Args:
            path: the project file written.
            point: what the written snapshot held (None: everything, as of now).

        Raises:
            InputError: the journal could not be rewritten (the file is saved all the same).
        """
        doc = self.doc
        if doc is None:
            return
        point = point or self.save_point()
        doc.project_path = path
        doc.origin = DocumentOrigin("project", (str(path.absolute()),))
        if doc.revision == point.revision:
            doc.modified = False
        self.keeper.saved(path, point.journal_seq, point.volumes)


@dataclass(frozen=True)
class SavePoint:
    """What a save's snapshot holds, taken together with it on the GUI thread.

    Attributes:
        volumes: how many volumes the file will hold.
        revision: ``Document.revision`` of the snapshot.
        journal_seq: the last journaled edit the snapshot holds.
    """

    volumes: int
    revision: int
    journal_seq: int


def _paint_over_gone(tools: ToolState, table: LabelTable) -> bool:
    """True when "Paint over: only label X" names a label ``table`` no longer has (deleted,
    merged away, or above it): such a rule lets the brush change nothing."""
    value = tools.paint_over_label
    if tools.paint_over is not PaintOver.LABEL or value == 0:  # 0: only background, fine
        return False
    return value >= table.num_classes or is_free(table, value)


def pending_recovery(project_path: Path) -> bool:
    """True when a project has journaled edits newer than its last save."""
    return pending_for_project(project_path) is not None
