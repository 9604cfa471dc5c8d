"""The one background task runner of the GUI (QtCore only): every task of the app runs here.

A ``Task`` runs ``work()`` on a pool thread and reports through ``signals`` (queued to the GUI
thread):

- ``progress(int done, int total)``: throttled to about 10 Hz (``report_progress``);
- ``warning(str)``: a non-fatal message to show;
- ``finished(object)``: the result;
- ``failed(str)``: a user-facing message for a dialog (what went wrong and what to do);
- ``cancelled()``: the task stopped on ``cancel()``.

Exactly one of ``finished``, ``failed`` or ``cancelled`` is emitted per task. ``TaskRunner``
runs one task per kind from its owner's point of view: starting a task of a kind cancels the
stale one of that kind (an interruptible task stops at its next check; a plain blocking call
cannot be interrupted and finishes) and a stale task's result never reaches the callbacks given
to ``submit``. Short blocking calls (ranking) go through ``submit``, opens through
``submit_read``, saves and exports through ``submit_checked``; model tasks
(``app.jobs.model_jobs``) through ``start``. ``started(task)`` announces every task before
it runs (the status bar's progress widget, ``app.ui.task_progress``, follows it from there).

Cancelling a blocking call: ``submit(..., cancellable=True)`` lets the call run to its end and
drops its result, so nothing changes; ``submit_read`` does the same and hands the call its task
(to poll ``is_cancelled`` between files and ``report_progress``), and a read that fails after
its cancel reports ``cancelled`` too (the error is logged, no dialog); ``submit_checked`` (writes)
hands the call its task too and keeps the result: the call polls the check until it commits (a
save stops before it replaces the old file) and ignores it after.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ugpcl_engine import CancelledError, InputError

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.1
MAX_THREADS = 4  # one task per kind; file I/O, ranking and a model task side by side
T = TypeVar("T", bound="Task")


def unexpected_failure(kind: str, err: Exception, reassurance: str) -> str:
    """Log the traceback of a background task's unexpected error; return the dialog's text.

    Call it from the ``except`` block, so that the traceback is the current one.

    Args:
        kind: task kind, for the log.
        err: the exception.
        reassurance: what the user keeps and what to do, appended to the message.
    """
    log.error("task %s failed:\n%s", kind, traceback.format_exc())
    return f"Unexpected error ({type(err).__name__}: {err}). {reassurance}"


class TaskSignals(QObject):
    """Signals of one task (see the module docstring)."""

    progress = Signal(int, int)
    warning = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


class Task(QRunnable):
    """One piece of background work; subclasses implement ``work``.

    Attributes:
        kind: one task of a kind runs at a time (``TaskRunner``).
        reassurance: appended to the message of an unexpected error.
        user_errors: exceptions whose message goes to the user as it is.
        interruptible: ``cancel`` may stop it (False: it always runs to its end).
        finish_on_close: ``cancel_all`` leaves it to finish (a save the user asked for).
        signals: see the module docstring.
    """

    kind = "task"
    reassurance = "Your labels are unchanged; please report this."
    user_errors: tuple[type[Exception], ...] = (InputError,)
    interruptible = True
    finish_on_close = False

    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the runner keeps the Python object (and its signals)
        self.signals = TaskSignals()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._last_emit = 0.0

    def cancel(self) -> None:
        """Ask the task to stop at its next check (ignored when not ``interruptible``)."""
        if self.interruptible:
            self._cancel.set()

    def is_cancelled(self) -> bool:
        """True once ``cancel()`` was called."""
        return self._cancel.is_set()

    def wait_done(self, timeout: float | None = None) -> bool:
        """Block until ``work`` has returned or raised (its final signal may still be queued
        to the GUI thread); True when it has, False on timeout."""
        return self._done.wait(timeout)

    def report_progress(self, done: int, total: int) -> None:
        """Emit ``progress`` at most every ``PROGRESS_INTERVAL_S`` (and always at the end)."""
        now = time.monotonic()
        if done == total or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.signals.progress.emit(done, total)

    def run(self) -> None:
        """Run the work on the pool thread and emit exactly one final signal."""
        try:
            if self._cancel.is_set():
                raise CancelledError("cancelled before start")
            result = self.work()
        except CancelledError:
            self.signals.cancelled.emit()
        except self.user_errors as err:
            self.signals.failed.emit(str(err))
        except Exception as err:  # every failure must reach the user as a dialog
            self.signals.failed.emit(unexpected_failure(self.kind, err, self.reassurance))
        else:
            self.signals.finished.emit(result)
        finally:
            self._done.set()

    def work(self) -> Any:
        """The blocking work (pool thread); raises ``CancelledError`` when cancelled."""
        raise NotImplementedError


class CallTask(Task):
    """A blocking call (open, save, export, ranking) as a task; it always runs to its end.

    Args:
        kind: task kind.
        call: the blocking callable; raises ``InputError`` for user errors.
        cancellable: ``cancel`` drops the result of the call (which still runs to its end):
            the task reports ``cancelled`` instead of ``finished``.
    """

    reassurance = "Nothing was changed; please report this with the file that caused it."
    interruptible = False

    def __init__(self, kind: str, call: Callable[[], Any], cancellable: bool = False) -> None:
        super().__init__()
        self.kind, self._call = kind, call
        self.interruptible = cancellable

    def work(self) -> Any:
        result = self._call()
        if self.is_cancelled():  # a read the user gave up on: its result must change nothing
            raise CancelledError("cancelled while it ran")
        return result


class ControlledCallTask(Task):
    """A blocking call given its task, to poll ``is_cancelled`` and ``report_progress``.

    Args:
        kind: task kind.
        call: called with the task; raises ``CancelledError`` to stop.
        keep_result: True (writes): a result returned is kept even when cancel came late (the
            call committed); False (reads): it is dropped and the task reports ``cancelled``,
            as it does (logging the error) when the read fails after the cancel.
    """

    reassurance = "Nothing was changed; please report this with the file that caused it."

    def __init__(self, kind: str, call: Callable[[Task], Any], keep_result: bool) -> None:
        super().__init__()
        self.kind, self._call, self._keep = kind, call, keep_result
        self.finish_on_close = keep_result  # a write the user asked for completes on closing

    def work(self) -> Any:
        try:
            result = self._call(self)
        except CancelledError:
            raise
        except Exception:
            if self.is_cancelled() and not self._keep:  # the user gave up on this read and
                # was told nothing changed: the failure goes to the log, not to a dialog
                log.warning(
                    "task %s failed after its cancel:\n%s", self.kind, traceback.format_exc()
                )
                raise CancelledError("cancelled while it ran") from None
            raise
        if self.is_cancelled() and not self._keep:
            raise CancelledError("cancelled while it ran")
        return result


class TaskRunner(QObject):
    """Runs tasks on one thread pool, one per kind, and calls back on the GUI thread.

    Args:
        parent: owning QObject.
        max_threads: pool size.

    Signals:
        started(Task): a task is about to run (emitted on the GUI thread before the pool gets
            it, so a slot can still connect to its signals).
    """

    started = Signal(object)

    def __init__(self, parent: QObject | None = None, max_threads: int = MAX_THREADS) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(max_threads)
        self._current: dict[str, Task] = {}
        self._open: set[Task] = set()  # started and not yet reported (stale ones included)

    def start(self, task: T) -> T:
        """Cancel the task of the same kind (if any) and start ``task``; return it."""
        return self._start(task, None, None)

    def submit(
        self,
        kind: str,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
        *,
        cancellable: bool = False,
        on_cancelled: Callable[[], None] | None = None,
    ) -> Task:
        """Run ``work()`` on a pool thread; a newer task of the same kind makes this one stale.

        Args:
            kind: task kind, e.g. ``"open"`` or ``"save"``.
            work: blocking callable; raises ``InputError`` for user errors.
            on_done: called on the GUI thread with the result (fresh tasks only).
            on_error: called on the GUI thread with a user-facing message (fresh tasks only).
            cancellable: ``cancel()`` drops the result (for reads: nothing changes).
            on_cancelled: called on the GUI thread when the task was cancelled (fresh only).

        Returns:
            The task started.
        """
        return self._start(CallTask(kind, work, cancellable), on_done, on_error, on_cancelled)

    def submit_read(
        self,
        kind: str,
        work: Callable[[Task], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
        on_cancelled: Callable[[], None] | None = None,
    ) -> Task:
        """Like ``submit``, for a read given its task: ``work(task)`` may poll
        ``task.is_cancelled()`` (raising ``CancelledError``) and call ``task.report_progress``;
        a result that comes back after a cancel is dropped, so nothing changes."""
        task = ControlledCallTask(kind, work, keep_result=False)
        return self._start(task, on_done, on_error, on_cancelled)

    def submit_checked(
        self,
        kind: str,
        work: Callable[[Task], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
        on_cancelled: Callable[[], None] | None = None,
    ) -> Task:
        """Like ``submit_read``, for a write that commits: ``work(task)`` polls
        ``task.is_cancelled()`` until it commits and raises ``CancelledError`` to stop before
        (a save stops before it replaces the old file, which stays as it was); once it has
        committed its result is kept."""
        task = ControlledCallTask(kind, work, keep_result=True)
        return self._start(task, on_done, on_error, on_cancelled)

    def _start(
        self,
        task: T,
        on_done: Callable[[Any], None] | None,
        on_error: Callable[[str], None] | None,
        on_cancelled: Callable[[], None] | None = None,
    ) -> T:
        stale = self._current.get(task.kind)
        if stale is not None:
            stale.cancel()
        self._current[task.kind] = task
        self._open.add(task)
        signals = task.signals
        # connected before the pool starts it (a queued emit only reaches connected slots),
        # the bookkeeping first: a callback sees the task as done
        signals.finished.connect(lambda _result: self._open.discard(task))
        signals.failed.connect(lambda _message: self._open.discard(task))
        signals.cancelled.connect(lambda: self._open.discard(task))
        if on_done is not None:
            signals.finished.connect(lambda result: self._fresh(task) and on_done(result))
        if on_error is not None:
            signals.failed.connect(lambda message: self._fresh(task) and on_error(message))
        if on_cancelled is not None:
            signals.cancelled.connect(lambda: self._fresh(task) and on_cancelled())
        self.started.emit(task)
        self._pool.start(task)
        return task

    def _fresh(self, task: Task) -> bool:
        return self._current.get(task.kind) is task

    def current(self, kind: str) -> Task | None:
        """The last task started of ``kind``, running or not."""
        return self._current.get(kind)

    def busy(self, kind: str | None = None) -> bool:
        """True while a fresh task (of ``kind``, or of any kind) has not reported back."""
        fresh = [t for t in self._open if self._fresh(t)]
        return any(kind is None or t.kind == kind for t in fresh)

    def cancel_all(self) -> None:
        """Cancel every interruptible task but the writes (``finish_on_close``), e.g. on
        closing the window: model runs, exports and reads stop; saves finish."""
        for task in list(self._open):
            if not task.finish_on_close:
                task.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until all threads are done (tests, shutdown); True when they are."""
        return bool(self._pool.waitForDone(msecs))
