"""The real training child on the chest CT sample, through the window (tiny budgets)."""

from __future__ import annotations

import math
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import record_snapshots

TINY = {"steps": 3, "log_every": 1, "max_input_size": 64, "batch_labeled": 2, "batch_unlabeled": 2}


@pytest.fixture
def sample_assist(window, tmp_path: Path, monkeypatch):
    """The window with the real assist loop and the sample chest CT open."""
    from PySide6.QtWidgets import QMessageBox

    from app.state.files import load_sample
    from app.ui import dialogs
    from app.ui.assist import install_assist

    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *_: QMessageBox.StandardButton.Discard)
    controller = install_assist(window, runs_root=tmp_path / "runs")
    window.ws.set_document(load_sample())
    yield controller
    controller.supervisor.shutdown(5)


def test_train_on_the_chest_ct_then_accept_and_undo(qtbot, window, sample_assist) -> None:
    from PySide6.QtCore import Qt

    sample_assist.training.overrides = dict(TINY)
    doc = window.ws.doc
    with qtbot.waitSignal(sample_assist.training.result_ready, timeout=60000) as blocker:
        qtbot.mouseClick(sample_assist.panel.start_button, Qt.MouseButton.LeftButton)
    version = blocker.args[0]
    pred, entropy = version.prediction_zyx(), version.uncertainty_zyx()
    assert pred.shape == entropy.shape == doc.labels_zyx.shape == (34, 128, 128)
    assert pred.dtype == np.uint8 and entropy.dtype == np.float32
    top = math.log(doc.table.num_classes)  # entropy is in nats, at most ln C
    assert float(entropy.min()) >= 0.0 and float(entropy.max()) <= top + 1e-3
    assert version.metrics["steps"] == 3.0
    assert sample_assist.overlays.items["z"]["uncertainty"].isVisible()
    before = doc.labels_zyx.copy()
    unlabeled = np.flatnonzero(~doc.item.labeled["z"])
    z = int(unlabeled[np.argmax([(pred[i] != 0).sum() for i in unlabeled])])
    window.ws.view.set_slice("z", z, 34)
    sample_assist.panel.confident.setChecked(False)
    assert sample_assist.accept_current_slice() > 0
    assert (doc.labels_zyx[z] == pred[z]).all()
    window.undo()
    assert (doc.labels_zyx == before).all()


def test_train_on_the_chest_ct_and_an_unlabeled_crop_of_it(qtbot, window, sample_assist) -> None:
    """A second volume without labeled slices is trained on (unlabeled data) and predicted."""
    from app.state.document import VolumeItem
    from ugpcl_engine.training.run_folder import file_sha256
    from ugpcl_engine.volume import LabelMap, Volume, VolumeGeometry

    sample_assist.training.overrides = dict(TINY)
    doc = window.ws.doc
    crop = np.ascontiguousarray(doc.item.volume.image_zyx[::2, 16:112, 24:104])
    geometry = VolumeGeometry(crop.shape, (5.0, 1.0, 1.0))
    labels = LabelMap(np.zeros(crop.shape, np.uint8), geometry, doc.table)
    window.ws.add_volumes([VolumeItem.new(Volume(crop, geometry, "crop", "CT"), labels)])
    window.choose_volume(0)
    snapshots = record_snapshots(sample_assist.supervisor)
    with qtbot.waitSignal(sample_assist.training.result_ready, timeout=60000) as blocker:
        assert sample_assist.training.start("quick", "cpu")
    version = blocker.args[0]
    snapshot, request = snapshots[version.run_dir]
    assert request.volume_count == 2 and np.array_equal(snapshot[1].image_zyx, crop)
    assert version.volumes == (0, 1) and version.metrics["volumes"] == 2.0
    pred, entropy = version.prediction_zyx(1), version.uncertainty_zyx(1)
    assert pred.shape == entropy.shape == crop.shape == (17, 96, 80)
    assert float(entropy.min()) >= 0.0
    assert float(entropy.max()) <= math.log(doc.table.num_classes) + 1e-3
    window.choose_volume(1)
    assert np.array_equal(sample_assist.layers.pred_zyx, pred)
    assert np.array_equal(sample_assist.layers.entropy_zyx, entropy)
    (run,) = doc.records["runs"]
    marked = int(doc.items[0].labeled["z"].sum())
    assert [v["labeled_slices"] for v in run["volumes"]] == [marked, 0]
    (model,) = doc.records["models"]
    assert model["sha256"] == file_sha256(version.checkpoint) and model["run"] == run["number"]


def test_a_killed_child_is_reported_and_labels_stay(qtbot, window, sample_assist) -> None:
    sample_assist.training.overrides = {**TINY, "steps": 100_000}
    before = window.ws.doc.labels_zyx.copy()
    with qtbot.waitSignal(sample_assist.supervisor.started, timeout=60000):
        assert sample_assist.training.start("quick", "cpu")
    pid = sample_assist.supervisor.pid
    assert pid is not None
    with qtbot.waitSignal(sample_assist.training.run_failed, timeout=20000) as blocker:
        os.kill(pid, signal.SIGKILL)
    assert "killed" in blocker.args[0] and "labels are unchanged" in blocker.args[0]
    assert not sample_assist.supervisor.running
    assert sample_assist.panel.start_button.isEnabled()
    assert (window.ws.doc.labels_zyx == before).all()
    assert sample_assist.session.versions == []


def test_a_kill_halfway_through_a_live_preview_is_reported_and_labels_stay(
    qtbot, window, tmp_path: Path, monkeypatch
) -> None:
    """The reliability benchmark's trial, once: the receiver paused so the child blocks inside
    a 1.25 MiB preview, then SIGKILL."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.benchmarks.child_kills import TINY_FAST, kill_trial, preview_document
    from app.ui import dialogs
    from app.ui.assist import install_assist

    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *_: QMessageBox.StandardButton.Discard)
    controller = install_assist(window, runs_root=tmp_path / "runs")
    controller.training.overrides = dict(TINY_FAST)
    window.ws.set_document(preview_document())
    try:
        parts = (QApplication.instance(), window, controller)
        outcome = kill_trial(np.random.default_rng(0), parts, pause=True, max_delay_s=1.0)
    finally:
        controller.supervisor.shutdown(5)
    assert outcome.reported and "killed" in outcome.message
    assert outcome.labels_intact and outcome.leftover_bytes == 0
    assert not controller.supervisor.running
