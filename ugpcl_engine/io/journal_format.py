"""Bytes of the edit journal: self-delimiting records with CRCs, read back by resynchronising.

Format 2 (little-endian, written since the journal journals marks and label tables)::

    header   8 bytes  b"UGPCLJ02"
    record   frame    4s magic b"UGJ2" | u32 payload length | u32 CRC-32 of length and payload
             payload  u8 kind | u64 sequence number | body
    kind 0   base     UTF-8 JSON: what the edits apply to (``JournalBase``)
    kind 1   edit     u32 volume | 3 x u32 origin_zyx | 3 x u32 shape_zyx | u16 mark count
                      | per mark: u8 axis (0 z, 1 y, 2 x) | u32 slice | u8 labeled
                      | zlib of the uint8 values_zyx, C order
    kind 2   table    u32 volume | UTF-8 JSON list of [value, name, [r, g, b](, code)]

Format 1 (``b"UGPCLJ01"``, label boxes only) is still read: frame ``b"UGJR"`` | u32 length |
u32 CRC-32 of the payload; payload u32 volume | 3 x i32 origin | 3 x u32 shape | zlib values;
its records are numbered 1, 2, ... in file order.

Reading never trusts a record: a frame whose length runs past the file or whose CRC does not
match is skipped by searching for the next record magic, so one damaged record costs only
itself. A record with a valid CRC but impossible content (a crafted file) raises
``InputError``; nothing is inflated past its declared size, and the declared size is bounded
before inflating.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.segment_codes import SegmentCode
from ugpcl_engine.volume import LabelClass, LabelTable

FILE_MAGIC = b"UGPCLJ02"
LEGACY_FILE_MAGIC = b"UGPCLJ01"
_RECORD_MAGIC = b"UGJ2"
_LEGACY_RECORD_MAGIC = b"UGJR"
_FRAME = struct.Struct("<4sII")
_HEAD = struct.Struct("<BQ")
_EDIT = struct.Struct("<I3I3IH")
_MARK = struct.Struct("<BIB")
_TABLE = struct.Struct("<I")
_LEGACY_BOX = struct.Struct("<I3i3I")
KIND_BASE, KIND_EDIT, KIND_TABLE = 0, 1, 2
AXES = ("z", "y", "x")
MAX_RECORD_BYTES = 1 << 30
"""Frames claiming more are damaged: no edit of a real volume compresses to 1 GiB."""
MAX_BOX_VOXELS = 1 << 31
"""Boxes declaring more voxels are refused before anything is inflated."""

Mark = tuple[str, int, bool]
"""A labeled-slice mark after an edit: (axis ``"z"``/``"y"``/``"x"``, slice index, labeled)."""


@dataclass(frozen=True, eq=False)
class JournalEntry:
    """One journaled edit: the new label values of a box and the marks it set.

    Attributes:
        volume_index: which volume of the project (index into ``Project.volumes``).
        origin_zyx: index of the box's first voxel in the label volume.
        values_zyx: uint8 array (dz, dy, dx), the labels of the box after the edit.
        marks: labeled-slice marks after the edit, ``(axis, index, labeled)``.
        seq: the record's sequence number (increasing in the order edits were made).
    """

    volume_index: int
    origin_zyx: tuple[int, int, int]
    values_zyx: np.ndarray
    marks: tuple[Mark, ...] = ()
    seq: int = 0


@dataclass(frozen=True)
class TableEntry:
    """One journaled label-table change (add, rename, recolour, delete, undo of those).

    Attributes:
        volume_index: which volume's table.
        table: the whole table after the change.
        seq: the record's sequence number.
    """

    volume_index: int
    table: LabelTable
    seq: int = 0


@dataclass(frozen=True)
class JournalBase:
    """What a journal's edits apply to; written first in journals kept away from a project.

    Attributes:
        origin: ``"project"`` (a ``.ugpcl`` file), ``"paths"`` (images opened with
            ``load_paths``) or ``"sample"`` (the bundled sample).
        paths: the project file or the opened paths (none for the sample).
        title: a short name to show the user.
        volumes: how many volumes the edits may touch (the volumes the origin holds).
        seq: the last sequence number used before this base was written (numbering goes on).
    """

    origin: str
    paths: tuple[str, ...]
    title: str
    volumes: int
    seq: int = 0


Record = JournalEntry | TableEntry


def frame(kind: int, seq: int, body: bytes) -> bytes:
    """One format-2 record: frame header and payload."""
    payload = _HEAD.pack(kind, seq) + body
    length = struct.pack("<I", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(length))
    return _RECORD_MAGIC + length + struct.pack("<I", crc) + payload


def encode_edit(
    seq: int,
    volume_index: int,
    origin_zyx: tuple[int, int, int],
    values_zyx: np.ndarray,
    marks: Sequence[Mark] = (),
) -> bytes:
    """Encode an edit record (see the module docstring).

    Raises:
        ValueError: a malformed box, a negative index or origin, values outside 0..255.
    """
    if values_zyx.ndim != 3 or values_zyx.size == 0:
        raise ValueError(f"values_zyx must be a non-empty 3-D box, got shape {values_zyx.shape}")
    if volume_index < 0 or min(origin_zyx) < 0 or any(i < 0 for _, i, _ in marks):
        raise ValueError(f"negative volume index, origin or slice: {volume_index}, {origin_zyx}")
    if values_zyx.dtype != np.uint8:
        if values_zyx.dtype.kind not in "iub" or values_zyx.min() < 0 or values_zyx.max() > 255:
            raise ValueError("label values must be integers in 0..255")
        values_zyx = values_zyx.astype(np.uint8)
    head = _EDIT.pack(volume_index, *origin_zyx, *values_zyx.shape, len(marks))
    packed = b"".join(_MARK.pack(AXES.index(a), i, bool(on)) for a, i, on in marks)
    values = zlib.compress(np.ascontiguousarray(values_zyx).tobytes(), 1)
    return frame(KIND_EDIT, seq, head + packed + values)


def encode_table(seq: int, volume_index: int, table: LabelTable) -> bytes:
    """Encode a label-table record."""
    rows: list[list[Any]] = [[c.value, c.name, list(c.color_rgb)] for c in table.classes]
    for row, cls in zip(rows, table.classes, strict=True):
        if cls.code is not None:  # a 4th element only where a class carries a DICOM code
            row.append(cls.code.to_json())
    return frame(KIND_TABLE, seq, _TABLE.pack(volume_index) + json.dumps(rows).encode())


def encode_base(base: JournalBase) -> bytes:
    """Encode a base record (its sequence number is ``base.seq``)."""
    text = {"origin": base.origin, "paths": list(base.paths), "title": base.title}
    body = json.dumps(text | {"volumes": base.volumes}).encode()
    return frame(KIND_BASE, base.seq, body)


def scan(data: bytes) -> tuple[list[bytes], int, bool]:
    """Find every intact record of a journal, skipping damaged stretches.

    Args:
        data: the whole file, starting with ``FILE_MAGIC`` or ``LEGACY_FILE_MAGIC``.

    Returns:
        ``(payloads, damaged, legacy)``: the intact payloads in file order, the number of
        damaged stretches skipped (a torn last record counts), and whether it is format 1.
    """
    legacy = data.startswith(LEGACY_FILE_MAGIC)
    magic = _LEGACY_RECORD_MAGIC if legacy else _RECORD_MAGIC
    payloads: list[bytes] = []
    damaged, offset, skipping = 0, len(FILE_MAGIC), False
    while offset < len(data):
        payload = _frame_at(data, offset, legacy)
        if payload is None:
            damaged += not skipping
            skipping = True
            found = data.find(magic, offset + 1)
            offset = found if found >= 0 else len(data)
            continue
        payloads.append(payload)
        offset += _FRAME.size + len(payload)
        skipping = False
    return payloads, damaged, legacy


def _frame_at(data: bytes, offset: int, legacy: bool) -> bytes | None:
    """The payload of an intact frame at ``offset``, or None."""
    if offset + _FRAME.size > len(data):
        return None
    magic, length, crc = _FRAME.unpack_from(data, offset)
    start = offset + _FRAME.size
    if magic != (_LEGACY_RECORD_MAGIC if legacy else _RECORD_MAGIC):
        return None
    if length > MAX_RECORD_BYTES or start + length > len(data):
        return None
    payload = data[start : start + length]
    seed = 0 if legacy else zlib.crc32(data[offset + 4 : offset + 8])
    return payload if zlib.crc32(payload, seed) == crc else None


def decode(payload: bytes, legacy: bool, position: int) -> JournalBase | Record:
    """Decode one intact payload.

    Args:
        payload: bytes of one record (from ``scan``).
        legacy: the payload is format 1.
        position: 1-based place of the record in the file (format 1's sequence number).

    Raises:
        InputError: impossible content (unknown kind, truncated fields, a box too large,
            values that do not inflate to the declared size, a bad table).
    """
    if legacy:
        return _decode_box(payload, 0, _LEGACY_BOX, position, ())
    _need(payload, _HEAD.size, "record")
    kind, seq = _HEAD.unpack_from(payload, 0)
    if kind == KIND_EDIT:
        return _decode_edit(payload, seq)
    if kind == KIND_TABLE:
        return _decode_table(payload, seq)
    if kind == KIND_BASE:
        return _decode_base(payload, seq)
    raise _damaged(f"a record of unknown kind {kind}")


def _decode_edit(payload: bytes, seq: int) -> JournalEntry:
    _need(payload, _HEAD.size + _EDIT.size, "edit")
    count = _EDIT.unpack_from(payload, _HEAD.size)[-1]
    start = _HEAD.size + _EDIT.size
    _need(payload, start + count * _MARK.size, "edit")
    marks: list[Mark] = []
    for k in range(count):
        axis, index, on = _MARK.unpack_from(payload, start + k * _MARK.size)
        if axis >= len(AXES) or on > 1:
            raise _damaged("a slice mark of an unknown axis")
        marks.append((AXES[axis], index, bool(on)))
    return _decode_box(payload, _HEAD.size, _EDIT, seq, tuple(marks), start + count * _MARK.size)


def _decode_box(
    payload: bytes,
    offset: int,
    layout: struct.Struct,
    seq: int,
    marks: tuple[Mark, ...],
    values_at: int | None = None,
) -> JournalEntry:
    _need(payload, offset + layout.size, "edit")
    fields = layout.unpack_from(payload, offset)
    volume_index, origin, shape = fields[0], tuple(fields[1:4]), tuple(fields[4:7])
    if min(origin) < 0:
        raise _damaged(f"an edit at a negative position {origin}")
    size = int(np.prod(shape, dtype=object))
    if size == 0 or size > MAX_BOX_VOXELS:
        raise _damaged(f"an edit box of {shape} voxels")
    start = offset + layout.size if values_at is None else values_at
    raw = _inflate(payload[start:], size)
    values = np.frombuffer(raw, dtype=np.uint8).reshape(shape)
    return JournalEntry(volume_index, (origin[0], origin[1], origin[2]), values, marks, seq)


def _inflate(data: bytes, size: int) -> bytes:
    """Inflate exactly ``size`` bytes, never more (a zip bomb stops at the bound)."""
    inflater = zlib.decompressobj()
    try:
        raw = inflater.decompress(data, size)
        if len(raw) == size and not inflater.eof:  # the stream's end may still be pending
            raw += inflater.decompress(inflater.unconsumed_tail, 1)
    except zlib.error:
        raise _damaged("an edit whose values cannot be decompressed") from None
    if len(raw) != size or not inflater.eof or inflater.unused_data:
        raise _damaged("an edit whose values do not match its box size")
    return raw


def _decode_table(payload: bytes, seq: int) -> TableEntry:
    _need(payload, _HEAD.size + _TABLE.size, "label table")
    (volume_index,) = _TABLE.unpack_from(payload, _HEAD.size)
    rows = _json(payload[_HEAD.size + _TABLE.size :])
    try:
        classes = tuple(
            LabelClass(
                int(row[0]),
                str(row[1]),
                (int(row[2][0]), int(row[2][1]), int(row[2][2])),
                SegmentCode.from_json(row[3]) if len(row) > 3 else None,
            )
            for row in rows
        )
        table = LabelTable(classes)
    except (TypeError, ValueError, IndexError, KeyError):
        raise _damaged("a label table that cannot be read") from None
    if not 2 <= table.num_classes <= 256:
        raise _damaged(f"a label table of {table.num_classes} classes")
    return TableEntry(volume_index, table, seq)


def _decode_base(payload: bytes, seq: int) -> JournalBase:
    fields = _json(payload[_HEAD.size :])
    try:
        paths = tuple(str(p) for p in fields["paths"])
        base = JournalBase(
            str(fields["origin"]), paths, str(fields["title"]), int(fields["volumes"]), seq
        )
    except (TypeError, ValueError, KeyError):
        raise _damaged("a description of its project that cannot be read") from None
    if base.origin not in ("project", "paths", "sample") or base.volumes < 1:
        raise _damaged(f"an unknown origin {base.origin!r}")
    return base


def _json(data: bytes) -> Any:  # any JSON value; the callers check its shape
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _damaged("a record that is not valid JSON") from None


def _need(payload: bytes, size: int, what: str) -> None:
    if len(payload) < size:
        raise _damaged(f"a truncated {what} record")


def _damaged(what: str) -> InputError:
    return InputError(
        f"The edit journal holds {what}; it was not applied. Keep the journal file for a "
        "closer look and discard the recovery, or open the project without it."
    )
