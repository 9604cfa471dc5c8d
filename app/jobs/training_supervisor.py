"""Runs one training child at a time and turns its events into Qt signals (QtCore only).

The child is a ``spawn`` process started by module name (``run_folder.launch_child``), so this
process never imports torch. Its events come over ``ugpcl_engine.training.channel``: a thread
receives them and a QTimer dispatches them, so the GUI thread never waits on the child, not
even on one killed halfway through a message. The start and the end of a run have signals of
their own; every other event goes out as it is on ``reported`` (``TrainingSession.apply`` sorts
them by topic). When the process is gone without a final event (a crash, an out-of-memory
kill, SIGKILL, a torn message) the supervisor says so in plain words.
Stop asks the child to finish early and keep its model; after a grace period it is terminated.
The child exits by itself when this process dies (``channel.exit_with_parent``).

Run folders are scratch (``ugpcl_engine.training.scratch``): when a run ends its volume copies
are deleted, and a run without a model keeps only its small text files.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ugpcl_engine import (
    ChildTarget,
    EventReceiver,
    EventSender,
    Failed,
    Finished,
    InputError,
    RunRequest,
    SharedFlag,
    SnapshotVolume,
    Started,
    child_main,
    discard_run,
    drop_snapshot,
    launch_child,
    shared_index,
    write_volumes_snapshot,
)

__all__ = ["ChildTarget", "RunOutcome", "TrainingSupervisor", "death_message"]

MAX_EVENTS_PER_TICK = 64  # keeps one drain short even when the child floods the queue
REAP_AFTER_S = 20.0  # a child still alive this long after its final event is terminated
QUIET_S = 5.0
"""A child whose line closed without a result is ended after this long; a dead child whose line
stays open (a process it started holds the pipe) is reported after this long."""


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
        reported(object): any other event of the running job (``Progress``, ``Preview``,
            ``Validation``, ``Stage``), in the order the child sent them.
        finished(object): a ``RunOutcome``.
        failed(str): what went wrong, in plain words.
        cancelled(): the run was cancelled and its model discarded.
        running_changed(bool): a run began or ended.
    """

    started = Signal(object)
    reported = Signal(object)
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
        self._events: EventReceiver | None = None
        self._flag: SharedFlag | None = None
        self._slice: Any = None
        self._run_dir: Path | None = None
        self._quiet_since: float | None = None
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

    @property
    def events(self) -> EventReceiver | None:
        """The current run's event line (fault injection and checks: ``pause``, ``torn``)."""
        return self._events

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
        self._flag = SharedFlag(self._ctx)
        self._slice = shared_index(self._ctx, request.preview_slice or 0)
        self._quiet_since = None
        reader, writer = self._ctx.Pipe(duplex=False)
        self._process = self._ctx.Process(
            target=child_main,
            args=(self._target, str(run_dir), EventSender(writer), self._flag, self._slice),
            name="ugpcl-training",
            daemon=True,
        )
        try:
            self._process.start()
        except BaseException:
            reader.close()
            self._process = self._flag = self._slice = None
            raise
        finally:
            writer.close()  # the child holds the only write end: its death is an end of file
        self._events = EventReceiver(reader)
        self._timer.start()
        self.running_changed.emit(True)

    def set_preview_slice(self, index: int) -> None:
        """Preview this slice from now on (the slice the user looks at)."""
        if self._slice is not None:
            self._slice.value = int(index)

    def stop(self) -> None:
        """Ask the child to stop at its next step and keep the model (terminated after grace)."""
        if self._flag is not None and not self._flag.is_set():
            self._flag.set()
            self._grace.start()

    def cancel(self) -> None:
        """End the run now and discard it."""
        if self.running:
            self._process.terminate()
            self._process.join(5)
            self._cleanup(discard=True)
            self.cancelled.emit()

    def shutdown(self, wait_s: float = 10.0) -> None:
        """Stop the child for good (quitting): ask, wait up to ``wait_s``, then terminate."""
        for process, _ in self._reaping:
            process.join(2)
            if process.is_alive():
                process.terminate()
        self._reaping = []
        if self._flag is None:
            return
        self._flag.set()
        self._process.join(wait_s)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
        self._cleanup(discard=True)

    # -- the events --------------------------------------------------------------------------
    def poll(self) -> None:
        """Dispatch received events; report a child that died without a final event.

        Never waits on the child: a thread receives (``channel.EventReceiver``).
        """
        if self._events is None:
            return
        for event in self._events.drain(MAX_EVENTS_PER_TICK):
            self._dispatch(event)
            if self._events is None:
                return
        ended, alive = self._events.ended, self._process.is_alive()
        if alive and not ended:
            return
        now = time.monotonic()
        if self._quiet_since is None:
            self._quiet_since = now
        if not alive and (ended or now - self._quiet_since > QUIET_S):
            self._report_death()
        elif alive and now - self._quiet_since > QUIET_S:
            self._process.terminate()  # it closed its line without a result: it can only hang

    def _report_death(self) -> None:
        self._process.join(1)  # gone already: only collects the exit code
        code = self._process.exitcode
        self._cleanup(discard=True)
        self.failed.emit(death_message(code))

    def _dispatch(self, event: object) -> None:
        if isinstance(event, Finished):
            run_dir = self._run_dir
            self._finish(discard=False)
            assert run_dir is not None
            self.finished.emit(RunOutcome(run_dir, event))
        elif isinstance(event, Failed):
            self._finish(discard=True)
            self.failed.emit(event.message)
        elif isinstance(event, Started):
            self.started.emit(event)
        else:
            self.reported.emit(event)

    def _finish(self, discard: bool) -> None:
        # the child exits by itself after its final event; reap it later without blocking
        self._reaping.append((self._process, time.monotonic()))
        self._reaper.start()
        self._cleanup(discard)

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
            self._cleanup(discard=True)
            self.failed.emit(
                "The training did not stop in time and was ended; the model of this run was "
                "not kept. Your labels are unchanged."
            )

    def _cleanup(self, discard: bool) -> None:
        """Forget the run; delete its volume copies (and, ``discard``, its partial results).

        The receiving thread is left to end by itself at the end of file: it closes its end.
        """
        self._timer.stop()
        self._grace.stop()
        if self._run_dir is not None:
            (discard_run if discard else drop_snapshot)(self._run_dir)
        self._process = self._events = self._flag = self._slice = None
        self.running_changed.emit(False)
