"""Crash protection in the state layer (issue 14, items 2, 3, 4, 6), Qt-free.

A "crash" here leaves the files as a killed process would: the journal is not closed and the
live-session lock is let go (the operating system does that for a killed process).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from app.state.autosave import autosave_dir, find_autosaves, pending_for_project
from app.state.document import Document
from app.state.files import (
    Snapshot,
    load_origin,
    load_paths,
    load_project_document,
    load_sample,
    save_snapshot,
    snapshot,
)
from app.state.workspace import Workspace
from ugpcl_engine.io.journal import journal_path_for, read_journal
from ugpcl_engine.io.volume_files import write_array
from ugpcl_engine.volume import VolumeGeometry

GEOMETRY = VolumeGeometry((6, 30, 32), (2.0, 1.0, 1.0))


def image_file(folder: Path) -> Path:
    image = np.arange(np.prod(GEOMETRY.shape_zyx), dtype=np.int16).reshape(GEOMETRY.shape_zyx)
    path = folder / "ct.nii.gz"
    write_array(path, image, GEOMETRY)
    return path


def open_ws(doc: Document) -> Workspace:
    ws = Workspace()
    ws.set_document(doc)
    return ws


def crash(ws: Workspace) -> None:
    """Leave the session's files as a SIGKILL would (the OS lets go of the lock)."""
    ws.keeper.release()


def state_of(doc: Document) -> tuple[np.ndarray, dict[str, list[int]], tuple]:
    marks = {a: np.flatnonzero(m).tolist() for a, m in doc.item.labeled.items()}
    return doc.labels_zyx.copy(), marks, doc.table.classes


def assert_same(doc: Document, want: tuple[np.ndarray, dict[str, list[int]], tuple]) -> None:
    labels, marks, classes = state_of(doc)
    np.testing.assert_array_equal(labels, want[0])
    assert marks == want[1]
    assert classes == want[2]


def saved_project(folder: Path) -> tuple[Workspace, Path]:
    ws = open_ws(load_paths([image_file(folder)]))
    assert ws.doc is not None
    path = save_snapshot(folder / "p.ugpcl", snapshot(ws.doc))
    ws.saved(path)
    return ws, path


def test_strokes_painted_while_a_save_is_written_stay_journaled(tmp_path: Path) -> None:
    ws, path = saved_project(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    ws.editor.dab("z", 1, (5.0, 5.0))  # in the snapshot below
    snap = snapshot(ws.doc, path)
    point = ws.save_point()
    release = threading.Event()
    written: list[Path] = []

    def slow_writer(target: Path, snap: Snapshot) -> None:
        assert release.wait(10), "the test never let the writer go"
        written.append(save_snapshot(target, snap))

    writer = threading.Thread(target=slow_writer, args=(path, snap))
    writer.start()
    ws.editor.dab("z", 3, (10.0, 10.0))  # painted while the file is being written
    ws.editor.set_mark("y", 7, True)
    release.set()
    writer.join(10)
    ws.saved(written[0], point)

    assert ws.doc.modified, "edits newer than the file keep the document modified"
    kept = ws.journal.entries() if ws.journal is not None else []
    assert [r.seq for r in kept] == [point.journal_seq + 1, point.journal_seq + 2]
    assert [(r.origin_zyx[0], r.marks) for r in kept] == [
        (3, (("z", 3, True),)),
        (0, (("y", 7, True),)),
    ]
    want = state_of(ws.doc)
    crash(ws)
    again = open_ws(load_project_document(path))
    assert again.doc is not None and not again.doc.labels_zyx[3].any()
    assert again.recover() == 2
    assert_same(again.doc, want)


def test_a_save_with_nothing_newer_leaves_the_document_clean(tmp_path: Path) -> None:
    ws, path = saved_project(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    ws.editor.dab("z", 2, (4.0, 4.0))
    snap, point = snapshot(ws.doc, path), ws.save_point()
    ws.saved(save_snapshot(path, snap), point)
    assert not ws.doc.modified and ws.journal is not None and ws.journal.entries() == []


def test_recovery_brings_back_marks_and_label_table_edits(tmp_path: Path) -> None:
    ws, path = saved_project(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    ws.editor.dab("z", 2, (6.0, 6.0))  # marks z 2 as it paints
    ws.editor.set_mark("x", 9, True)
    ws.editor.set_mark("z", 2, False)
    ws.editor.set_mark("z", 4, True)
    value = ws.editor.add_label("tumour", (10, 200, 30))
    ws.tools.update(label=value)
    ws.editor.dab("z", 4, (20.0, 20.0))
    ws.editor.rename_label(1, "liver")
    ws.editor.recolour_label(1, (1, 2, 3))
    ws.editor.add_label("vessel")
    ws.editor.undo()  # the vessel class goes again
    want = state_of(ws.doc)
    assert want[1] == {"z": [4], "y": [], "x": [9]} and len(want[2]) == 3
    crash(ws)

    again = open_ws(load_project_document(path))
    assert again.doc is not None and again.doc.table.num_classes == 2
    assert again.recover() > 0
    assert_same(again.doc, want)


def test_an_image_without_project_is_journaled_from_the_first_stroke(tmp_path: Path) -> None:
    ws = open_ws(load_paths([image_file(tmp_path)]))
    assert ws.editor is not None and ws.doc is not None and ws.journal is None
    assert list(autosave_dir().glob("*.journal")) == [], "opening alone writes nothing"
    ws.editor.dab("z", 0, (3.0, 3.0))
    ws.editor.add_label("lesion")
    assert ws.journal is not None and ws.journal.path.parent == autosave_dir()
    assert find_autosaves() == [], "a live session's autosave is not offered"
    want = state_of(ws.doc)
    crash(ws)

    [pending] = find_autosaves()
    assert pending.origin.kind == "paths" and pending.records == 2 and "ct" in pending.title
    again = Workspace()
    again.set_document(load_origin(pending.origin), pending)
    assert again.recover() == 2
    assert again.doc is not None and again.doc.modified
    assert_same(again.doc, want)
    assert find_autosaves() == [], "the recovering session holds the autosave now"


def test_the_sample_is_journaled_and_recovered(tmp_path: Path) -> None:
    ws = open_ws(load_sample())
    assert ws.editor is not None and ws.doc is not None
    ws.editor.dab("z", 9, (100.0, 120.0))
    want = state_of(ws.doc)
    crash(ws)
    [pending] = find_autosaves()
    assert pending.origin.kind == "sample"
    again = Workspace()
    again.set_document(load_origin(pending.origin), pending)
    assert again.recover() == 1 and again.doc is not None
    assert_same(again.doc, want)


def test_first_save_moves_newer_edits_beside_the_project(tmp_path: Path) -> None:
    ws = open_ws(load_paths([image_file(tmp_path)]))
    assert ws.editor is not None and ws.doc is not None
    ws.editor.dab("z", 0, (3.0, 3.0))
    autosave = ws.journal.path if ws.journal is not None else None
    snap, point = snapshot(ws.doc, tmp_path / "p.ugpcl"), ws.save_point()
    ws.editor.dab("z", 5, (3.0, 3.0))  # while the save runs
    path = save_snapshot(tmp_path / "p.ugpcl", snap)
    ws.saved(path, point)
    assert autosave is not None and not autosave.exists()
    assert ws.journal is not None and ws.journal.path == journal_path_for(path)
    assert [r.origin_zyx[0] for r in ws.journal.entries()] == [5]
    assert find_autosaves() == [] and ws.doc.modified


def test_nothing_is_deleted_before_the_user_decides(tmp_path: Path) -> None:
    ws, path = saved_project(tmp_path)
    assert ws.editor is not None
    for z in range(4):
        ws.editor.dab("z", z, (5.0, 5.0))
    crash(ws)
    journal = journal_path_for(path)
    data = bytearray(journal.read_bytes())
    data[len(data) // 2] ^= 0xFF  # damage a record in the middle
    journal.write_bytes(bytes(data))
    before = journal.read_bytes()

    later = open_ws(load_project_document(path))
    assert later.pending is not None and later.pending.records == 3
    assert later.pending.damaged == 1 and "damaged" in later.pending.describe()
    assert journal.read_bytes() == before, "opening the project changed the journal"
    later.postpone_recovery()
    assert later.editor is not None and later.doc is not None
    later.editor.dab("z", 5, (9.0, 9.0))
    snap, point = snapshot(later.doc, path), later.save_point()
    later.saved(save_snapshot(path, snap), point)
    assert journal.read_bytes() == before, "a save dropped edits of a postponed recovery"
    assert later.journal is not None and later.journal.path.parent == autosave_dir()
    crash(later)

    again = open_ws(load_project_document(path))
    assert again.pending is not None and again.recover() == 3
    assert again.doc is not None
    assert [bool(again.doc.labels_zyx[z].any()) for z in range(6)].count(True) == 4

    gone = open_ws(load_project_document(path))
    gone.discard_recovery()
    assert pending_for_project(path) is None
    assert read_journal(journal).records == []
