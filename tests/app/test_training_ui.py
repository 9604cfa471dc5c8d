"""The assist loop in the window with a scripted child: progress, preview, results, review."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import HIGH, UNCERTAIN_SLICE, box_document, open_assist

from app.state.document import Document
from app.state.prediction_edits import AcceptOptions
from ugpcl_engine.training.events import Preview, Progress

LABELED = (2, 5, 9)


def small_document() -> Document:
    """The box volume (``training_fakes.box_document``) with three labeled slices."""
    return box_document(LABELED)  # type: ignore[no-any-return]


@pytest.fixture
def assist(window, tmp_path: Path, monkeypatch):
    """The window with the assist loop on a scripted child and the small document open; one
    run per Start (refining: test_refinement_ui)."""
    controller = open_assist(window, tmp_path / "runs", monkeypatch, small_document(), False)
    yield controller
    controller.supervisor.shutdown(2)


def is_progress(event: object) -> bool:
    return isinstance(event, Progress)


def script(controller, text: str) -> None:
    (controller.training.runs_root / "script.txt").write_text(text)


def train_once(qtbot, controller, text: str = "ok"):
    from PySide6.QtCore import Qt

    script(controller, text)
    with qtbot.waitSignal(controller.training.result_ready, timeout=20000) as blocker:
        qtbot.mouseClick(controller.panel.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(controller.session.suggestions), timeout=5000)
    return blocker.args[0]


def test_a_run_shows_progress_curves_preview_and_result(qtbot, assist, window) -> None:
    window.ws.view.set_slice("z", 4, 12)
    previews = []
    assist.supervisor.reported.connect(lambda e: isinstance(e, Preview) and previews.append(e))
    version = train_once(qtbot, assist)
    assert version.number == 1 and version.labeled_count == 3
    assert len(version.label_hash) == 12
    assert version.prediction_zyx().shape == (12, 40, 50)
    assert previews and previews[0].slice_index == 4  # the slice the user looked at
    assert [s for s, _ in assist.session.losses["sup"]] == [1, 2, 3, 4, 5, 6]
    assist.panel.redraw_losses()
    xs, _ys = assist.panel.curves["sup"].getData()
    assert list(xs) == [1, 2, 3, 4, 5, 6]
    assert assist.panel.start_button.isEnabled() and not assist.panel.stop_button.isEnabled()
    z_items = assist.overlays.items["z"]
    assert z_items["prediction"].isVisible() and z_items["uncertainty"].isVisible()
    assert "v1" in assist.panel.versions.item(0).text()


def test_suggestions_rank_the_uncertain_slice_first_and_n_jumps(qtbot, assist, window) -> None:
    train_once(qtbot, assist)
    first = assist.session.suggestions[0]
    assert first.slice_index == UNCERTAIN_SLICE
    assert first.region_nats == pytest.approx(HIGH, rel=1e-3)
    assert all(s.slice_index not in LABELED for s in assist.session.suggestions)
    assert assist.panel.suggestions.count() == len(assist.session.suggestions)
    # each line says why: the uncertainty and how far the slice lies from a label
    gap = min(abs(UNCERTAIN_SLICE - z) for z in LABELED)
    text = assist.panel.suggestions.item(0).text()
    assert text.startswith(f"slice {UNCERTAIN_SLICE} · uncertainty ")
    assert f"· {gap} slices from a label" in text and "unsure region" in text
    window.ws.view.set_slice("z", 0, 12)
    assist.actions["Next suggestion"].trigger()
    assert window.ws.view.slice_index("z") == UNCERTAIN_SLICE
    assert assist.panel.suggestions.currentRow() == 0  # the list highlights the jump
    assist.actions["Next suggestion"].trigger()
    row = assist.panel.suggestions.currentRow()
    assert row > 0
    assert window.ws.view.slice_index("z") == assist.session.suggestions[row].slice_index
    colours = window.views["z"].strip._colors
    assert colours is not None and colours.shape == (12, 4)
    assert colours[UNCERTAIN_SLICE, 0] > colours[0, 0]  # hotter where unsure


def test_accept_keeps_painted_voxels_and_is_one_undo_step(qtbot, assist, window) -> None:
    train_once(qtbot, assist)
    doc = window.ws.doc
    before = doc.labels_zyx.copy()
    window.ws.view.set_slice("z", 4, 12)
    assert assist.accept_current_slice() == 20 * 30  # the bright box of slice 4
    assert (doc.labels_zyx[4] == (doc.item.volume.image_zyx[4] > 0)).all()
    assert not doc.is_labeled("z", 4)  # labeled only when the user confirms
    assert (doc.labels_zyx[LABELED[0]] == before[LABELED[0]]).all()
    window.undo()
    assert (doc.labels_zyx == before).all()
    # confident only: the uncertain slice is left alone
    assert assist.review.accept([UNCERTAIN_SLICE], AcceptOptions(True, 0.3, False)) == 0
    assert assist.review.accept([UNCERTAIN_SLICE], AcceptOptions(False, 0.3, False)) == 600
    assert assist.panel.confirm_button.isEnabled()
    assist.review.confirm_accepted()
    assert doc.is_labeled("z", UNCERTAIN_SLICE)


def test_label_check_flags_confident_disagreement(qtbot, assist, window) -> None:
    train_once(qtbot, assist)
    doc = window.ws.doc
    doc.labels_zyx[5, 0:2, 0:3] = 1  # a painting mistake on labeled slice 5
    assist.review.set_label_check(True)
    mask = assist.layers.check_zyx
    assert mask is not None and int(mask.sum()) == 6 and mask[5, 0:2, 0:3].all()
    assert "6 voxels" in assist.panel.check_count.text()
    window.ws.view.set_slice("z", 5, 12)
    assert assist.overlays.items["z"]["check"].isVisible()
    assist.review.set_label_check(False)
    assert not assist.overlays.items["z"]["check"].isVisible()


def test_failure_is_reported_and_labels_untouched(qtbot, assist, window, dialogs_log) -> None:
    from PySide6.QtCore import Qt

    before = window.ws.doc.labels_zyx.copy()
    script(assist, "fail")
    with qtbot.waitSignal(assist.training.run_failed, timeout=20000) as blocker:
        qtbot.mouseClick(assist.panel.start_button, Qt.MouseButton.LeftButton)
    assert "NaN" in blocker.args[0]
    assert any("NaN" in m for m in dialogs_log["errors"])
    assert "smaller preset" in assist.panel.status.text()
    assert (window.ws.doc.labels_zyx == before).all()
    assert assist.panel.start_button.isEnabled()  # the user can retry
    script(assist, "crash")
    with qtbot.waitSignal(assist.training.run_failed, timeout=20000) as blocker:
        assist.training.start("quick", "cpu")
    assert "exit code 3" in blocker.args[0]


def test_versions_roll_back_compare_and_warm_start(qtbot, assist, window) -> None:
    first = train_once(qtbot, assist)
    second = train_once(qtbot, assist)
    session = assist.session
    assert [v.number for v in session.versions] == [1, 2]
    assert session.current == 1 and session.compare == 0
    request = (second.run_dir / "request.json").read_text()
    assert str(first.checkpoint) in request  # retrain warm-starts from the previous model
    assist.actions["Show current / compared version"].trigger()
    assert assist.session.shown_version is first
    assist.panel.versions.setCurrentRow(0)
    assist.panel.rollback_button.click()
    assert session.current_version is first and assist.session.shown_version is first


def test_stop_keeps_the_model(qtbot, assist) -> None:
    script(assist, "wait")
    with qtbot.waitSignal(assist.supervisor.reported, timeout=20000, check_params_cb=is_progress):
        assist.training.start("quick", "cpu")
    with qtbot.waitSignal(assist.training.result_ready, timeout=20000) as blocker:
        assist.panel.stop_button.click()
    assert blocker.args[0].stopped_early
    assert "stopped early" in assist.panel.versions.item(0).text()


def test_quit_during_training_asks_then_stops(qtbot, assist, window, monkeypatch) -> None:
    from app.ui import assist as assist_module

    answers = [False, True]
    monkeypatch.setattr(assist_module, "ask_stop_training", lambda _p: answers.pop(0))
    script(assist, "sleep")
    assist.training.start("quick", "cpu")
    pid = assist.supervisor.pid
    assert not window.close()  # asked, the user said no
    assert assist.supervisor.running
    window.ws.doc.modified = False
    assert window.close()
    assert not assist.supervisor.running and pid is not None


def test_closing_the_document_during_training_asks_then_discards_the_run(
    qtbot, assist, window, monkeypatch
) -> None:
    from app.ui import main_window as main_window_module

    answers = [False, True]
    monkeypatch.setattr(main_window_module, "ask_stop_training", lambda _p: answers.pop(0))
    script(assist, "sleep")
    assist.training.start("quick", "cpu")
    window.ws.doc.modified = False
    window.close_document()  # asked, the user said no
    assert window.ws.doc is not None and assist.supervisor.running
    window.close_document()
    assert window.ws.doc is None
    qtbot.waitUntil(lambda: not assist.supervisor.running, timeout=10000)
    assert assist.session.versions == [] and not answers


def test_long_suggestions_wrap_in_a_narrow_panel(qtbot) -> None:
    from app.ui.training_panel import TrainingPanel

    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.resize(400, 750)
    panel.tabs.setCurrentIndex(1)
    panel.show()
    qtbot.waitExposed(panel)
    line = "slice 19 · score 0.98 · unsure region at row 47, col 65 (1.08 nats)"
    panel.set_suggestions([line, "slice 3 · score 0.10"])
    qtbot.wait(20)
    items = panel.suggestions
    assert items.horizontalScrollBar().maximum() == 0  # nothing cut off at the right
    wrapped, short = (items.visualItemRect(items.item(k)).height() for k in (0, 1))
    assert wrapped > short


def test_label_check_stays_on_for_the_next_document(qtbot, assist, window) -> None:
    """The bug: the check kept its own on/off flag, cleared for a new document while the box
    stayed ticked, so the next document's check was never drawn until toggled twice."""
    train_once(qtbot, assist)
    assist.panel.layer_boxes["check"][0].setChecked(True)
    assert assist.layers.check_zyx is not None
    window.ws.set_document(small_document())
    assert assist.panel.layer_boxes["check"][0].isChecked() and assist.layers.check_zyx is None
    train_once(qtbot, assist)
    mask = assist.layers.check_zyx
    assert mask is not None and mask.shape == (12, 40, 50)
    assert assist.panel.check_count.text().endswith("disagree confidently")


def test_the_panel_says_which_slices_are_already_labeled(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With --sample three axial slices are painted: the panel says so instead of asking to
    paint (issue 16); a document without labeled slices still asks to paint."""
    from app.assist.run_plan import ready_text
    from app.state.files import load_sample

    assist = open_assist(window, tmp_path / "runs", monkeypatch, load_sample())
    text = assist.panel.status.text()
    assert text.startswith("3 axial slices are already labeled (5, 17, 28)"), text
    assert ready_text([False, False]) == "Paint a few slices, then press Start."


def test_start_waits_for_a_labeled_slice(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Start training is disabled, with a tooltip saying why, until a slice is labeled."""
    from app.state.files import load_sample

    doc = load_sample()
    for marks in doc.item.labeled.values():
        marks[:] = False
    doc.item.labels.labels_zyx[:] = 0
    assist = open_assist(window, tmp_path / "runs", monkeypatch, doc)
    button = assist.panel.start_button
    assert not button.isEnabled() and "Paint at least one axial slice" in button.toolTip()
    window.ws.editor.dab("z", 9, (40.0, 40.0))  # painting marks the slice labeled
    assert button.isEnabled() and "Paint" not in button.toolTip()
