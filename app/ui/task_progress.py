"""The status bar's progress widget: one place that shows every long task with a Cancel button.

It follows the window's ``TaskRunner`` (``started``, then each task's ``progress`` and final
signal). A task shows only once it has run ``DELAY_MS`` (quick opens and saves do not flash);
with several running, the newest shows. A task that reports no progress (a file read, an ONNX
export) shows a busy bar. Cancel asks the task to stop (``Task.cancel``) and the widget says
"Cancelling…" until the task reports back: a save stops before it replaces the old file, a read's
result is dropped, a model run stops at its next batch.
"""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from app.jobs.tasks import Task, TaskRunner

DELAY_MS = 300
TITLES = {  # the tasks shown, by kind (ranking and other background work stay silent)
    "open": "Opening",
    "add": "Adding volumes",
    "save": "Saving",
    "export-labels": "Exporting the segmentation",
    "export": "Exporting the ONNX model",
    "run": "Running the model",
}


class TaskProgress(QWidget):
    """Progress bar, title and Cancel button of the newest running task (hidden when none).

    Args:
        runner: the window's task runner.
        parent: owning widget (the status bar takes it as a permanent widget).
        delay_ms: how long a task runs before it shows.

    Attributes:
        shown: the task shown, or None.
    """

    def __init__(
        self, runner: TaskRunner, parent: QWidget | None = None, delay_ms: int = DELAY_MS
    ) -> None:
        super().__init__(parent)
        self.delay_ms = delay_ms
        self.shown: Task | None = None
        self._running: list[Task] = []  # oldest first
        self._due: set[int] = set()  # ids of tasks that ran long enough to show
        self._progress: dict[int, tuple[int, int]] = {}
        self.title = QLabel("")
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setMaximumHeight(16)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this task; what you have stays as it was")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.setVisible(False)
        runner.started.connect(self._started)

    def _started(self, task: Task) -> None:
        if task.kind not in TITLES:
            return
        self._running.append(task)
        signals = task.signals
        signals.progress.connect(lambda done, total: self._progressed(task, done, total))
        for final in (signals.finished, signals.failed):
            final.connect(lambda _arg: self._ended(task))
        signals.cancelled.connect(lambda: self._ended(task))
        QTimer.singleShot(self.delay_ms, self, lambda: self._became_due(task))

    def _became_due(self, task: Task) -> None:
        if any(t is task for t in self._running):
            self._due.add(id(task))
            self._refresh()

    def _progressed(self, task: Task, done: int, total: int) -> None:
        self._progress[id(task)] = (done, total)
        if task is self.shown:
            self._refresh()

    def _ended(self, task: Task) -> None:
        self._running = [t for t in self._running if t is not task]
        self._due.discard(id(task))
        self._progress.pop(id(task), None)
        self._refresh()

    def _refresh(self) -> None:
        due = [t for t in self._running if id(t) in self._due]
        self.shown = due[-1] if due else None
        task = self.shown
        if task is None:
            self.setVisible(False)
            return
        cancelling = task.is_cancelled()
        title = TITLES[task.kind]
        self.title.setText("Cancelling…" if cancelling else f"{title}…")
        done, total = self._progress.get(id(task), (0, 0))
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(done)
            self.bar.setFormat(f"{done}/{total}")
        else:
            self.bar.setRange(0, 0)  # busy: the task cannot say how far it is
        self.cancel_button.setEnabled(task.interruptible and not cancelling)
        self.setVisible(True)

    def cancel(self) -> None:
        """Cancel the task shown (it reports ``cancelled`` when it has stopped)."""
        if self.shown is not None:
            self.shown.cancel()
            self._refresh()


def install_task_progress(window: QWidget, runner: TaskRunner) -> TaskProgress:
    """Put the progress widget at the right of ``window``'s status bar; return it."""
    widget = TaskProgress(runner, window)
    window.statusBar().addPermanentWidget(widget)  # type: ignore[attr-defined]
    return widget
