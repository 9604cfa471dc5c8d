"""The edit journal: every label edit appended to a file beside the project as it happens.

After a crash (even SIGKILL) the next start finds a non-empty journal (``has_recovery``), loads
the last saved project and replays the journal onto its labels (``EditJournal.apply``), losing
at most the stroke that was being written. After a successful save the journal is cleared.

File format (little-endian)::

    header   8 bytes  b"UGPCLJ01"
    record   frame    4s magic b"UGJR" | u32 payload length | u32 CRC-32 of the payload
             payload  u32 volume_index | 3 x i32 origin_zyx | 3 x u32 shape_zyx
                      | zlib(level 1) of the uint8 values_zyx, C order

Each record is written with one ``write`` call, then flushed and fsynced. A record cut short by a
crash, or one whose CRC does not match, ends the replay: the records before it are kept, and the
file is truncated there when the journal is next opened, so new records follow good ones.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ugpcl_engine.errors import InputError

FILE_MAGIC = b"UGPCLJ01"
_FRAME = struct.Struct("<4sII")
_RECORD_MAGIC = b"UGJR"
_BOX = struct.Struct("<I3i3I")
JOURNAL_SUFFIX = ".journal"


@dataclass(frozen=True, eq=False)
class JournalEntry:
    """One journaled edit: the new label values of a box.

    Attributes:
        volume_index: which volume of the project (index into ``Project.volumes``).
        origin_zyx: index of the box's first voxel in the label volume.
        values_zyx: uint8 array (dz, dy, dx), the labels of the box after the edit.
    """

    volume_index: int
    origin_zyx: tuple[int, int, int]
    values_zyx: np.ndarray


def journal_path_for(project_path: str | Path) -> Path:
    """Return the journal file of a project: ``<project file>.journal`` beside it."""
    project_path = Path(project_path)
    return project_path.with_name(project_path.name + JOURNAL_SUFFIX)


def has_recovery(project_path: str | Path) -> bool:
    """Return True when the project's journal holds at least one complete edit record.

    Args:
        project_path: the ``.ugpcl`` file (which need not exist: an unsaved project's journal
            may still hold edits).
    """
    path = journal_path_for(project_path)
    if not path.is_file():
        return False
    data = path.read_bytes()
    if not data.startswith(FILE_MAGIC):
        return False
    payloads, _ = _scan(data)
    return bool(payloads)


def _scan(data: bytes) -> tuple[list[bytes], int]:
    """Split journal bytes into intact record payloads; also return where the intact part ends."""
    payloads: list[bytes] = []
    offset = len(FILE_MAGIC)
    while offset + _FRAME.size <= len(data):
        magic, length, crc = _FRAME.unpack_from(data, offset)
        start = offset + _FRAME.size
        if magic != _RECORD_MAGIC or start + length > len(data):
            break
        payload = data[start : start + length]
        if zlib.crc32(payload) != crc:
            break
        payloads.append(payload)
        offset = start + length
    return payloads, offset


def _decode(payload: bytes) -> JournalEntry:
    volume_index, oz, oy, ox, dz, dy, dx = _BOX.unpack_from(payload, 0)
    raw = zlib.decompress(payload[_BOX.size :])
    if len(raw) != dz * dy * dx:
        raise InputError("The edit journal holds a record of the wrong size; it cannot be used.")
    values = np.frombuffer(raw, dtype=np.uint8).reshape(dz, dy, dx)
    return JournalEntry(volume_index, (oz, oy, ox), values)


def _encode(volume_index: int, origin_zyx: tuple[int, int, int], values_zyx: np.ndarray) -> bytes:
    if values_zyx.ndim != 3 or values_zyx.size == 0:
        raise ValueError(f"values_zyx must be a non-empty 3-D box, got shape {values_zyx.shape}")
    if volume_index < 0 or min(origin_zyx) < 0:
        raise ValueError(f"negative volume index or origin: {volume_index}, {origin_zyx}")
    if values_zyx.dtype != np.uint8:
        if values_zyx.dtype.kind not in "iub" or values_zyx.min() < 0 or values_zyx.max() > 255:
            raise ValueError("label values must be integers in 0..255")
        values_zyx = values_zyx.astype(np.uint8)
    box = _BOX.pack(volume_index, *origin_zyx, *values_zyx.shape)
    payload = box + zlib.compress(np.ascontiguousarray(values_zyx).tobytes(), 1)
    return _FRAME.pack(_RECORD_MAGIC, len(payload), zlib.crc32(payload)) + payload


class EditJournal:
    """An append-only, crash-safe log of label edits for one project.

    Args:
        path: the journal file (see ``journal_path_for``); created when missing. An existing
            journal is kept (that is the recovery) and cut back to its last intact record.

    Raises:
        InputError: the file exists but is not a journal, or cannot be created or written.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            data = self.path.read_bytes() if self.path.exists() else b""
            if len(data) < len(FILE_MAGIC) and FILE_MAGIC.startswith(data):
                data = FILE_MAGIC  # missing, or torn while being created
                self.path.write_bytes(data)
            if not data.startswith(FILE_MAGIC):
                raise InputError(
                    f"{self.path} is not an edit journal; move it away and open the project again."
                )
            payloads, end = _scan(data)
            if end < len(data):
                os.truncate(self.path, end)
        except OSError as err:
            raise InputError(f"Cannot open the edit journal {self.path}: {err}.") from None
        self._count = len(payloads)

    def record(
        self, volume_index: int, origin_zyx: tuple[int, int, int], values_zyx: np.ndarray
    ) -> None:
        """Append one edit and make it durable (write, flush, fsync) before returning.

        Args:
            volume_index: which volume of the project was edited.
            origin_zyx: index of the box's first voxel, each >= 0.
            values_zyx: (dz, dy, dx) integer array, the new labels of the box (0..255).

        Raises:
            ValueError: a malformed box.
            InputError: the journal cannot be written (disk full, read-only).
        """
        frame = _encode(volume_index, origin_zyx, values_zyx)
        try:
            with open(self.path, "ab") as f:
                f.write(frame)
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise InputError(
                f"Cannot write the edit journal {self.path} ({err}); save the project now."
            ) from None
        self._count += 1

    def entries(self) -> list[JournalEntry]:
        """Read back every intact record, oldest first (a torn last record is left out).

        Returns:
            The journaled edits in the order they were made.
        """
        payloads, _ = _scan(self.path.read_bytes())
        return [_decode(p) for p in payloads]

    def apply(self, labels: list[np.ndarray]) -> int:
        """Replay every journaled edit onto label volumes, in order.

        Args:
            labels: one writable uint8 (Z, Y, X) array per project volume, changed in place.

        Returns:
            The number of edits applied.

        Raises:
            InputError: an edit does not fit the given volumes (the journal belongs to another
                project); nothing is changed then.
        """
        entries = self.entries()
        for e in entries:
            fits = 0 <= e.volume_index < len(labels) and all(
                o + n <= s
                for o, n, s in zip(
                    e.origin_zyx, e.values_zyx.shape, labels[e.volume_index].shape, strict=True
                )
            )
            if not fits:
                raise InputError(
                    f"The edit journal {self.path.name} does not match this project (an edit "
                    f"of volume {e.volume_index} at {e.origin_zyx} lies outside it); it was not "
                    "applied."
                )
        for e in entries:
            z, y, x = e.origin_zyx
            dz, dy, dx = e.values_zyx.shape
            labels[e.volume_index][z : z + dz, y : y + dy, x : x + dx] = e.values_zyx
        return len(entries)

    def clear(self) -> None:
        """Drop every record (call after the project was saved successfully).

        Raises:
            InputError: the journal cannot be written.
        """
        try:
            with open(self.path, "r+b") as f:
                f.truncate(len(FILE_MAGIC))
                f.flush()
                os.fsync(f.fileno())
        except OSError as err:
            raise InputError(f"Cannot clear the edit journal {self.path}: {err}.") from None
        self._count = 0

    def __len__(self) -> int:
        """Number of intact records in the journal."""
        return self._count
