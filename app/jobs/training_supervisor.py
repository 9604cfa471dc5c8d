"""Runs one training child at a time and turns its events into Qt signals (QtCore only).

The child is a ``spawn`` process started by module name (``run_folder.launch_child``), so this
process never imports torch. A QTimer drains the event queue; when the process is gone without
a final event (a crash, an out-of-memory kill, SIGKILL) the supervisor says so in plain words.
Stop asks the child to finish early and keep its model; after a grace period it is terminated.
"""

from __future__ import annotations

import multiprocessing as mp
import queue as queue_errors
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ugpcl_engine.errors import InputError
from ugpcl_engine.training.events import Failed, Finished, Preview, Progress, Started, Validation
from ugpcl_engine.training.run_folder import (
    RunRequest,
    SnapshotVolume,
    Stage,
    launch_child,
    write_volumes_snapshot,
)

ChildTarget = Callable[[str, Any, Any, Any], None]
MAX_EVENTS_PER_TICK = 64  # keeps one drain short even when the child floods the queue
REAP_AFTER_S = 20.0  # a child still alive this long after its final event is terminated


@dataclass(frozen=True)
class RunOutcome:
    """A run that ended with a model.

    Attributes:
        run_dir: its folder (model, prediction, uncertainty).
        finished: the child's final event (metrics, stopped_early).
    """

    run_dir: Path
    finished: Finished


def death_message(exitcode: int | None) -> str:
    """Plain words for a child that ended without a final event.

    Args:
        exitcode: ``Process.exitcode`` (negative: killed by that signal).

    Returns:
        What happened and what to do.
    """
    unchanged = "Your labels are unchanged"
    if exitcode == -signal.SIGKILL:
        return (
            "The training process was killed (signal 9), most often because the computer ran "
            f"out of memory. {unchanged}; retry with the quick preset or close other programs."
        )
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else "?"
        return f"The training process was ended by {name}. {unchanged}; press Start to retry."
    return (
        f"The training process stopped unexpectedly (exit code {exitcode}) without a result. "
        f"{unchanged}; retry, or use a smaller preset."
    )


class TrainingSupervisor(QObject):
    """Starts, watches and stops the training child.

    Args:
        parent: owning QObject.
        target: the child's entry point (injectable for tests; must be picklable by name).
        poll_ms: queue drain interval.
        grace_s: how long a stopped child may take to finish before it is terminated.

    Signals:
        started(object): the ``Started`` event.
        progress(object): a ``Progress`` event.
        preview(object): a ``Preview`` event.
        validation(object): a ``Validation`` event (held-out check).
        stage(str): a phase name, e.g. ``"predicting"``.
        finished(object): a ``RunOutcome``.
        failed(str): what went wrong, in plain words.
        cancelled(): the run was cancelled and its model discarded.
        running_changed(bool): a run began or ended.
    """

    started = Signal(object)
    progress = Signal(object)
    preview = Signal(object)
    validation = Signal(object)
    stage = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    running_changed = Signal(bool)

    def __init__(
        self,
        parent: QObject | None = None,
        target: ChildTarget = launch_child,
        poll_ms: int = 100,
        grace_s: float = 60.0,
    ) -> None:
        super().__init__(parent)
        self._target = target
        self._ctx = mp.get_context("spawn")
        self._process: Any = None
        self._queue: Any = None
        self._flag: Any = None
        self._slice: Any = None
        self._run_dir: Path | None = None
        self._done = False
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)
        self._grace = QTimer(self)
        self._grace.setSingleShot(True)
        self._grace.setInterval(int(grace_s * 1000))
        self._grace.timeout.connect(self._grace_over)
        self._reaping: list[tuple[Any, float]] = []
        self._reaper = QTimer(self)
        self._reaper.setInterval(250)
        self._reaper.timeout.connect(self._reap)

    # -- queries -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from ``start`` until the run's outcome was reported."""
        return self._process is not None

    @property
    def pid(self) -> int | None:
        """Process id of the child, or None."""
        return None if self._process is None else int(self._process.pid)

    @property
    def run_dir(self) -> Path | None:
        """Folder of the current run."""
        return self._run_dir

    # -- control -----------------------------------------------------------------------------
    def start(self, run_dir: Path, volumes: Sequence[SnapshotVolume], request: RunRequest) -> None:
        """Write the snapshot into ``run_dir`` and start the child on it.

        Args:
            run_dir: a new folder for this run.
            volumes: images, labels and labeled-slice marks along ``request.axis``, the one
                previewed first (a snapshot is written; the live arrays are never shared).
            request: spec and options (``volume_count`` = ``len(volumes)``).

        Raises:
            InputError: a run is going already, or the snapshot is not trainable.
        """
        if self.running:
            raise InputError("A training run is going already; stop it before starting another.")
        write_volumes_snapshot(run_dir, volumes, request)
        self._run_dir = run_dir
        self._queue = self._ctx.Queue()
        self._flag = self._ctx.Event()
        self._slice = self._ctx.Value("i", request.preview_slice or 0)
        self._done = False
        self._process = self._ctx.Process(
            target=self._target,
            args=(str(run_dir), self._queue, self._flag, self._slice),
            name="ugpcl-training",
            daemon=True,
        )
        self._process.start()
        self._timer.start()
        self.running_changed.emit(True)

    def set_preview_slice(self, index: int) -> None:
        """Preview this slice from now on (the slice the user looks at)."""
        if self._slice is not None:
            self._slice.value = int(index)

    def stop(self) -> None:
        """Ask the child to stop at its next step and keep the model (terminated after grace)."""
        if self.running and not self._flag.is_set():
            self._flag.set()
            self._grace.start()

    def cancel(self) -> None:
        """End the run now and discard it."""
        if self.running:
            self._process.terminate()
            self._process.join(5)
            self._cleanup()
            self.cancelled.emit()

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Stop the child for good (quitting): ask, wait up to ``wait_s``, then terminate."""
        for process, _ in self._reaping:
            process.join(2)
            if process.is_alive():
                process.terminate()
        self._reaping = []
        if not self.running:
            return
        self._flag.set()
        self._process.join(wait_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._cleanup()

    # -- the queue ---------------------------------------------------------------------------
    def poll(self) -> None:
        """Drain pending events; report a child that died without a final event."""
        if self._process is None:
            return
        for _ in range(MAX_EVENTS_PER_TICK):
            try:
                event = self._queue.get_nowait()
            except (queue_errors.Empty, EOFError, OSError):
                break
            self._dispatch(event)
            if self._process is None:
                return
        if not self._process.is_alive() and self._queue_empty():
            self._process.join(1)
            code = self._process.exitcode
            self._cleanup()
            self.failed.emit(death_message(code))

    def _queue_empty(self) -> bool:
        try:
            return bool(self._queue.empty())
        except OSError:
            return True

    def _dispatch(self, event: object) -> None:
        if isinstance(event, Progress):
            self.progress.emit(event)
        elif isinstance(event, Preview):
            self.preview.emit(event)
        elif isinstance(event, Started):
            self.started.emit(event)
        elif isinstance(event, Validation):
            self.validation.emit(event)
        elif isinstance(event, Stage):
            self.stage.emit(event.name)
        elif isinstance(event, Finished):
            run_dir = self._run_dir
            self._finish()
            assert run_dir is not None
            self.finished.emit(RunOutcome(run_dir, event))
        elif isinstance(event, Failed):
            self._finish()
            self.failed.emit(event.message)

    def _finish(self) -> None:
        # the child exits by itself after its final event; reap it later without blocking
        self._reaping.append((self._process, time.monotonic()))
        self._reaper.start()
        self._cleanup()

    def _reap(self) -> None:
        keep = []
        for process, since in self._reaping:
            if process.is_alive() and time.monotonic() - since > REAP_AFTER_S:
                process.terminate()
            if process.is_alive():
                keep.append((process, since))
            else:
                process.join(0)
        self._reaping = keep
        if not keep:
            self._reaper.stop()

    def _grace_over(self) -> None:
        if self.running:
            self._process.terminate()
            self._process.join(5)
            self._cleanup()
            self.failed.emit(
                "The training did not stop in time and was ended; the model of this run was "
                "not kept. Your labels are unchanged."
            )

    def _cleanup(self) -> None:
        self._timer.stop()
        self._grace.stop()
        if self._queue is not None:
            self._queue.close()
            self._queue.cancel_join_thread()
        self._process = self._queue = self._flag = self._slice = None
        self.running_changed.emit(False)
