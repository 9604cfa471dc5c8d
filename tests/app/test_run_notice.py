"""Notices when training ends while the window is in the background (issue 16)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSystemTrayIcon

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document, open_assist

from app.ui import run_notice
from app.ui.run_notice import RunNotifier


class _Hook:
    def __init__(self) -> None:
        self.slots: list[Any] = []

    def connect(self, slot: Any) -> None:
        self.slots.append(slot)


class FakeTray:
    """Stands in for ``QSystemTrayIcon`` (the offscreen platform has no tray)."""

    MessageIcon = QSystemTrayIcon.MessageIcon
    made: ClassVar[list[FakeTray]] = []

    def __init__(self, icon: Any, parent: Any) -> None:
        self.icon, self.visible, self.messages = icon, False, []
        self.messageClicked, self.activated = _Hook(), _Hook()
        FakeTray.made.append(self)

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.tip = text

    def show(self) -> None:
        self.visible = True

    def hide(self) -> None:
        self.visible = False

    def showMessage(self, *args: Any) -> None:  # noqa: N802 - Qt's name
        self.messages.append(args)


@pytest.fixture
def desktop(monkeypatch):
    """Fake tray class and taskbar flash; ``desktop["tray"]`` / ``["background"]`` say what
    the desktop reports."""
    state: dict[str, Any] = {"tray": True, "background": True, "flashed": [], "order": []}
    FakeTray.made = []
    monkeypatch.setattr(run_notice, "QSystemTrayIcon", FakeTray)
    monkeypatch.setattr(run_notice, "flash", lambda w: state["flashed"].append(w))
    monkeypatch.setattr(RunNotifier, "tray_available", lambda self: state["tray"])
    monkeypatch.setattr(RunNotifier, "in_background", lambda self: state["background"])
    return state


def test_in_the_background_with_a_tray_a_system_notification(window, desktop) -> None:
    window.statusBar().showMessage("before")
    notifier = RunNotifier(window)
    assert notifier.run_ended("failed", "The loss became NaN.") == "tray"
    (tray,) = FakeTray.made
    assert tray.visible and tray.tip == "UGPCL Studio" and not tray.icon.isNull()
    assert tray.messages == [
        ("Training failed", "The loss became NaN.", QSystemTrayIcon.MessageIcon.Critical, 10000)
    ]
    assert notifier.run_ended("finished", "Model v2 ready") == "tray"
    assert len(FakeTray.made) == 1  # one icon for every notice
    assert tray.messages[1][:3] == (
        "Training finished",
        "Model v2 ready",
        QSystemTrayIcon.MessageIcon.Information,
    )
    assert desktop["flashed"] == [] and window.statusBar().currentMessage() == "before"
    assert tray.messageClicked.slots and tray.activated.slots  # a click brings the window back


def test_in_the_background_without_a_tray_an_in_app_notice(window, desktop) -> None:
    desktop["tray"] = False
    notifier = RunNotifier(window)
    assert notifier.run_ended("stopped", "Model v1 stopped, model kept.") == "alert"
    assert desktop["flashed"] == [window]
    assert window.statusBar().currentMessage() == "Training stopped: Model v1 stopped, model kept."
    assert FakeTray.made == []
    assert notifier.sent == [("alert", "Training stopped", "Model v1 stopped, model kept.")]


def test_nothing_while_the_window_is_active(window, desktop) -> None:
    desktop["background"] = False
    window.statusBar().showMessage("before")
    notifier = RunNotifier(window)
    for outcome in ("finished", "stopped", "failed", "refined"):
        assert notifier.run_ended(outcome, "text") is None
    assert FakeTray.made == [] and desktop["flashed"] == [] and notifier.sent == []
    assert window.statusBar().currentMessage() == "before"


def test_minimised_or_another_window_active_is_the_background(window, qtbot) -> None:
    notifier = RunNotifier(window)
    assert window.isActiveWindow() and not notifier.in_background()
    window.showMinimized()
    qtbot.waitUntil(window.isMinimized)
    assert notifier.in_background()
    window.showNormal()
    qtbot.waitUntil(lambda: not window.isMinimized())
    assert not notifier.in_background()


@pytest.fixture
def assist(window, tmp_path: Path, monkeypatch):
    controller = open_assist(window, tmp_path / "runs", monkeypatch, box_document((2, 5, 9)))
    controller.panel.refine.setChecked(False)
    yield controller
    controller.supervisor.shutdown(2)


def run(qtbot, assist, text: str, signal: Any) -> None:
    (assist.training.runs_root / "script.txt").write_text(text)
    with qtbot.waitSignal(signal, timeout=20000):
        qtbot.mouseClick(assist.panel.start_button, Qt.MouseButton.LeftButton)


def test_a_finished_run_in_the_background_is_notified(qtbot, assist, desktop) -> None:
    run(qtbot, assist, "ok", assist.training.result_ready)
    ((channel, title, text),) = assist.notifier.sent
    assert (channel, title) == ("tray", "Training finished")
    assert text.startswith("Model v1 ready")
    assert FakeTray.made[0].messages[0][1] == text
    # refining that ends by itself (rounds run in the background) is long work finished too
    assist.training.refine_ended.emit("No better model in 2 rounds; v1 stays shown.")
    assert assist.notifier.sent[-1] == (
        "tray",
        "Refining finished",
        "No better model in 2 rounds; v1 stays shown.",
    )


def test_a_failed_run_is_notified_before_the_error_dialog(
    qtbot, assist, desktop, dialogs_log
) -> None:
    desktop["tray"] = False
    errors_when_notified: list[int] = []
    assist.training.run_ended.connect(
        lambda *_: errors_when_notified.append(len(dialogs_log["errors"]))
    )
    run(qtbot, assist, "fail", assist.training.run_failed)
    assert errors_when_notified == [0]  # the modal dialog had not opened yet
    assert assist.notifier.sent[0][:2] == ("alert", "Training failed")
    assert "NaN" in assist.notifier.sent[0][2]
    assert desktop["flashed"] == [assist.window]
    assert dialogs_log["errors"]  # the dialog still comes


def test_a_stopped_run_is_notified_as_stopped(qtbot, assist, desktop) -> None:
    (assist.training.runs_root / "script.txt").write_text("wait")
    with qtbot.waitSignal(assist.session.progressed, timeout=20000):
        qtbot.mouseClick(assist.panel.start_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(assist.training.result_ready, timeout=20000):
        qtbot.mouseClick(assist.panel.stop_button, Qt.MouseButton.LeftButton)
    ((_channel, title, text),) = assist.notifier.sent
    assert title == "Training stopped" and "stopped, model kept" in text


def test_an_active_window_gets_only_the_panel_update(qtbot, assist, desktop) -> None:
    desktop["background"] = False
    run(qtbot, assist, "ok", assist.training.result_ready)
    assert assist.notifier.sent == [] and FakeTray.made == [] and desktop["flashed"] == []
    assert "v1 ready" in assist.panel.status.text()
