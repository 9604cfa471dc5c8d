"""Model versions kept with the project (scripted child): results of the version in use are
stored on save, its checkpoint is copied beside the project, and reopening the project brings
the Versions list, the shown results and the warm start back."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_training_volumes import three_volumes, train
from training_fakes import fake_child, fake_result

from app.state.document import Document
from app.state.training_runs import models_of_run
from app.state.version_store import restore_versions, runs_folder_for
from ugpcl_engine.training.run_folder import file_sha256


@pytest.fixture
def assist(window, tmp_path: Path):
    """The window with the assist loop on the scripted child and three volumes."""
    from app.ui.assist import install_assist

    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "script.txt").write_text("ok")
    controller = install_assist(window, target=fake_child, runs_root=runs)
    window.ws.set_document(three_volumes())
    yield controller
    controller.supervisor.shutdown(2)


def save(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.files.saved, timeout=10000):
        window.files.save(path)


def quit_and_reopen(qtbot, window, tmp_path: Path, project: Path) -> Document:
    """The app quits (its temporary run folders go), then the project is opened again."""
    for folder in (tmp_path / "runs").iterdir():
        if folder.is_dir():
            shutil.rmtree(folder)
    old = window.ws.doc
    window.files.open_paths([project])
    qtbot.waitUntil(lambda: window.ws.doc is not old, timeout=10000)
    qtbot.waitUntil(lambda: not window.assist.tasks.busy(), timeout=10000)
    return window.ws.doc


def train_twice_and_save(qtbot, window, assist, project: Path) -> list[str]:
    """v1, save, one more labeled slice on gamma, v2, save; returns the model version ids."""
    doc = window.ws.doc
    train(qtbot, assist)
    save(qtbot, window, project)
    doc.items[2].labels.labels_zyx[4] = doc.items[2].volume.image_zyx[4] > 0
    doc.items[2].labeled["z"][4] = True
    train(qtbot, assist)
    save(qtbot, window, project)
    return [r["model_version"] for r in doc.records["runs"]]


def checkpoint_path(doc: Document, number: int) -> str:
    (model,) = [m for m in models_of_run(doc.records, number) if m["format"] == "checkpoint"]
    return str(model["path"])


def test_versions_results_and_warm_start_come_back_after_quitting(
    qtbot, window, assist, tmp_path: Path, dialogs_log
) -> None:
    project = tmp_path / "three.ugpcl"
    keys = train_twice_and_save(qtbot, window, assist, project)
    sidecar = tmp_path / "three.runs"
    assert runs_folder_for(project) == sidecar
    for number in (1, 2):
        copy = sidecar / f"v00{number}-try1" / "model.pt"
        assert copy.read_bytes() == f"fake model of v00{number}-try1".encode()
        assert checkpoint_path(window.ws.doc, number) == str(copy)

    doc = quit_and_reopen(qtbot, window, tmp_path, project)
    session = assist.session
    assert [v.number for v in session.versions] == [1, 2] and session.current == 1
    rows = [assist.panel.versions.item(k).text() for k in range(assist.panel.versions.count())]
    assert len(rows) == 2 and rows[1].startswith("● v2") and rows[0].startswith("   v1")
    assert "2 model version(s) from the project; v2 in use." in assist.panel.status.text()

    alpha, gamma = doc.items[0], doc.items[2]
    assert list(alpha.extras["predictions"]) == keys, "v1 stored by the first save stays"
    assert list(gamma.extras["predictions"]) == keys and doc.items[1].extras["predictions"] == {}
    assert assist.layers.pred_zyx is alpha.extras["predictions"][keys[1]]
    pred, entropy = fake_result(alpha.volume.image_zyx)
    assert np.array_equal(assist.layers.pred_zyx, pred)
    assert assist.layers.entropy_zyx.dtype == np.float32
    assert np.allclose(assist.layers.entropy_zyx, entropy, atol=1e-3)
    assert "v2 (current)" in assist.panel.shown.text()
    window.choose_volume(2)
    assert assist.layers.pred_zyx is gamma.extras["predictions"][keys[1]]
    assert np.array_equal(assist.layers.pred_zyx, fake_result(gamma.volume.image_zyx)[0])
    window.choose_volume(1)
    assert assist.layers.pred_zyx is None, "beta was never trained on"
    window.choose_volume(0)
    assert assist.session.suggestions, "the restored version's slices are ranked again"

    recorded = checkpoint_path(doc, 2)
    assert session.warm_start("quick") == Path(recorded)
    v3 = train(qtbot, assist)
    request = v3.folder.read_request()
    assert v3.number == 3 and request.init == recorded
    assert doc.records["runs"][-1]["warm_start"] == recorded

    assist.versions.rollback(0)
    assert session.current == 0
    assert assist.layers.pred_zyx is alpha.extras["predictions"][keys[0]]
    save(qtbot, window, project)  # v1 in use; v3 was never in use at a save: not stored
    assert list(alpha.extras["predictions"]) == keys
    old = window.ws.doc
    window.files.open_paths([project])  # v3's run folder is still there this time
    qtbot.waitUntil(lambda: window.ws.doc is not old, timeout=10000)
    assert [v.number for v in assist.session.versions] == [1, 2, 3]
    assert assist.session.current == 0, "the rolled-back version stays in use"
    assert assist.session.versions[2].run_dir == v3.run_dir
    assert dialogs_log["errors"] == []


def test_a_changed_checkpoint_gives_a_view_only_version(
    qtbot, window, assist, tmp_path: Path, dialogs_log
) -> None:
    project = tmp_path / "three.ugpcl"
    keys = train_twice_and_save(qtbot, window, assist, project)
    (tmp_path / "three.runs" / "v002-try1" / "model.pt").write_bytes(b"tampered")

    doc = quit_and_reopen(qtbot, window, tmp_path, project)
    session = assist.session
    v1, v2 = session.versions
    assert v2.view_only and "SHA-256" in v2.view_only and not v1.view_only
    assert session.current == 0, "the newest usable version is used"
    assert session.warm_start("quick") == Path(checkpoint_path(doc, 1))
    status = assist.panel.status.text()
    assert "v2 is view only" in status and "Warm starts use v1." in status
    assert assist.panel.versions.item(1).text().endswith("view only")

    assist.versions.rollback(1)
    assert session.current == 0 and "v2 is view only" in assist.panel.status.text()
    assist.versions.compare(1)
    assist.versions.toggle_compare()
    assert assist.layers.pred_zyx is doc.items[0].extras["predictions"][keys[1]]
    assert dialogs_log["errors"] == []


def test_saving_again_stores_and_copies_nothing_twice(qtbot, window, assist, tmp_path) -> None:
    doc = window.ws.doc
    version = train(qtbot, assist)
    changed: list[int] = []
    doc.predictions_changed.connect(changed.append)
    project = tmp_path / "once.ugpcl"
    save(qtbot, window, project)
    assert sorted(changed) == [0, 2], "stored with the volumes it predicted"
    copy = tmp_path / "once.runs" / version.run_dir.name / "model.pt"
    stamp = copy.stat().st_mtime_ns
    save(qtbot, window, project)
    assert sorted(changed) == [0, 2] and copy.stat().st_mtime_ns == stamp
    assert version.checkpoint == copy, "the version now uses the copy beside the project"
    assert file_sha256(copy) == doc.records["models"][0]["sha256"]

    reopened = quit_and_reopen(qtbot, window, tmp_path, project)
    save(qtbot, window, project)
    assert copy.stat().st_mtime_ns == stamp
    with h5py.File(project, "r") as f:
        for volume, count in (("0000", 1), ("0001", 0), ("0002", 1)):
            assert len(f["volumes"][volume]["predictions"]) == count
            assert len(f["volumes"][volume]["uncertainty"]) == count
        assert f["volumes/0000/uncertainty/0"].dtype == np.float16
        assert f["volumes/0000/predictions/0"].dtype == np.uint8
    assert reopened.records["runs"][0]["in_use"] is True


def test_a_missing_checkpoint_leaves_the_version_view_only(tmp_path: Path) -> None:
    doc = three_volumes()
    shape = doc.items[0].volume.geometry.shape_zyx
    pred, entropy = np.ones(shape, np.uint8), np.full(shape, 0.3, np.float32)
    doc.store_prediction(0, "abc", pred, entropy)
    doc.records["runs"].append(
        {"number": 4, "model_version": "abc", "preset": "quick", "volumes": [{"volume": 0}]}
    )
    doc.records["runs"].append({"number": 5, "model_version": "gone", "run_dir": str(tmp_path)})
    missing = tmp_path / "nowhere" / "model.pt"
    doc.records["models"].append(
        {"version": "abc", "path": str(missing), "sha256": "00", "format": "checkpoint", "run": 4}
    )
    restored = restore_versions(doc)
    (version,) = restored.versions  # run 5 has neither stored results nor a run folder
    assert restored.current == 0 and version.number == 4
    assert version.prediction_zyx(0) is doc.items[0].extras["predictions"]["abc"]
    assert restored.notes == [f"v4 is view only: its model file {missing} is missing."]
    assert "view only" in version.summary()


def test_a_model_file_that_cannot_be_copied_fails_the_save_and_keeps_the_old_file(
    tmp_path: Path,
) -> None:
    from app.state.files import save_snapshot, snapshot
    from ugpcl_engine.errors import InputError

    doc = three_volumes()
    project = save_snapshot(tmp_path / "p.ugpcl", snapshot(doc))
    before = project.read_bytes()
    doc.saving.connect(lambda plan: plan.copies.append((tmp_path / "gone.pt", tmp_path / "x.pt")))
    snap = snapshot(doc, project)
    assert snap.copies == [(tmp_path / "gone.pt", tmp_path / "x.pt")]
    with pytest.raises(InputError, match=r"Could not copy the model file .*gone\.pt"):
        save_snapshot(project, snap)
    assert project.read_bytes() == before and not (tmp_path / "x.pt").exists()
