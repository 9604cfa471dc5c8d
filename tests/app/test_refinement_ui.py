"""Time budget and keep refining through the window, with the scripted child (and once real)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document, open_assist

from app.state.document import Document
from ugpcl_engine.training.run_request import RunRequest

LABELED = (2, 5, 9, 11)  # four: enough for a held-out slice


def labeled_document() -> Document:
    """The box volume (``training_fakes.box_document``) with four labeled slices."""
    return box_document(LABELED)  # type: ignore[no-any-return]


@pytest.fixture
def assist(window, tmp_path: Path, monkeypatch):
    """The window with the assist loop on a scripted child and the labeled document open."""
    controller = open_assist(window, tmp_path / "runs", monkeypatch, labeled_document())
    yield controller
    controller.supervisor.shutdown(2)


class Recorder:
    """What the controller reported: judged rounds and the end of refining."""

    def __init__(self, controller) -> None:
        self.judged: list[tuple[int, bool]] = []
        self.ended: list[str] = []
        controller.training.round_judged.connect(
            lambda v, shown: self.judged.append((v.number, shown))
        )
        controller.training.refine_ended.connect(self.ended.append)


def start(qtbot, controller, budget: int, refine: bool, script: str, dice: str = ""):
    """Set the panel, press Start and wait for the first model; return its version."""
    from PySide6.QtCore import Qt

    (controller.training.runs_root / "script.txt").write_text(script)
    if dice:
        (controller.training.runs_root / "dice.txt").write_text(dice)
    controller.panel.budget.setValue(budget)
    controller.panel.refine.setChecked(refine)
    with qtbot.waitSignal(controller.training.result_ready, timeout=20000) as blocker:
        qtbot.mouseClick(controller.panel.start_button, Qt.MouseButton.LeftButton)
    return blocker.args[0]


def request_of(version) -> RunRequest:
    return version.folder.read_request()


def round_running(controller) -> bool:
    pending = controller.training.pending
    return controller.supervisor.running and pending is not None and pending.round > 0


def test_the_panel_budget_reaches_the_run_spec(qtbot, assist) -> None:
    assert assist.panel.budget.value() == 60 and assist.panel.refine.isChecked()  # quick
    statuses: list[str] = []
    assist.supervisor.started.connect(lambda _: statuses.append(assist.panel.status.text()))
    clicked = time.time()
    version = start(qtbot, assist, 45, False, "ok")
    request = request_of(version)
    assert request.spec.training.time_budget == 45.0
    # the budget counts from the click: the child takes its start-up out of it
    assert request.requested_at is not None and clicked <= request.requested_at <= time.time()
    assert statuses and "45 s budget" in statuses[0]
    version = start(qtbot, assist, 0, False, "ok")  # 0: no budget, the preset's steps
    assert request_of(version).spec.training.time_budget is None
    assist.panel.preset.setCurrentText("paper")  # a preset without a budget of its own
    assert assist.panel.budget.value() == 0 and not assist.panel.refine.isChecked()


def test_refining_keeps_a_better_round_and_ends_on_a_worse_one(qtbot, assist) -> None:
    seen = Recorder(assist)
    first = start(qtbot, assist, 30, True, "ok", "0.50 0.60 0.55")
    qtbot.waitUntil(lambda: bool(seen.ended), timeout=30000)
    session = assist.session
    assert [v.number for v in session.versions] == [1, 2, 3]
    assert seen.judged == [(2, True), (3, False)]
    second, third = session.versions[1], session.versions[2]
    assert session.current_version is second and assist.session.shown_version is second
    assert assist.panel.shown.text().startswith("Showing v2")
    assert "did not improve" in seen.ended[0] and "v2 stays shown" in assist.panel.status.text()
    base = request_of(first)
    for round_version, warm in ((second, first), (third, second)):
        request = request_of(round_version)
        assert request.init == str(warm.checkpoint)  # warm start from the best so far
        assert request.holdout_slice == base.holdout_slice is not None  # scores compare
        assert request.preview_slice is None  # the best model's overlay stays on screen
        assert request.spec.training.time_budget == pytest.approx(
            base.spec.training.time_budget, abs=2.0
        )
    assert not assist.supervisor.running and assist.panel.start_button.isEnabled()


def test_no_round_without_keep_refining(qtbot, assist) -> None:
    seen = Recorder(assist)
    start(qtbot, assist, 30, False, "ok", "0.50 0.90")
    qtbot.wait(400)
    assert not assist.supervisor.running and len(assist.session.versions) == 1
    assert seen.judged == [] and not assist.training.refinement.active


def test_stop_during_refinement_keeps_the_best_model(qtbot, assist) -> None:
    seen = Recorder(assist)
    first = start(qtbot, assist, 30, True, "ok wait", "0.70 0.60")
    qtbot.waitUntil(lambda: round_running(assist), timeout=10000)
    qtbot.waitUntil(lambda: bool(assist.session.losses["sup"]), timeout=10000)
    assist.panel.stop_button.click()
    qtbot.waitUntil(lambda: bool(seen.ended), timeout=20000)
    session = assist.session
    assert [v.number for v in session.versions] == [1, 2]
    assert session.versions[1].stopped_early and seen.judged == [(2, False)]
    assert session.current_version is first and assist.session.shown_version is first
    assert "You stopped refining" in seen.ended[0]
    qtbot.wait(300)
    assert not assist.supervisor.running and len(session.versions) == 2  # no further round


def test_editing_labels_stops_refining(qtbot, assist, window) -> None:
    seen = Recorder(assist)
    start(qtbot, assist, 30, True, "ok wait", "0.70 0.80")
    qtbot.waitUntil(lambda: round_running(assist), timeout=10000)
    window.ws.editor.dab("z", 4, (20.0, 20.0))  # the user paints during refinement
    qtbot.waitUntil(lambda: bool(seen.ended), timeout=20000)
    assert seen.ended[0].startswith("Labels changed")
    assert "Labels changed" in assist.panel.status.text()
    # the round that was running (old labels, like the model shown) is judged as usual
    assert seen.judged == [(2, True)] and assist.session.current_version.number == 2
    qtbot.wait(300)
    assert not assist.supervisor.running and len(assist.session.versions) == 2


def test_labels_changed_before_the_first_round_means_no_round(qtbot, assist, window) -> None:
    """An edit while the first run trains: its model is shown, refining never trains on the
    stale snapshot."""
    seen = Recorder(assist)
    (assist.training.runs_root / "script.txt").write_text("wait")
    assist.panel.budget.setValue(30)
    assert assist.training.start(*assist.panel.choice())
    qtbot.waitUntil(lambda: bool(assist.session.losses["sup"]), timeout=10000)
    window.ws.editor.dab("z", 4, (20.0, 20.0))
    with qtbot.waitSignal(assist.training.result_ready, timeout=20000):
        assist.supervisor.stop()  # ends the run like its budget would
    qtbot.waitUntil(lambda: bool(seen.ended), timeout=10000)
    assert seen.ended[0].startswith("Labels changed") and seen.judged == []
    assert not assist.supervisor.running and len(assist.session.versions) == 1


@pytest.mark.slow  # timing: needs a machine that is not busy with other work
def test_the_first_model_is_shown_within_the_budget(qtbot, window, tmp_path, monkeypatch) -> None:
    """The real child on the chest CT: a 25 s budget on a preset asking for far more steps; the
    overlay is on screen within the budget, counted from the click."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    from app.state.files import load_sample
    from app.ui import dialogs
    from app.ui.assist import install_assist

    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *_: QMessageBox.StandardButton.Discard)
    controller = install_assist(window, runs_root=tmp_path / "runs")
    window.ws.set_document(load_sample())
    controller.training.overrides = {"steps": 100_000, "max_input_size": 64, "log_every": 5}
    controller.panel.budget.setValue(25)
    controller.panel.refine.setChecked(False)
    try:
        begun = time.perf_counter()
        with qtbot.waitSignal(controller.training.result_ready, timeout=60000) as blocker:
            qtbot.mouseClick(controller.panel.start_button, Qt.MouseButton.LeftButton)
        seconds = time.perf_counter() - begun
    finally:
        controller.supervisor.shutdown(5)
    version = blocker.args[0]
    assert seconds <= 25.0, f"the first model took {seconds:.1f} s"
    assert 0 < version.metrics["steps"] < 100_000  # the budget, not the preset, ended it
    assert controller.overlays.items["z"]["uncertainty"].isVisible()
