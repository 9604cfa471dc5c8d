"""Edit journal: round trip, torn records, recovery after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ugpcl_engine
from ugpcl_engine.errors import InputError
from ugpcl_engine.io.journal import EditJournal, ReplayVolume, has_recovery, journal_path_for

SHAPE = (8, 40, 40)

# Shared by this module and the child process: stroke i is a seeded random disc box.
STROKE_CODE = """
import numpy as np

def stroke(i):
    rng = np.random.default_rng(i)
    dy, dx = (int(v) for v in rng.integers(3, 15, size=2))
    origin = (int(rng.integers(0, 8)), int(rng.integers(0, 40 - dy)), int(rng.integers(0, 40 - dx)))
    values = rng.integers(0, 4, size=(1, dy, dx)).astype(np.uint8)
    return int(i % 2), origin, values
"""
_ns: dict[str, Any] = {}
exec(STROKE_CODE, _ns)
stroke = _ns["stroke"]


def _expected(n: int) -> list[np.ndarray]:
    labels = [np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)]
    for i in range(n):
        v, (z, y, x), values = stroke(i)
        labels[v][z : z + 1, y : y + values.shape[1], x : x + values.shape[2]] = values
    return labels


def _replayed(path: Path) -> tuple[int, list[np.ndarray]]:
    labels = [np.zeros(SHAPE, np.uint8), np.zeros(SHAPE, np.uint8)]
    count = EditJournal(path).apply([ReplayVolume(a) for a in labels])
    return count, labels


def test_record_and_replay_in_order(tmp_path: Path) -> None:
    journal = EditJournal(journal_path_for(tmp_path / "p.ugpcl"))
    assert journal.path == tmp_path / "p.ugpcl.journal"
    for i in range(12):
        journal.record(*stroke(i))
    assert len(journal) == 12
    entries = journal.entries()
    assert [e.origin_zyx for e in entries] == [stroke(i)[1] for i in range(12)]
    count, labels = _replayed(journal.path)
    assert count == 12
    for got, want in zip(labels, _expected(12), strict=True):
        np.testing.assert_array_equal(got, want)


def test_torn_last_record_is_ignored_and_kept_until_the_user_decides(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl.journal"
    journal = EditJournal(path)
    for i in range(3):
        journal.record(*stroke(i))
    whole = path.read_bytes()
    journal.record(*stroke(3))
    fourth = path.read_bytes()[len(whole) :]
    torn = whole + fourth[: len(fourth) // 2]
    path.write_bytes(torn)  # crash while writing stroke 3
    assert len(EditJournal(path).entries()) == 3
    reopened = EditJournal(path)
    assert len(reopened) == 3
    assert path.read_bytes() == torn, "opening a journal changes nothing in it"
    reopened.record(*stroke(3))  # new records follow the torn one and are found again
    count, labels = _replayed(path)
    assert count == 4
    np.testing.assert_array_equal(labels[1], _expected(4)[1])


def test_record_with_bad_checksum_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "j.journal"
    journal = EditJournal(path)
    for i in range(3):
        journal.record(*stroke(i))
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside the last record's payload
    path.write_bytes(bytes(data))
    assert len(EditJournal(path)) == 2


def test_clear_and_has_recovery(tmp_path: Path) -> None:
    project = tmp_path / "p.ugpcl"
    assert not has_recovery(project)
    journal = EditJournal(journal_path_for(project))
    assert not has_recovery(project)  # header only
    journal.record(0, (0, 0, 0), np.ones((1, 2, 2), np.uint8))
    assert has_recovery(project)
    journal.clear()
    assert len(journal) == 0 and journal.entries() == []
    assert not has_recovery(project)
    journal.record(0, (1, 1, 1), np.ones((1, 2, 2), np.uint8))
    assert [e.origin_zyx for e in journal.entries()] == [(1, 1, 1)]


def test_mismatched_journal_changes_nothing(tmp_path: Path) -> None:
    journal = EditJournal(tmp_path / "j.journal")
    journal.record(0, (0, 0, 0), np.ones((1, 2, 2), np.uint8))
    journal.record(0, (7, 39, 39), np.ones((1, 2, 2), np.uint8))  # past the edge of SHAPE
    labels = [np.zeros(SHAPE, np.uint8)]
    with pytest.raises(InputError, match="does not match this project"):
        journal.apply([ReplayVolume(labels[0])])
    assert not labels[0].any()
    with pytest.raises(InputError, match="does not match"):
        journal.apply([])


def test_bad_input_is_refused(tmp_path: Path) -> None:
    (tmp_path / "other.journal").write_bytes(b"something else entirely")
    with pytest.raises(InputError, match="not an edit journal"):
        EditJournal(tmp_path / "other.journal")
    journal = EditJournal(tmp_path / "j.journal")
    with pytest.raises(ValueError, match=r"0\.\.255"):
        journal.record(0, (0, 0, 0), np.full((1, 2, 2), 300, np.int32))
    with pytest.raises(ValueError, match="3-D"):
        journal.record(0, (0, 0, 0), np.ones((2, 2), np.uint8))
    with pytest.raises(ValueError, match="negative"):
        journal.record(0, (0, -1, 0), np.ones((1, 2, 2), np.uint8))
    assert len(journal) == 0


CHILD = (
    STROKE_CODE
    + """
import os, sys, time
from ugpcl_engine.io.journal import EditJournal
from ugpcl_engine.io.journal_format import encode_edit
journal = EditJournal(sys.argv[1])
n = int(sys.argv[2])
for i in range(n):
    journal.record(*stroke(i))
    print(i + 1, flush=True)
# a stroke in progress: half of its record reaches the disk, then the process is killed
frame = encode_edit(n + 1, *stroke(n))
with open(sys.argv[1], "ab") as f:
    f.write(frame[: len(frame) // 2])
    f.flush()
    os.fsync(f.fileno())
print("torn", flush=True)
time.sleep(60)
"""
)


def _start_child(code: str, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(Path(ugpcl_engine.__file__).parents[1]))
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env
    )


def test_all_strokes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl.journal"
    n = 40
    child = _start_child(CHILD, str(path), str(n))
    assert child.stdout is not None
    lines = []
    for line in child.stdout:
        lines.append(line.strip())
        if line.strip() == "torn":
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    assert lines[-2:] == [str(n), "torn"]
    assert has_recovery(path.with_suffix(""))
    count, labels = _replayed(path)
    assert count == n  # every finished stroke, and nothing of the torn one
    for got, want in zip(labels, _expected(n), strict=True):
        np.testing.assert_array_equal(got, want)


CHILD_FOREVER = (
    STROKE_CODE
    + """
import sys
from ugpcl_engine.io.journal import EditJournal
journal = EditJournal(sys.argv[1])
i = 0
while True:
    journal.record(*stroke(i))
    i += 1
    print(i, flush=True)
"""
)


def test_sigkill_while_painting_loses_at_most_the_stroke_in_progress(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl.journal"
    child = _start_child(CHILD_FOREVER, str(path))
    assert child.stdout is not None
    done = 0
    for line in child.stdout:
        done = int(line)
        if done >= 30:
            break
    os.kill(child.pid, signal.SIGKILL)  # lands at a random point of the recording loop
    child.wait(timeout=10)
    child.stdout.close()
    count, labels = _replayed(path)
    assert count >= done  # every stroke reported as recorded is there
    for got, want in zip(labels, _expected(count), strict=True):
        np.testing.assert_array_equal(got, want)
