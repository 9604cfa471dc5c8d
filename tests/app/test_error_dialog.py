"""The error dialog: "Show details", the log file's path, Copy / Open log folder (issue 16,
item 1), and the unexpected-error hook that logs the traceback and shows it."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.jobs.tasks import TaskRunner
from app.state import app_log
from app.ui import dialogs, error_dialog


@pytest.fixture
def logging_to(tmp_path: Path):
    app_log.reset_logging()
    path = app_log.configure_logging(tmp_path)
    yield path
    app_log.reset_logging()


def _buttons(box: QMessageBox) -> list[str]:
    return [b.text() for b in box.buttons()]


def test_details_log_path_and_buttons(qtbot, logging_to: Path) -> None:
    box = error_dialog.error_box(None, "Cannot save", "The disk is full.", details="errno 28")
    qtbot.addWidget(box)
    assert box.text() == "The disk is full." and box.windowTitle() == "Cannot save"
    assert box.detailedText() == "errno 28"
    assert box.informativeText() == f"The log file is {logging_to}."
    assert {"OK", "Copy details", "Open log folder"} <= set(_buttons(box))
    copy = next(b for b in box.buttons() if b.text() == "Copy details")
    copy.click()
    clipboard = QApplication.clipboard().text()
    assert clipboard.startswith("Cannot save\n\nThe disk is full.\n\nerrno 28")
    assert clipboard.endswith(f"Log file: {logging_to}")


def test_open_log_folder_opens_the_folder(qtbot, logging_to: Path, monkeypatch) -> None:
    opened: list[Path] = []
    monkeypatch.setattr(error_dialog, "open_folder", lambda folder: opened.append(folder))
    box = error_dialog.error_box(None, "Model", "No model.")
    qtbot.addWidget(box)
    next(b for b in box.buttons() if b.text() == "Open log folder").click()
    assert opened == [logging_to.parent]
    assert box.detailedText() == ""  # a plain user error has no details


def test_without_a_log_file_it_says_stderr_and_offers_no_folder(qtbot) -> None:
    app_log.reset_logging()
    box = error_dialog.error_box(None, "Labels", "Label 3 is locked.")
    qtbot.addWidget(box)
    assert box.informativeText() == "The log goes to the terminal (stderr)."
    assert "Open log folder" not in _buttons(box)


def test_an_unexpected_task_error_shows_its_traceback(qtbot, logging_to: Path) -> None:
    runner = TaskRunner()
    messages: list[str] = []

    def broken() -> None:
        raise ZeroDivisionError("spacing is zero")

    runner.submit("open", broken, lambda _r: None, messages.append)
    qtbot.waitUntil(lambda: bool(messages), timeout=5000)
    runner.wait()
    assert messages[0].startswith("Unexpected error (ZeroDivisionError: spacing is zero).")
    box = error_dialog.error_box(None, "Cannot open", messages[0])
    qtbot.addWidget(box)
    details = box.detailedText()
    assert details.startswith("task open failed:\nTraceback (most recent call last):")
    assert 'raise ZeroDivisionError("spacing is zero")' in details
    logged = logging_to.read_text(encoding="utf-8")
    assert "ERROR   app.jobs.tasks" in logged and "ZeroDivisionError: spacing is zero" in logged


def test_show_error_keeps_its_three_argument_call(monkeypatch) -> None:
    shown: list[QMessageBox] = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box) or 0)
    dialogs.show_error(None, "Labels", "Label 3 is locked.")
    dialogs.show_error(None, "Model", "Export failed.", details="parity 0.2")
    assert [b.text() for b in shown] == ["Label 3 is locked.", "Export failed."]
    assert [b.detailedText() for b in shown] == ["", "parity 0.2"]
    for box in shown:
        box.deleteLater()


def test_unexpected_error_hook_logs_and_shows_the_traceback(
    window, logging_to: Path, monkeypatch
) -> None:
    from app.ui.main_window import _unexpected_error_dialog

    monkeypatch.setattr(sys, "excepthook", lambda *_: None)  # no traceback on the test's stderr
    seen: list[dict] = []
    monkeypatch.setattr(
        dialogs,
        "show_error",
        lambda _p, title, message, details=None: seen.append(
            {"title": title, "message": message, "details": details}
        ),
    )
    hook = _unexpected_error_dialog(window)
    try:
        {}["slice"]
    except KeyError as err:
        hook(KeyError, err, err.__traceback__)
    assert seen[0]["title"] == "Unexpected error"
    assert seen[0]["message"].startswith("KeyError: 'slice'\n\nThe action was not completed.")
    assert seen[0]["details"].startswith("Traceback (most recent call last):")
    assert seen[0]["details"].rstrip().endswith("KeyError: 'slice'")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "ERROR   app.ui.main_window [MainThread] unexpected error" in logging_to.read_text()


def test_an_error_repeating_while_its_dialog_is_open_is_logged_not_stacked(
    window, logging_to: Path, monkeypatch
) -> None:
    """The dialog runs its own event loop: an error in a timer or a redraw fires again while
    it is open, and each one opened another modal dialog inside the last (dozens stacked,
    and the recursion grew until Python gave up). While one is open, later ones are logged."""
    from app.ui.main_window import _unexpected_error_dialog

    monkeypatch.setattr(sys, "excepthook", lambda *_: None)
    shown: list[str] = []

    def show_error(_p, title, message, details=None) -> None:  # a redraw fails again meanwhile
        shown.append(message)
        if len(shown) < 5:
            fail(len(shown))

    def fail(n: int) -> None:
        try:
            raise ValueError(f"redraw {n}")
        except ValueError as err:
            hook(ValueError, err, err.__traceback__)

    monkeypatch.setattr(dialogs, "show_error", show_error)
    hook = _unexpected_error_dialog(window)
    fail(0)
    assert len(shown) == 1 and shown[0].startswith("ValueError: redraw 0")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = logging_to.read_text()
    assert "ValueError: redraw 0" in text and "ValueError: redraw 1" in text
    fail(2)  # once the dialog is closed, the next error shows again
    assert len(shown) == 2
