"""Qt-free document I/O: opening images with labels, projects, snapshots, journal recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.state.files import export_labels, load_paths, load_sample, save_snapshot, snapshot
from app.state.workspace import Workspace, pending_recovery
from ugpcl_engine.errors import InputError
from ugpcl_engine.io.volume_files import read_label_map, write_array
from ugpcl_engine.volume import VolumeGeometry

GEOMETRY = VolumeGeometry((5, 8, 9), (2.0, 1.0, 1.5))


def write_pair(folder: Path) -> tuple[Path, Path]:
    image = np.arange(5 * 8 * 9, dtype=np.int16).reshape(5, 8, 9)
    labels = np.zeros((5, 8, 9), np.uint8)
    labels[2, 3:5, 3:6] = 2
    write_array(folder / "ct.nii.gz", image, GEOMETRY)
    write_array(folder / "ct_labels.nii.gz", labels, GEOMETRY)
    return folder / "ct.nii.gz", folder / "ct_labels.nii.gz"


def test_image_followed_by_labels_and_project_round_trip(tmp_path: Path) -> None:
    image, labels = write_pair(tmp_path)
    doc = load_paths([image, labels])
    assert len(doc.items) == 1 and doc.labels_zyx[2, 3, 3] == 2 and doc.table.num_classes == 3
    held = [z for z in range(doc.labels_zyx.shape[0]) if doc.labels_zyx[z].any()]
    # the axial slices holding a label are marked labeled, as Open segmentation marks them
    assert [z for z in range(len(doc.item.labeled["z"])) if doc.is_labeled("z", z)] == held
    assert not doc.item.labeled["y"].any() and not doc.item.labeled["x"].any()
    snap = snapshot(doc)
    doc.labels_zyx[:] = 0  # later edits do not reach the snapshot
    path = save_snapshot(tmp_path / "proj", snap)
    assert path.name == "proj.ugpcl"
    again = load_paths([path])
    assert again.labels_zyx[2, 3, 3] == 2 and again.is_labeled("z", 2)
    assert again.project_path == path and again.item.volume.geometry.matches(GEOMETRY)
    out = export_labels(
        tmp_path / "out.seg.nrrd", again.item.labels, source_geometry=again.item.volume.geometry
    )
    assert (read_label_map(out).labels_zyx == again.labels_zyx).all()
    assert (tmp_path / "out_labels.txt").exists()  # ITK-SNAP label table beside the labels


def test_bad_inputs_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_paths([])
    with pytest.raises(InputError):
        load_paths([tmp_path / "missing.nii.gz"])
    image, _ = write_pair(tmp_path)
    project = save_snapshot(tmp_path / "p.ugpcl", snapshot(load_paths([image])))
    with pytest.raises(InputError):
        load_paths([project, image])


def test_sample_keeps_labels_on_three_slices_only() -> None:
    doc = load_sample()
    marked = np.flatnonzero(doc.item.labeled["z"]).tolist()
    assert marked == [5, 17, 28]
    assert set(np.flatnonzero(doc.labels_zyx.any((1, 2))).tolist()) == set(marked)
    assert doc.table.num_classes == 8


def test_journal_replays_edits_after_a_crash(tmp_path: Path) -> None:
    image, _ = write_pair(tmp_path)
    ws = Workspace()
    ws.set_document(load_paths([image]))
    path = save_snapshot(tmp_path / "p.ugpcl", snapshot(ws.doc))
    ws.saved(path)
    assert not pending_recovery(path)
    ws.editor.dab("z", 1, (4.0, 4.0))
    ws.editor.dab("y", 2, (3.0, 3.0))
    painted = ws.doc.labels_zyx.copy()
    assert pending_recovery(path)

    fresh = Workspace()
    fresh.set_document(load_paths([path]))
    assert not fresh.doc.labels_zyx.any()
    assert fresh.recover() == 2
    assert (fresh.doc.labels_zyx == painted).all() and fresh.doc.modified
    fresh.saved(path)
    assert not pending_recovery(path)


def test_start_up_removes_temps_of_killed_saves_beside_recent_projects(tmp_path: Path) -> None:
    import subprocess
    import sys

    from app.state.files import remove_stale_save_temps

    writer = subprocess.Popen([sys.executable, "-c", "pass"])  # a save that was killed
    writer.wait()
    folder = tmp_path / "projects"
    folder.mkdir()
    temp = folder / f".p.ugpcl.{writer.pid}.0123abcd.tmp"
    temp.write_bytes(b"half a project")
    image_folder = tmp_path / "images"
    image_folder.mkdir()
    beside_image = image_folder / f".q.ugpcl.{writer.pid}.0123abcd.tmp"
    beside_image.write_bytes(b"not looked at")
    entries = [[str(folder / "p.ugpcl")], [str(image_folder / "ct.nii.gz")]]
    assert remove_stale_save_temps(entries) == [temp]
    assert not temp.exists() and beside_image.exists()
