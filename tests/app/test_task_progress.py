"""Progress with Cancel in the status bar for open, save, export and model runs (issue 16,
item 3): the widget follows the task runner; a cancelled save keeps the old file, a cancelled
open keeps the document."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget

sys.path.insert(0, str(Path(__file__).parent))

from test_volume_switching import two_volumes

from app.jobs.tasks import Task, TaskRunner
from app.state import files
from app.ui import file_actions
from app.ui.task_progress import TaskProgress
from ugpcl_engine import CancelledError, load_project, save_project

WAIT = 10.0  # seconds a fake task waits for the test at most (never reached when it passes)


@pytest.fixture
def runner(qtbot):
    tasks = TaskRunner()
    yield tasks
    tasks.cancel_all()
    assert tasks.wait(20000)


def _shown_in_a_window(qtbot, runner: TaskRunner, **options) -> TaskProgress:
    holder = QWidget()  # like the status bar: shown, the widget hidden until a task shows
    widget = TaskProgress(runner, holder, **options)
    qtbot.addWidget(holder)
    holder.show()
    assert not widget.isVisible()
    widget.holder = holder  # keeps the holder (and so the widget) alive
    return widget


@pytest.fixture
def widget(qtbot, runner):
    return _shown_in_a_window(qtbot, runner, delay_ms=0)


class SlowModelRun(Task):
    """A model-like task: counts 100 steps of progress and stops when cancelled."""

    kind = "run"

    def __init__(self) -> None:
        super().__init__()
        self.at_step = threading.Event()

    def work(self) -> int:
        self.report_progress(3, 100)
        self.at_step.set()
        if self._cancel.wait(WAIT):
            raise CancelledError("stopped")
        return 100


def test_a_slow_read_shows_a_busy_bar_and_cancel_drops_its_result(qtbot, runner, widget) -> None:
    release = threading.Event()
    outcome: list[str] = []
    task = runner.submit(
        "open",
        lambda: release.wait(WAIT) and "document",
        lambda result: outcome.append(f"done {result}"),
        lambda message: outcome.append(message),
        cancellable=True,
        on_cancelled=lambda: outcome.append("cancelled"),
    )
    qtbot.waitUntil(widget.isVisible, timeout=5000)
    assert widget.shown is task and widget.title.text() == "Opening…"
    assert widget.bar.maximum() == 0  # busy: a read cannot say how far it is
    assert widget.cancel_button.isEnabled()
    widget.cancel_button.click()
    assert widget.title.text() == "Cancelling…" and not widget.cancel_button.isEnabled()
    with qtbot.waitSignal(task.signals.cancelled, timeout=5000):
        release.set()  # the read finishes; its result is dropped
    qtbot.waitUntil(lambda: not widget.isVisible(), timeout=5000)
    assert outcome == ["cancelled"] and widget.shown is None


def test_a_model_run_shows_its_progress_and_stops_on_cancel(qtbot, runner, widget) -> None:
    task = runner.start(SlowModelRun())
    qtbot.waitUntil(lambda: widget.bar.maximum() == 100 and widget.bar.value() == 3, timeout=5000)
    assert widget.title.text() == "Running the model…" and widget.bar.format() == "3/100"
    with qtbot.waitSignal(task.signals.cancelled, timeout=5000):
        widget.cancel()
    qtbot.waitUntil(lambda: not widget.isVisible(), timeout=5000)


def test_a_quick_task_never_shows(qtbot, runner) -> None:
    widget = _shown_in_a_window(qtbot, runner)  # the real 300 ms delay
    done: list[int] = []
    runner.submit("save", lambda: 1, done.append, lambda _m: None)
    qtbot.waitUntil(lambda: done == [1], timeout=5000)
    qtbot.wait(widget.delay_ms + 100)  # let the delay pass: the task is over, nothing to show
    assert not widget.isVisible() and widget.shown is None


def test_background_kinds_stay_silent(qtbot, runner, widget) -> None:
    release = threading.Event()
    task = runner.submit("rank", lambda: release.wait(WAIT), lambda _r: None, lambda _m: None)
    qtbot.wait(50)
    assert not widget.isVisible()
    with qtbot.waitSignal(task.signals.finished, timeout=5000):
        release.set()


def test_the_newest_of_two_tasks_shows_then_the_other(qtbot, runner, widget) -> None:
    first, second = threading.Event(), threading.Event()
    a = runner.submit("open", lambda: first.wait(WAIT), lambda _r: None, lambda _m: None)
    b = runner.submit("save", lambda: second.wait(WAIT), lambda _r: None, lambda _m: None)
    qtbot.waitUntil(lambda: widget.shown is b, timeout=5000)
    assert widget.title.text() == "Saving…"
    assert not widget.cancel_button.isEnabled()  # a plain submit cannot be cancelled
    with qtbot.waitSignal(b.signals.finished, timeout=5000):
        second.set()
    qtbot.waitUntil(lambda: widget.shown is a, timeout=5000)
    with qtbot.waitSignal(a.signals.finished, timeout=5000):
        first.set()
    qtbot.waitUntil(lambda: not widget.isVisible(), timeout=5000)


# -- the engine's save stops before it replaces the old file ----------------------------------
def test_save_project_cancelled_before_the_replace_keeps_the_old_file(tmp_path: Path) -> None:
    doc = two_volumes()
    path = tmp_path / "p.ugpcl"
    files.save_snapshot(path, files.snapshot(doc, path))
    before = path.read_bytes()
    project = files.snapshot(doc, path).project
    calls: list[int] = []

    def cancelled() -> bool:  # false for each volume, true at the last check (before replace)
        calls.append(1)
        return len(calls) > len(project.volumes)

    with pytest.raises(CancelledError):
        save_project(path, project, cancelled)
    assert len(calls) == len(project.volumes) + 1
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ugpcl"]  # no temp file left
    assert len(load_project(path).volumes) == 2


# -- the window: Cancel on a save and on an open ----------------------------------------------
def _wait_cancelled(qtbot, window, kind: str) -> None:
    qtbot.waitUntil(lambda: window.progress.isVisible(), timeout=5000)
    task = window.progress.shown
    assert task is not None and task.kind == kind
    with qtbot.waitSignal(task.signals.cancelled, timeout=10000):
        window.progress.cancel_button.click()
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=5000)


def test_cancelled_save_leaves_the_project_file_and_the_modified_flag(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    window.ws.set_document(two_volumes())
    doc = window.ws.doc
    path = tmp_path / "p.ugpcl"
    with qtbot.waitSignal(window.files.saved, timeout=20000):
        window.files.save(path)
    before = path.read_bytes()
    window.ws.editor.set_mark("z", 4, True)  # an edit: the document is modified again
    assert doc.modified
    real_save = files.save_snapshot

    def slow_save(target, snap, cancelled):
        while not cancelled():  # the user is about to press Cancel
            threading.Event().wait(0.01)
        return real_save(target, snap, cancelled)

    monkeypatch.setattr(file_actions, "save_snapshot", slow_save)
    window.progress.delay_ms = 0
    window.files.save()
    _wait_cancelled(qtbot, window, "save")
    assert path.read_bytes() == before
    assert doc.modified and window.ws.doc is doc
    assert window.statusBar().currentMessage() == "Saving cancelled; p.ugpcl was not changed."
    assert dialogs_log["errors"] == []
    reloaded = load_project(path)
    assert not reloaded.volumes[0].labeled_slices["z"][4]  # the edit is not in the file


def test_cancelled_open_keeps_the_current_document(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    window.ws.set_document(two_volumes())
    doc = window.ws.doc
    release = threading.Event()

    def slow_load(entry, progress, cancelled):
        release.wait(WAIT)
        return two_volumes()

    monkeypatch.setattr(file_actions, "load_paths", slow_load)
    window.progress.delay_ms = 0
    window.files.open_paths([tmp_path / "big.nii.gz"])
    qtbot.waitUntil(lambda: window.progress.isVisible(), timeout=5000)
    task = window.progress.shown
    assert task is not None and task.kind == "open"
    window.progress.cancel_button.click()
    with qtbot.waitSignal(task.signals.cancelled, timeout=10000):
        release.set()
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=5000)
    assert window.ws.doc is doc
    assert window.statusBar().currentMessage() == "Opening cancelled; nothing was changed."
    assert window.files.recent.paths() == [] and dialogs_log["errors"] == []


# -- reads report progress between files and dataset cases, and stop there on Cancel ---------
def test_a_dataset_open_reports_each_case_and_stops_on_cancel(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
    from synthetic_datasets import write_msd

    root = write_msd(tmp_path / "msd")
    seen: list[tuple[int, int]] = []
    doc = files.load_paths([root], lambda d, t: seen.append((d, t)), lambda: False)
    assert seen == [(k, 5) for k in range(1, 6)] and len(doc.items) == 5
    seen.clear()
    with pytest.raises(CancelledError):
        files.load_paths([root], lambda d, t: seen.append((d, t)), lambda: len(seen) >= 2)
    assert seen == [(1, 5), (2, 5)]  # stopped before the third case


def test_several_files_report_progress_and_stop_between_them(
    small_image: Path, tmp_path: Path
) -> None:
    second = tmp_path / "second.nii.gz"
    second.write_bytes(small_image.read_bytes())
    seen: list[tuple[int, int]] = []
    doc = files.load_paths([small_image, second], lambda d, t: seen.append((d, t)))
    assert seen == [(0, 2), (1, 2)] and len(doc.items) == 2
    seen.clear()
    answers = iter([False, True])  # Cancel pressed while the first file is read
    with pytest.raises(CancelledError):
        files.load_paths([small_image, second], lambda d, t: seen.append((d, t)), answers.__next__)
    assert seen == [(0, 2)]


def test_window_open_of_a_dataset_shows_case_progress(
    qtbot, window, tmp_path: Path, dialogs_log
) -> None:
    sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))
    from synthetic_datasets import write_msd

    root = write_msd(tmp_path / "msd")
    window.progress.delay_ms = 0
    steps: list[tuple[int, int]] = []
    window.tasks.started.connect(
        lambda task: task.signals.progress.connect(lambda d, t: steps.append((d, t)))
    )
    with qtbot.waitSignal(window.files.opened, timeout=30000):
        window.files.open_paths([root])
    assert steps and steps[-1] == (5, 5) and len(window.ws.doc.items) == 5
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=5000)


def test_a_write_keeps_its_result_after_a_late_cancel_and_finishes_on_close(qtbot, runner) -> None:
    release, running = threading.Event(), threading.Event()
    results: list[object] = []

    def write(task: Task) -> str:
        running.set()
        release.wait(WAIT)  # committed before it looked at the cancel flag again
        return "written"

    task = runner.submit_checked("save", write, results.append, results.append)
    assert running.wait(WAIT)
    runner.cancel_all()  # closing the window: the save finishes
    assert not task.is_cancelled()
    task.cancel()  # the user's Cancel, after the write committed
    with qtbot.waitSignal(task.signals.finished, timeout=5000):
        release.set()
    qtbot.waitUntil(lambda: results == ["written"], timeout=5000)


def test_a_read_drops_its_result_after_a_late_cancel(qtbot, runner) -> None:
    release, running = threading.Event(), threading.Event()
    results: list[object] = []

    def read(_task: Task) -> bool:
        running.set()
        return release.wait(WAIT)

    task = runner.submit_read("open", read, results.append, results.append)
    # cancelled only once it runs: cancelled before its start it would report before
    # waitSignal below connects, and a queued signal only reaches slots already connected
    assert running.wait(WAIT)
    runner.cancel_all()
    assert task.is_cancelled()
    with qtbot.waitSignal(task.signals.cancelled, timeout=5000):
        release.set()
    assert results == []


def test_a_read_that_fails_after_a_cancel_reports_cancelled_and_logs(qtbot, runner, caplog) -> None:
    """A read the user cancelled that then fails must not raise an error dialog: it reports
    ``cancelled`` (only: exactly one final signal) and the failure goes to the log."""
    release, running = threading.Event(), threading.Event()
    done, errors, cancelled = [], [], []

    def read(_task: Task) -> None:
        running.set()
        release.wait(WAIT)
        raise OSError("the disk went away")

    task = runner.submit_read(
        "open", read, done.append, errors.append, lambda: cancelled.append(True)
    )
    failed: list[str] = []
    task.signals.failed.connect(failed.append)
    assert running.wait(WAIT)
    task.cancel()
    with qtbot.waitSignal(task.signals.cancelled, timeout=5000):
        release.set()
    assert runner.wait(5000)
    qtbot.wait(20)  # anything else queued would arrive now
    assert cancelled == [True] and errors == [] and failed == [] and done == []
    assert "the disk went away" in caplog.text


def test_an_open_cancelled_then_failing_shows_no_error(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    window.ws.set_document(two_volumes())
    doc = window.ws.doc
    release, running = threading.Event(), threading.Event()

    def failing_load(entry, progress, cancelled):
        running.set()
        release.wait(WAIT)
        raise OSError("Input/output error")

    monkeypatch.setattr(file_actions, "load_paths", failing_load)
    window.progress.delay_ms = 0
    window.files.open_paths([tmp_path / "big.nii.gz"])
    qtbot.waitUntil(lambda: window.progress.isVisible(), timeout=5000)
    task = window.progress.shown
    assert running.wait(WAIT)  # the read runs: Cancel cannot stop it before it fails
    window.progress.cancel_button.click()
    with qtbot.waitSignal(task.signals.cancelled, timeout=10000):
        release.set()
    qtbot.waitUntil(lambda: not window.progress.isVisible(), timeout=5000)
    assert window.ws.doc is doc
    assert window.statusBar().currentMessage() == "Opening cancelled; nothing was changed."
    assert dialogs_log["errors"] == []


def test_save_on_close_while_a_save_runs_keeps_the_newest_edits(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    """Ctrl+S on a slow save, one more edit, then close and answer Save: the file must end
    with that edit. The background save (an older snapshot) used to finish after the
    synchronous one and replace the file with what it held (the edit lost from the file and,
    as the synchronous save had emptied it, from the journal)."""
    from PySide6.QtWidgets import QMessageBox

    window.ws.set_document(two_volumes())
    path = tmp_path / "p.ugpcl"
    with qtbot.waitSignal(window.files.saved, timeout=20000):
        window.files.save(path)
    window.ws.editor.set_mark("z", 4, True)
    real_save = files.save_snapshot
    background_started, asked, answered_save_written = (threading.Event() for _ in range(3))

    def save(target, snap, cancelled=None):
        if cancelled is None:  # the synchronous save of the unsaved-changes question
            written = real_save(target, snap)
            answered_save_written.set()
            return written
        background_started.set()
        asked.wait(WAIT)
        answered_save_written.wait(1.0)  # it is slower than the answer's save
        return real_save(target, snap, cancelled)

    def answer_save(_parent: object, _title: str) -> QMessageBox.StandardButton:
        asked.set()
        return QMessageBox.StandardButton.Save

    monkeypatch.setattr(file_actions, "save_snapshot", save)
    monkeypatch.setattr(file_actions.dialogs, "ask_unsaved", answer_save)
    window.files.save()  # Ctrl+S: the edit of slice 4
    assert background_started.wait(WAIT)
    window.ws.editor.set_mark("z", 1, True)  # one more edit while it is written
    assert window.files.confirm_discard()  # closing: Save
    assert window.tasks.wait(20000)
    marks = load_project(path).volumes[0].labeled_slices["z"]
    assert marks[4] and marks[1]
    assert dialogs_log["errors"] == []


def test_a_save_as_still_running_is_not_dropped_by_a_save_elsewhere(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    """File › Save as… a big project to a new file, then Ctrl+S (to the project's own path)
    before it ends: the new save used to cancel the Save as silently (a stale task reports
    nothing), so the new file the user asked for never appeared. Now the Ctrl+S says that a
    save is running and the Save as completes."""
    window.ws.set_document(two_volumes())
    first = tmp_path / "first.ugpcl"
    with qtbot.waitSignal(window.files.saved, timeout=20000):
        window.files.save(first)
    window.ws.editor.set_mark("z", 4, True)
    real_save = files.save_snapshot
    started, release = threading.Event(), threading.Event()

    def slow_save(target, snap, cancelled):
        started.set()
        release.wait(WAIT)
        return real_save(target, snap, cancelled)

    monkeypatch.setattr(file_actions, "save_snapshot", slow_save)
    copy = tmp_path / "copy.ugpcl"
    window.files.save(copy)  # Save as…
    assert started.wait(WAIT)
    window.files.save()  # Ctrl+S: the project's own path, first.ugpcl
    assert len(dialogs_log["errors"]) == 1 and "copy.ugpcl" in dialogs_log["errors"][0]
    with qtbot.waitSignal(window.files.saved, timeout=20000):
        release.set()
    assert copy.is_file() and window.ws.doc.project_path == copy
    assert load_project(copy).volumes[0].labeled_slices["z"][4]


def test_a_recent_file_behind_a_closed_folder_gives_the_open_message(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    """Opening a path the system will not look at (a recent file on a share that now refuses
    the user) raised PermissionError out of File › Open (the unexpected-error dialog); it now
    goes to the read, which says it cannot open the file."""
    target = tmp_path / "share" / "scan.nii.gz"
    real_is_dir = Path.is_dir

    def is_dir(self: Path) -> bool:
        if str(self).startswith(str(tmp_path / "share")):
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", is_dir)
    window.files.open_paths([target])
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert "scan.nii.gz" in dialogs_log["errors"][0]
    assert window.ws.doc is None
