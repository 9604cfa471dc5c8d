"""Model › Run model on project volume…: a real tiny ONNX model, results stored per volume,
shown on that volume, saved with the project; bad models change nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_volume_switching import two_volumes
from training_fakes import fake_child

from app.state.files import load_project_document
from app.state.model_version import ModelVersion
from app.state.prediction_edits import AcceptOptions
from ugpcl_engine.training.run_folder import PREDICTION_FILE, UNCERTAINTY_FILE
from ugpcl_engine.volume import LabelTable


@pytest.fixture
def assisted(window, tmp_path: Path):
    """The window with the assist loop (scripted child), the model menu and two volumes."""
    from app.ui.assist import install_assist
    from app.ui.model_menu import install_model_menu

    (tmp_path / "runs").mkdir()
    assist = install_assist(window, target=fake_child, runs_root=tmp_path / "runs")
    menu = install_model_menu(window)
    window.ws.set_document(two_volumes())
    yield assist, menu
    menu.tasks.wait()
    assist.supervisor.shutdown(2)


def test_run_on_a_project_volume_stores_shows_and_saves_the_result(
    qtbot, window, assisted, tiny_onnx: Path, tmp_path: Path, dialogs_log
) -> None:
    assist, menu = assisted
    doc = window.ws.doc
    texts = [a.text() for a in window.menus["Model"].actions()]
    assert "Run model on project volume…" in texts
    with qtbot.waitSignal(menu.ran_on_volume, timeout=60000) as ran:
        assert menu.run_on_volume(tiny_onnx, 1) is not None
    assert ran.args == [1] and dialogs_log["errors"] == []
    beta = doc.items[1]
    version, prediction, uncertainty = beta.latest_prediction()
    assert version == "tiny0001"
    assert prediction.shape == uncertainty.shape == (8, 32, 36)
    assert prediction.dtype == np.uint8 and uncertainty.dtype == np.float32
    assert prediction.max() <= 2 and np.isfinite(uncertainty).all()
    assert doc.items[0].latest_prediction() is None and doc.modified
    assert assist.layers.pred_zyx is None, "alpha (shown) has no result: nothing drawn"

    window.choose_volume(1)
    assert assist.layers.pred_zyx is prediction
    assert assist.layers.entropy_zyx is uncertainty
    z = window.ws.view.slice_index("z")
    heat = assist.overlays.items["z"]["uncertainty"]
    assert heat.isVisible() and np.array_equal(heat.image, uncertainty[z])
    assert "tiny0001" in assist.panel.shown.text()
    window.choose_volume(0)
    assert assist.layers.pred_zyx is None and not heat.isVisible()

    project = tmp_path / "two.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: not doc.modified, timeout=10000)
    again = load_project_document(project)
    stored = again.items[1].latest_prediction()
    assert stored is not None and stored[0] == "tiny0001"
    assert np.array_equal(stored[1], prediction) and stored[2].dtype == np.float32
    # the project keeps uncertainty as float16 (about 3 significant digits)
    assert np.allclose(stored[2], uncertainty, rtol=1e-3, atol=1e-4)
    assert again.items[0].latest_prediction() is None

    window.files.open_paths([project])
    qtbot.waitUntil(lambda: window.ws.doc is not doc, timeout=10000)
    window.choose_volume(1)
    assert np.array_equal(assist.layers.pred_zyx, prediction)


@pytest.mark.parametrize("case", ["text", "no-metadata", "classes"])
def test_a_bad_model_shows_an_error_and_changes_nothing(
    qtbot, window, assisted, tiny_onnx: Path, tmp_path: Path, dialogs_log, case: str
) -> None:
    _, menu = assisted
    doc = window.ws.doc
    if case == "text":
        model = tmp_path / "notes.onnx"
        model.write_text("not a model")
        expected = "not a readable ONNX model"
    elif case == "no-metadata":
        graph = onnx.load(str(tiny_onnx))
        del graph.metadata_props[:]
        model = tmp_path / "foreign.onnx"
        onnx.save(graph, str(model))
        expected = "without ugpcl-studio metadata"
    else:  # a 3-class model on a volume whose table has 2 classes
        doc.items[1].labels.table = LabelTable.default(2)
        model, expected = tiny_onnx, "predicts 3 classes"
    labels_before = [item.labels.labels_zyx.copy() for item in doc.items]
    with qtbot.waitSignal(menu.failed, timeout=60000) as failed:
        menu.run_on_volume(model, 1)
    assert expected in failed.args[0] and dialogs_log["errors"] == [failed.args[0]]
    assert window.ws.doc is doc and not doc.modified
    assert all(item.latest_prediction() is None for item in doc.items)
    for item, before in zip(doc.items, labels_before, strict=True):
        assert np.array_equal(item.labels.labels_zyx, before)


def test_default_model_is_the_current_versions_export_and_versions_stay_on_their_volume(
    qtbot, window, assisted, tiny_onnx: Path, tmp_path: Path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    from app.ui import dialogs

    assist, menu = assisted
    doc = window.ws.doc
    run_dir = tmp_path / "runs" / "v001"
    run_dir.mkdir()
    alpha_shape = doc.items[0].volume.geometry.shape_zyx
    np.save(run_dir / PREDICTION_FILE, np.ones(alpha_shape, np.uint8))
    np.save(run_dir / UNCERTAINTY_FILE, np.full(alpha_shape, 0.5, np.float32))
    assist.session.add_version(ModelVersion(1, run_dir, "quick", 1, "abcdef123456"))
    assist.review.show_version()  # as the training controller does for a finished run
    assert assist.layers.pred_zyx is not None and assist.layers.pred_zyx.shape == alpha_shape
    menu.exports[run_dir / "model.pt"] = tiny_onnx
    assert menu.current_version_model() == tiny_onnx

    def no_file_dialog(*_args: object) -> tuple[str, str]:
        raise AssertionError("the current version's export is the default model")

    monkeypatch.setattr(QFileDialog, "getOpenFileName", no_file_dialog)
    asked: list[list[str]] = []
    monkeypatch.setattr(
        dialogs, "ask_volume", lambda _p, _t, names, current: asked.append(names) or 1
    )
    window.choose_volume(1)
    assert assist.layers.pred_zyx is None, "v1 (trained on alpha) is not drawn on beta"
    with qtbot.waitSignal(menu.ran_on_volume, timeout=60000):
        menu._ask_run_on_volume()
    assert asked == [["1. alpha (6×40×48)", "2. beta (8×32×36)"]]
    prediction = doc.items[1].latest_prediction()[1]
    assert assist.layers.pred_zyx is prediction
    alpha_before = doc.items[0].labels.labels_zyx.copy()
    voxels = assist.review.accept([3], AcceptOptions(confident_only=False))
    assert voxels == np.count_nonzero(prediction[3]), "beta's own result is accepted"
    assert np.array_equal(doc.items[1].labels.labels_zyx[3], prediction[3])
    assert np.array_equal(doc.items[0].labels.labels_zyx, alpha_before)
    window.choose_volume(0)
    assert np.array_equal(assist.layers.pred_zyx, np.ones(alpha_shape, np.uint8))


def test_export_without_a_trained_model_says_so(qtbot, window, assisted) -> None:
    _, menu = assisted
    with qtbot.waitSignal(menu.failed, timeout=2000) as failed:
        menu._ask_export()
    assert "No trained model yet" in failed.args[0]


def test_training_on_the_second_volume_keeps_its_version_and_suggestions_there(
    qtbot, window, assisted
) -> None:
    assist, _ = assisted
    window.choose_volume(1)
    (assist.training.runs_root / "script.txt").write_text("ok")
    with qtbot.waitSignal(assist.training.result_ready, timeout=30000) as blocker:
        assert assist.training.start("quick", "cpu")
    version = blocker.args[0]
    assert version.volume_index == 1 and version.prediction_zyx().shape == (8, 32, 36)
    assert assist.layers.pred_zyx.shape == (8, 32, 36)
    qtbot.waitUntil(lambda: bool(assist.session.suggestions), timeout=10000)

    window.choose_volume(0)
    assert assist.layers.pred_zyx is None, "beta's version is not drawn on alpha"
    cursor = list(window.ws.view.cursor_zyx)
    assist.review.next_suggestion()
    assert window.ws.view.cursor_zyx == cursor and "volume 2" in assist.panel.status.text()
    window.choose_volume(1)
    assist.review.next_suggestion()
    assert window.ws.view.slice_index("z") == assist.session.suggestions[0].slice_index


def test_a_result_for_a_closed_document_is_dropped(
    qtbot, window, assisted, tiny_onnx: Path, dialogs_log
) -> None:
    _, menu = assisted
    old = window.ws.doc
    with qtbot.waitSignal(menu.failed, timeout=60000) as failed:
        menu.run_on_volume(tiny_onnx, 1)
        window.ws.set_document(two_volumes())  # before the pool thread reports back
    assert "closed while the model ran" in failed.args[0]
    assert all(item.latest_prediction() is None for item in window.ws.doc.items)
    assert all(item.latest_prediction() is None for item in old.items)
