"""The edit journal: every change the project file stores, appended to a file as it happens.

Label boxes with the slice marks they set and label-table changes are journaled (the format
is in ``journal_format``). After a crash (even SIGKILL) the next start finds a journal with
records (``has_recovery`` / ``read_journal``), loads what the edits apply to and replays them
(``replay``), losing at most the edit that was being written. One damaged record costs only
itself: reading resynchronises on the next intact record.

Every record has a sequence number. A save remembers the last number its snapshot holds and
afterwards drops only the records up to it (``EditJournal.trim_through``), so edits made while
the file was being written stay journaled.

Opening a journal for appending never drops a record. Records are only dropped by
``trim_through`` (the file holds them) or ``discard`` (the user decided).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.journal_format import (
    FILE_MAGIC,
    KIND_BASE,
    LEGACY_FILE_MAGIC,
    JournalBase,
    JournalEntry,
    Mark,
    Record,
    TableEntry,
    decode,
    encode_base,
    encode_edit,
    encode_table,
    scan,
)
from ugpcl_engine.volume import LabelTable, axis_index

__all__ = [
    "JOURNAL_SUFFIX",
    "EditJournal",
    "JournalBase",
    "JournalContents",
    "JournalEntry",
    "Mark",
    "Record",
    "ReplayVolume",
    "TableEntry",
    "has_recovery",
    "journal_has_records",
    "journal_path_for",
    "read_journal",
    "replay",
]

JOURNAL_SUFFIX = ".journal"


@dataclass(frozen=True)
class JournalContents:
    """Everything readable in a journal file.

    Attributes:
        base: what the edits apply to, when the journal says (autosave journals do).
        records: the intact edit and table records, in the order they were made.
        damaged: how many damaged stretches were skipped (a torn last record counts).
    """

    base: JournalBase | None
    records: list[Record]
    damaged: int


@dataclass
class ReplayVolume:
    """One volume that journaled edits are replayed onto.

    Attributes:
        labels_zyx: writable uint8 (Z, Y, X) labels, changed in place.
        labeled: per axis a bool array of that axis' length, changed in place (empty: marks
            are checked but not applied).
        table: the label table, replaced by table records.
    """

    labels_zyx: np.ndarray
    labeled: dict[str, np.ndarray] = field(default_factory=dict)
    table: LabelTable | None = None


def journal_path_for(project_path: str | Path) -> Path:
    """Return the journal file of a project: ``<project file>.journal`` beside it."""
    project_path = Path(project_path)
    return project_path.with_name(project_path.name + JOURNAL_SUFFIX)


def read_journal(path: str | Path) -> JournalContents:
    """Read every intact record of a journal file (either format), skipping damage.

    Args:
        path: the journal file.

    Returns:
        Its base, records and the count of damaged stretches.

    Raises:
        InputError: the file cannot be read, is not a journal, or holds a record with valid
            checksums but impossible content (a crafted file).
    """
    data = _read(Path(path))
    payloads, damaged, legacy = scan(data)
    base: JournalBase | None = None
    records: list[Record] = []
    for position, payload in enumerate(payloads, start=1):
        item = decode(payload, legacy, position)
        if isinstance(item, JournalBase):
            base = item
        else:
            records.append(item)
    return JournalContents(base, records, damaged)


def _read(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"Cannot read the edit journal {path}: {err.strerror or err}.") from None
    if not data.startswith((FILE_MAGIC, LEGACY_FILE_MAGIC)):
        raise InputError(f"{path} is not an edit journal; move it away and open it again.")
    return data


def has_recovery(project_path: str | Path) -> bool:
    """Return True when the project's journal holds at least one intact edit record.

    Args:
        project_path: the ``.ugpcl`` file (which need not exist).
    """
    return journal_has_records(journal_path_for(project_path))


def journal_has_records(path: Path) -> bool:
    """True when the journal file ``path`` holds an intact edit or table record."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if not data.startswith((FILE_MAGIC, LEGACY_FILE_MAGIC)):
        return False
    payloads, _, legacy = scan(data)
    return any(legacy or p[0] != KIND_BASE for p in payloads if p)


def replay(records: Sequence[Record], volumes: Sequence[ReplayVolume]) -> int:
    """Apply journaled records in order, after checking that every one of them fits.

    Args:
        records: from ``read_journal``.
        volumes: the volumes the records apply to, changed in place.

    Returns:
        The number of records applied.

    Raises:
        InputError: a record lies outside the volumes (another project's journal or a
            crafted file); nothing is changed then.
    """
    for record in records:
        _check_fits(record, volumes)
    for record in records:
        target = volumes[record.volume_index]
        if isinstance(record, TableEntry):
            target.table = record.table
            continue
        z, y, x = record.origin_zyx
        dz, dy, dx = record.values_zyx.shape
        target.labels_zyx[z : z + dz, y : y + dy, x : x + dx] = record.values_zyx
        for axis, index, labeled in record.marks:
            if axis in target.labeled:
                target.labeled[axis][index] = labeled
    return len(records)


def _check_fits(record: Record, volumes: Sequence[ReplayVolume]) -> None:
    fits = 0 <= record.volume_index < len(volumes)
    if fits and isinstance(record, JournalEntry):
        shape = volumes[record.volume_index].labels_zyx.shape
        fits = all(
            o >= 0 and o + n <= s
            for o, n, s in zip(record.origin_zyx, record.values_zyx.shape, shape, strict=True)
        ) and all(0 <= i < shape[axis_index(a)] for a, i, _ in record.marks)
    if not fits:
        raise InputError(
            "The edit journal does not match this project (an edit of volume "
            f"{record.volume_index} lies outside it); it was not applied. Open the project "
            "it belongs to, or discard the recovery."
        )


class EditJournal:
    """An append-only, crash-safe log of edits.

    Args:
        path: the journal file; created (with ``base`` as its first record) when missing. An
            existing journal keeps every record; a format-1 journal is rewritten as format 2
            with the same records, so that new records can follow.
        base: what the edits apply to, written into a new journal.

    Raises:
        InputError: the file exists but is not a journal (or is a crafted one), or cannot be
            created or written.
    """

    def __init__(self, path: str | Path, base: JournalBase | None = None) -> None:
        self.path = Path(path)
        self.base = base
        try:
            data = self.path.read_bytes() if self.path.exists() else b""
        except OSError as err:
            raise InputError(f"Cannot open the edit journal {self.path}: {err}.") from None
        if len(data) < len(FILE_MAGIC) and FILE_MAGIC.startswith(data):
            self.last_seq = base.seq if base is not None else 0
            self._write_file(self.path, [])  # missing, or torn while being created
            return
        contents = read_journal(self.path)
        self.base = contents.base or base
        seqs = [r.seq for r in contents.records] + [self.base.seq if self.base else 0]
        self.last_seq = max(seqs)
        if data.startswith(LEGACY_FILE_MAGIC):
            self._write_file(self.path, [self._encode(r) for r in contents.records])

    def record(
        self,
        volume_index: int,
        origin_zyx: tuple[int, int, int],
        values_zyx: np.ndarray,
        marks: Sequence[Mark] = (),
    ) -> int:
        """Append one edit and make it durable (write, flush, fsync) before returning.

        Args:
            volume_index: which volume was edited.
            origin_zyx: index of the box's first voxel, each >= 0.
            values_zyx: (dz, dy, dx) integer array, the new labels of the box (0..255).
            marks: labeled-slice marks as they are after the edit.

        Returns:
            The record's sequence number.

        Raises:
            ValueError: a malformed box.
            InputError: the journal cannot be written (disk full, read-only).
        """
        seq = self.last_seq + 1
        self._append(encode_edit(seq, volume_index, origin_zyx, values_zyx, marks))
        return seq

    def record_table(self, volume_index: int, table: LabelTable) -> int:
        """Append a volume's whole label table after a change; return the sequence number.

        Raises:
            InputError: the journal cannot be written.
        """
        seq = self.last_seq + 1
        self._append(encode_table(seq, volume_index, table))
        return seq

    def _append(self, data: bytes) -> None:
        try:
            with open(self.path, "r+b") as f:  # never "ab": a vanished journal is an error
                f.seek(0, os.SEEK_END)
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise InputError(
                f"Cannot write the edit journal {self.path} ({err.strerror or err}); save the "
                "project now."
            ) from None
        self.last_seq += 1

    def read(self) -> JournalContents:
        """Everything readable in the file (see ``read_journal``)."""
        return read_journal(self.path)

    def entries(self) -> list[Record]:
        """The intact records, oldest first (a torn last record is left out)."""
        return self.read().records

    def apply(self, volumes: Sequence[ReplayVolume | np.ndarray]) -> int:
        """Replay every record onto ``volumes`` (see ``replay``); return how many.

        Args:
            volumes: per volume a ``ReplayVolume``, or just its uint8 (Z, Y, X) labels.
        """
        targets = [v if isinstance(v, ReplayVolume) else ReplayVolume(v) for v in volumes]
        return replay(self.entries(), targets)

    def trim_through(
        self, seq: int, base: JournalBase | None = None, to: Path | None = None
    ) -> None:
        """Drop the records up to ``seq`` (a saved file holds them); keep the newer ones.

        The file is rewritten beside itself and renamed over the old one (or written at
        ``to``, which becomes the journal's path), so a crash leaves either journal whole.

        Args:
            seq: the last sequence number the saved file holds.
            base: a new base record (None: keep the current one).
            to: where the journal lives from now on (None: where it is).

        Raises:
            InputError: the journal cannot be read or written; the old file is kept then.
        """
        keep = [r for r in self.entries() if r.seq > seq]
        if base is not None:
            self.base = base
        target = self.path if to is None else to
        self._write_file(target, [self._encode(r) for r in keep])
        self.path = target

    def clear(self) -> None:
        """Drop every record (the project was saved, or the user discarded the edits).

        Raises:
            InputError: the journal cannot be written.
        """
        self._write_file(self.path, [])

    def discard(self) -> None:
        """Delete the journal file (the user decided to drop its edits)."""
        try:
            self.path.unlink(missing_ok=True)
        except OSError as err:
            raise InputError(f"Cannot delete the edit journal {self.path}: {err}.") from None

    def __len__(self) -> int:
        """Number of intact edit and table records in the file."""
        return len(self.entries())

    def _encode(self, record: Record) -> bytes:
        if isinstance(record, TableEntry):
            return encode_table(record.seq, record.volume_index, record.table)
        return encode_edit(
            record.seq, record.volume_index, record.origin_zyx, record.values_zyx, record.marks
        )

    def _write_file(self, target: Path, records: list[bytes]) -> None:
        """Write header, base and records to a temporary file, fsync, rename over ``target``."""
        head = FILE_MAGIC
        if self.base is not None:
            head += encode_base(replace(self.base, seq=self.last_seq))
        partial = target.with_name(target.name + ".part")
        try:
            with open(partial, "wb") as f:
                f.write(head + b"".join(records))
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, target)
            _fsync_dir(target.parent)
        except OSError as err:
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
            raise InputError(
                f"Cannot write the edit journal {target} ({err.strerror or err}); check that "
                "the folder is writable and save the project."
            ) from None


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX; Windows has no directory handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
