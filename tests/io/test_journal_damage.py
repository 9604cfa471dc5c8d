"""Edit journal under damage: resynchronisation, crafted records, the old format, trimming.

Crafted records are written in format 1 (what the app wrote before marks and tables were
journaled) where the attack exists there, so the same bytes show what older code did with them.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.journal import (
    EditJournal,
    JournalBase,
    JournalEntry,
    ReplayVolume,
    TableEntry,
    read_journal,
    replay,
)
from ugpcl_engine.io.journal_format import FILE_MAGIC, KIND_EDIT, KIND_TABLE, frame
from ugpcl_engine.volume import LabelTable

SHAPE = (6, 20, 20)


def _legacy_record(
    origin: tuple[int, int, int],
    shape: tuple[int, int, int],
    packed: bytes,
    volume: int = 0,
) -> bytes:
    """A format-1 record with a valid CRC around whatever it is given."""
    payload = struct.pack("<I3i3I", volume, *origin, *shape) + packed
    return b"UGJR" + struct.pack("<II", len(payload), zlib.crc32(payload)) + payload


def _legacy_box(origin: tuple[int, int, int], value: int, shape=(1, 2, 2)) -> bytes:
    values = np.full(shape, value, np.uint8)
    return _legacy_record(origin, shape, zlib.compress(values.tobytes()))


def _write_legacy(path: Path, *records: bytes) -> Path:
    path.write_bytes(b"UGPCLJ01" + b"".join(records))
    return path


def _replay(path: Path) -> tuple[int, np.ndarray]:
    labels = np.zeros(SHAPE, np.uint8)
    count = replay(read_journal(path).records, [ReplayVolume(labels)])
    return count, labels


def test_a_bad_record_in_the_middle_costs_only_itself(tmp_path: Path) -> None:
    records = [_legacy_box((z, 0, 0), z + 1) for z in range(5)]
    broken = bytearray(records[2])
    broken[-1] ^= 0x55  # the middle record's CRC no longer matches
    path = _write_legacy(tmp_path / "j.journal", *records[:2], bytes(broken), *records[3:])
    count, labels = _replay(path)
    assert count == 4
    assert [int(labels[z, 0, 0]) for z in range(5)] == [1, 2, 0, 4, 5]
    assert read_journal(path).damaged == 1


def test_every_single_byte_flip_loses_at_most_the_record_it_hits(tmp_path: Path) -> None:
    journal = EditJournal(tmp_path / "j.journal")
    rng = np.random.default_rng(0)
    for z in range(6):
        journal.record(
            0, (z, 1, 1), rng.integers(1, 4, (1, 3, 4)).astype(np.uint8), [("z", z, True)]
        )
    journal.record_table(0, LabelTable.default(3))
    good = journal.path.read_bytes()
    want = {r.seq: r for r in read_journal(journal.path).records}
    for offset in range(len(FILE_MAGIC), len(good)):
        damaged = bytearray(good)
        damaged[offset] ^= 1 << int(rng.integers(0, 8))
        journal.path.write_bytes(bytes(damaged))
        got = read_journal(journal.path).records
        assert len(got) >= len(want) - 1, f"a flip at byte {offset} lost more than one record"
        for record in got:  # what is read is exactly what was written, never silently changed
            original = want[record.seq]
            if isinstance(record, JournalEntry):
                assert isinstance(original, JournalEntry)
                assert record.origin_zyx == original.origin_zyx
                assert record.marks == original.marks
                np.testing.assert_array_equal(record.values_zyx, original.values_zyx)
            else:
                assert record == original


def test_truncation_anywhere_keeps_every_whole_record(tmp_path: Path) -> None:
    journal = EditJournal(tmp_path / "j.journal")
    ends = []
    for z in range(4):
        journal.record(0, (z, 0, 0), np.full((1, 2, 2), z + 1, np.uint8))
        ends.append(journal.path.stat().st_size)
    data = journal.path.read_bytes()
    for cut in range(len(FILE_MAGIC), len(data) + 1):
        journal.path.write_bytes(data[:cut])
        assert len(read_journal(journal.path).records) == sum(end <= cut for end in ends)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_legacy_box((0, -3, 0), 3), "negative position"),  # once wrapped to rows 17-18
        (_legacy_record((0, 0, 0), (1, 2, 2), b"this is not zlib"), "cannot be decompressed"),
        (_legacy_record((0, 0, 0), (1 << 20, 1 << 20, 1 << 20), b"x"), "box of"),
        (_legacy_record((0, 0, 0), (1, 2, 2), zlib.compress(bytes(400))), "do not match"),
        (_legacy_record((0, 0, 0), (1, 2, 2), zlib.compress(bytes(4))[:-3]), "do not match"),
        (b"UGJR" + struct.pack("<II", 3, zlib.crc32(b"abc")) + b"abc", "truncated"),
    ],
    ids=["negative-origin", "garbage-zlib", "huge-size", "inflates-past-size", "cut-zlib", "short"],
)
def test_crafted_legacy_records_raise_input_error(
    tmp_path: Path, record: bytes, message: str
) -> None:
    path = _write_legacy(tmp_path / "j.journal", _legacy_box((0, 0, 0), 1), record)
    with pytest.raises(InputError, match=message):
        _replay(path)


def test_a_zip_bomb_is_not_inflated_past_its_declared_size(tmp_path: Path) -> None:
    bomb = zlib.compress(bytes(200 << 20), 9)  # 200 MiB of zeros in ~200 KiB
    path = _write_legacy(tmp_path / "j.journal", _legacy_record((0, 0, 0), (1, 2, 2), bomb))
    import tracemalloc

    tracemalloc.start()
    with pytest.raises(InputError, match="do not match"):
        _replay(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 << 20, f"{peak} bytes allocated while reading a 4-voxel box"


def test_records_outside_the_volume_change_nothing(tmp_path: Path) -> None:
    path = _write_legacy(
        tmp_path / "j.journal",
        _legacy_box((0, 0, 0), 1),
        _legacy_box((5, 19, 0), 2),  # its second row lies past y = 19
    )
    labels = np.zeros(SHAPE, np.uint8)
    with pytest.raises(InputError, match="does not match this project"):
        replay(read_journal(path).records, [ReplayVolume(labels)])
    assert not labels.any()
    journal = EditJournal(tmp_path / "marks.journal")
    journal.record(0, (0, 0, 0), np.ones((1, 1, 1), np.uint8), [("y", 20, True)])
    marks = {"z": np.zeros(6, bool), "y": np.zeros(20, bool), "x": np.zeros(20, bool)}
    with pytest.raises(InputError, match="does not match"):
        journal.apply([ReplayVolume(labels, marks)])
    assert not labels.any() and not marks["y"].any()


@pytest.mark.parametrize(
    "payload",
    [
        struct.pack("<BQ", 9, 1),
        struct.pack("<BQ", KIND_EDIT, 1) + b"\0" * 5,
        struct.pack("<BQ", KIND_EDIT, 1) + struct.pack("<I3I3IH", 0, 0, 0, 0, 1, 1, 1, 1),
        struct.pack("<BQ", KIND_EDIT, 1)
        + struct.pack("<I3I3IH", 0, 0, 0, 0, 1, 1, 1, 1)
        + struct.pack("<BIB", 7, 0, 1)
        + zlib.compress(b"\1"),
        struct.pack("<BQ", KIND_TABLE, 1) + struct.pack("<I", 0) + b"[[0, 'x']]",
        struct.pack("<BQ", KIND_TABLE, 1) + struct.pack("<I", 0) + b'[[0, "bg", [0, 0, 0]]]',
        struct.pack("<BQ", 0, 1) + b'{"origin": "elsewhere"}',
    ],
    ids=["kind", "short-edit", "short-marks", "mark-axis", "table-json", "one-class", "base"],
)
def test_crafted_records_of_the_new_format_raise_input_error(
    tmp_path: Path, payload: bytes
) -> None:
    path = tmp_path / "j.journal"
    body = payload[9:]
    kind, seq = struct.unpack_from("<BQ", payload)
    path.write_bytes(FILE_MAGIC + frame(kind, seq, body))
    with pytest.raises(InputError, match="edit journal holds"):
        read_journal(path)


def test_old_journals_are_read_and_upgraded_when_appended_to(tmp_path: Path) -> None:
    path = _write_legacy(tmp_path / "p.ugpcl.journal", _legacy_box((1, 2, 3), 2))
    assert [(r.seq, r.origin_zyx) for r in read_journal(path).records] == [(1, (1, 2, 3))]
    journal = EditJournal(path)
    assert path.read_bytes().startswith(FILE_MAGIC)
    journal.record(0, (2, 0, 0), np.full((1, 1, 1), 3, np.uint8))
    count, labels = _replay(path)
    assert count == 2 and labels[1, 2, 3] == 2 and labels[2, 0, 0] == 3


def test_marks_and_tables_replay_in_order(tmp_path: Path) -> None:
    journal = EditJournal(tmp_path / "j.journal")
    organs = LabelTable.default(4)
    journal.record(0, (2, 0, 0), np.full((1, 2, 2), 3, np.uint8), [("z", 2, True)])
    journal.record_table(0, organs)
    journal.record(0, (0, 0, 0), np.zeros((1, 1, 1), np.uint8), [("z", 2, False), ("x", 7, True)])
    target = ReplayVolume(
        np.zeros(SHAPE, np.uint8),
        {"z": np.zeros(6, bool), "y": np.zeros(20, bool), "x": np.zeros(20, bool)},
        LabelTable.default(2),
    )
    assert journal.apply([target]) == 3
    assert target.labels_zyx[2, 1, 1] == 3 and target.table == organs
    assert not target.labeled["z"].any() and np.flatnonzero(target.labeled["x"]).tolist() == [7]
    assert [type(r) for r in journal.entries()] == [JournalEntry, TableEntry, JournalEntry]


def test_trim_keeps_only_records_newer_than_the_save(tmp_path: Path) -> None:
    base = JournalBase("paths", ("/data/ct.nii.gz",), "ct", 1)
    journal = EditJournal(tmp_path / "a.journal", base)
    seqs = [journal.record(0, (z, 0, 0), np.full((1, 1, 1), 1, np.uint8)) for z in range(4)]
    assert seqs == [1, 2, 3, 4]
    journal.trim_through(2)
    assert [r.seq for r in journal.entries()] == [3, 4]
    moved = tmp_path / "p.ugpcl.journal"
    journal.base = None
    journal.trim_through(3, to=moved)
    assert journal.path == moved and [r.seq for r in journal.entries()] == [4]
    assert read_journal(moved).base is None
    old = read_journal(tmp_path / "a.journal")
    assert old.base == replace(base, seq=4) and [r.seq for r in old.records] == [3, 4]
    reopened = EditJournal(moved)
    assert (
        reopened.last_seq == 4 and reopened.record(0, (0, 0, 0), np.ones((1, 1, 1), np.uint8)) == 5
    )
    reopened.trim_through(5)
    assert (
        reopened.entries() == []
        and reopened.record(0, (0, 0, 0), np.ones((1, 1, 1), np.uint8)) == 6
    )
