"""Crash protection of the open document: which journal its edits go to, and recovery.

A document opened from a project journals beside it (``<project>.ugpcl.journal``). Any other
document (images, a DICOM folder, the sample) journals from its first edit into the autosave
folder under the user data directory, with a base record saying how to read it again. The next
start finds journals left by sessions that ended without saving (``find_autosaves``,
``pending_for_project``) and the user decides: recover, discard or later. Nothing is deleted
before that.

A live session holds a lock beside its autosave journal, so that a second instance of the app
does not offer (or delete) the journal of a session that is still running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import filelock
import numpy as np
import platformdirs

from app.state.document import Document, DocumentOrigin
from ugpcl_engine import (
    EditJournal,
    InputError,
    JournalBase,
    LabelTable,
    Mark,
    journal_has_records,
    journal_path_for,
    read_journal,
)

log = logging.getLogger(__name__)

AUTOSAVE_ENV = "UGPCL_STUDIO_AUTOSAVE_DIR"
_SUFFIX = ".journal"


def autosave_dir() -> Path:
    """The folder of autosave journals: ``$UGPCL_STUDIO_AUTOSAVE_DIR``, else
    ``<user data dir>/ugpcl-studio/autosave`` (platformdirs)."""
    override = os.environ.get(AUTOSAVE_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_data_dir("ugpcl-studio", appauthor=False)) / "autosave"


@dataclass(frozen=True)
class PendingRecovery:
    """A journal with edits that a session left unsaved.

    Attributes:
        journal_path: the journal file.
        origin: what the edits apply to.
        title: a name to show the user.
        records: how many intact edits it holds.
        damaged: how many damaged stretches reading skipped.
        modified: when the journal was last written (seconds since the epoch).
    """

    journal_path: Path
    origin: DocumentOrigin
    title: str
    records: int
    damaged: int
    modified: float

    @property
    def is_autosave(self) -> bool:
        """True for a journal in the autosave folder (not beside a project)."""
        return _in_autosave(self.journal_path)

    def describe(self) -> str:
        """One sentence for the recovery prompt."""
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.modified))
        text = f"{self.title} has {self.records} unsaved edit(s) from {when}"
        if self.damaged:
            text += f" ({self.damaged} damaged part(s) of the journal will be skipped)"
        return text + "."


def pending_for_project(project_path: Path) -> PendingRecovery | None:
    """The journal beside a project when it holds edits newer than the project's last save."""
    return _pending(journal_path_for(project_path), project_path)


def find_autosaves(folder: Path | None = None) -> list[PendingRecovery]:
    """Autosave journals with edits whose session is gone, newest first.

    Journals of live sessions (locked) are left out; journals without a single edit are
    deleted (nothing the user made is in them).
    """
    folder = autosave_dir() if folder is None else folder
    found = []
    for path in sorted(folder.glob(f"*{_SUFFIX}")) if folder.is_dir() else []:
        lock = _lock_for(path)
        try:
            lock.acquire(timeout=0)
        except (filelock.Timeout, OSError):
            continue  # a live session's journal
        try:
            pending = _pending(path, None)
            if pending is None and not journal_has_records(path):
                _delete(path)
        finally:
            lock.release()
        if pending is not None:
            found.append(pending)
    return sorted(found, key=lambda p: p.modified, reverse=True)


def _pending(path: Path, project_path: Path | None) -> PendingRecovery | None:
    if not journal_has_records(path):
        return None
    try:
        mtime = path.stat().st_mtime
        contents = read_journal(path)
    except (InputError, OSError):  # crafted: offered all the same, so the user can discard it
        return PendingRecovery(path, _project_origin(project_path), path.name, 1, 1, 0.0)
    base = contents.base
    if base is not None:
        origin = DocumentOrigin(base.origin, base.paths)
        title = base.title
    else:
        origin, title = _project_origin(project_path), project_path.name if project_path else "?"
    return PendingRecovery(path, origin, title, len(contents.records), contents.damaged, mtime)


def _project_origin(project_path: Path | None) -> DocumentOrigin:
    return DocumentOrigin("project", (str(project_path),) if project_path else ())


def discard_pending(pending: PendingRecovery) -> None:
    """Drop a pending journal's edits because the user chose so.

    Raises:
        InputError: the file cannot be deleted.
    """
    try:
        _delete(pending.journal_path)
    except OSError as err:
        raise InputError(
            f"Cannot delete the edit journal {pending.journal_path}: {err.strerror or err}."
        ) from None


def _delete(path: Path) -> None:
    path.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        _lock_path(path).unlink(missing_ok=True)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


def _lock_for(path: Path) -> filelock.BaseFileLock:
    return filelock.FileLock(_lock_path(path), thread_local=False)


class JournalKeeper:
    """Sends the open document's edits to its journal (a ``JournalSink`` of ``LabelEditor``).

    Edits of volumes past ``volumes`` (added since the last save) are not journaled: the
    journal could not be replayed onto a file that lacks them.

    Attributes:
        journal: the journal file in use, or None before the first edit of a document that
            journals into the autosave folder.
        volumes: how many volumes the journal covers.
    """

    def __init__(self) -> None:
        self.journal: EditJournal | None = None
        self.volumes = 0
        self._base: JournalBase | None = None
        self._lock: filelock.BaseFileLock | None = None

    @property
    def last_seq(self) -> int:
        """Sequence number of the last journaled edit (0 before the first)."""
        return self.journal.last_seq if self.journal is not None else 0

    def start(self, doc: Document, beside: bool, discard_previous: bool = False) -> None:
        """Journal a newly opened document: beside its project (``beside``, created now), or
        into the autosave folder from its first edit.

        Args:
            doc: the document.
            beside: journal beside its project.
            discard_previous: the user dropped the edits of the document shown until now: its
                journal is discarded, once the new journal exists (not before: a failed open
                keeps the document shown, and its edits, journaled).

        Raises:
            InputError: the journal beside the project cannot be created; the journal in use
                is kept as it was.
        """
        journal = None
        if beside and doc.project_path is not None:
            journal = EditJournal(journal_path_for(doc.project_path))  # may fail: keep ours
        if discard_previous:
            try:
                self.discard()
            except InputError as err:  # the next start offers those edits again: harmless
                log.warning("The dropped edits' journal could not be emptied: %s", err)
        self.close()
        self.volumes = len(doc.items)
        self._base = None
        if journal is not None:
            self.journal = journal
        elif doc.origin is not None:
            self._base = _base_of(doc.origin, doc.title, len(doc.items))

    def adopt(self, path: Path) -> None:
        """Go on journaling into an existing journal (one whose edits were just recovered).

        Raises:
            RuntimeError: edits were journaled elsewhere already.
            InputError: the journal cannot be opened.
        """
        if self.journal is not None and len(self.journal):
            raise RuntimeError("decide on the recovery before editing")
        self.close()
        if _in_autosave(path):
            self._hold_lock(path)
        self.journal = EditJournal(path)

    def record(
        self,
        volume_index: int,
        origin_zyx: tuple[int, int, int],
        values_zyx: np.ndarray,
        marks: tuple[Mark, ...] = (),
    ) -> None:
        """Journal the new values of a box and the marks of its edit (saved volumes only)."""
        journal = self._open() if volume_index < self.volumes else None
        if journal is not None:
            journal.record(volume_index, origin_zyx, values_zyx, marks)

    def record_table(self, volume_index: int, table: LabelTable) -> None:
        """Journal a volume's label table after a change (saved volumes only)."""
        journal = self._open() if volume_index < self.volumes else None
        if journal is not None:
            journal.record_table(volume_index, table)

    def _open(self) -> EditJournal | None:
        """The journal, created in the autosave folder at the first edit when needed."""
        if self.journal is None and self._base is not None:
            path = self._new_autosave()
            self.journal = EditJournal(path, self._base)
        return self.journal

    def _new_autosave(self) -> Path:
        """A fresh autosave path, locked for this session."""
        folder = autosave_dir()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise InputError(f"Cannot create the autosave folder {folder}: {err}.") from None
        path = folder / f"{uuid.uuid4().hex}{_SUFFIX}"
        self._hold_lock(path)
        return path

    def saved(self, project_path: Path, seq: int, volumes: int) -> None:
        """After a save that holds the edits up to ``seq``: drop those, keep the newer ones.

        The journal moves beside the project unless a journal there holds edits of its own
        (a recovery the user postponed): then it goes on in the autosave folder, based on
        the project. The new file is complete before the old one is deleted.

        Raises:
            InputError: the journal cannot be written (the newer edits stay where they were).
        """
        self.volumes = volumes
        target = journal_path_for(project_path)
        origin = DocumentOrigin("project", (str(project_path),))
        base = _base_of(origin, project_path.name, volumes)
        journal = self.journal
        busy = journal_has_records(target) and (journal is None or journal.path != target)
        if journal is None:
            self._base = base
            if not busy:
                self.journal = EditJournal(target)
                self.journal.clear()
            return
        old = journal.path
        if busy:
            dest = old if _in_autosave(old) else self._new_autosave()
            journal.trim_through(seq, base, to=dest)
        else:
            journal.base = None
            journal.trim_through(seq, to=target)
        if old != journal.path and _in_autosave(old):
            if not busy:
                self.release()
            _delete(old)

    def discard(self) -> None:
        """The user dropped the unsaved edits: empty (beside a project) or delete the journal."""
        journal = self.journal
        if journal is None:
            return
        if _in_autosave(journal.path):
            self.release()
            _delete(journal.path)
            self.journal = None
        else:
            journal.clear()

    def close(self) -> None:
        """Let go of the journal; an autosave without edits is deleted, one with edits kept."""
        journal, self.journal = self.journal, None
        autosave = journal is not None and _in_autosave(journal.path)
        if journal is not None and autosave and not journal_has_records(journal.path):
            _delete(journal.path)
        self.release()

    def release(self) -> None:
        """Release the live-session lock (a crash releases it too)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _hold_lock(self, path: Path) -> None:
        self.release()
        lock = _lock_for(path)
        try:
            lock.acquire(timeout=0)
        except (filelock.Timeout, OSError):
            raise InputError(
                f"The autosave {path.name} is in use by another running ugpcl-studio; close "
                "that window first."
            ) from None
        self._lock = lock


def _in_autosave(path: Path) -> bool:
    return path.parent == autosave_dir()


def _base_of(origin: DocumentOrigin, title: str, volumes: int) -> JournalBase:
    return JournalBase(origin.kind, origin.paths, title, volumes)
