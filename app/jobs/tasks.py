"""Short background tasks (open, save, export) on Qt pool threads.

One task per kind runs at a time from the owner's point of view: submitting a new task of a kind
makes any older one of that kind stale, and a stale task's result is dropped (the thread still
finishes: file reads cannot be interrupted safely). Results and errors come back on the GUI
thread through queued signals.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from ugpcl_engine.errors import InputError

log = logging.getLogger(__name__)


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


class _Relay(QObject):
    """Lives on the GUI thread; worker threads emit through it (queued)."""

    done = Signal(str, int, object)
    failed = Signal(str, int, str)


class _Job(QRunnable):
    def __init__(self, relay: _Relay, kind: str, generation: int, work: Callable[[], Any]) -> None:
        super().__init__()
        self._relay, self._kind, self._generation, self._work = relay, kind, generation, work

    def run(self) -> None:
        try:
            result = self._work()
        except InputError as err:
            self._relay.failed.emit(self._kind, self._generation, str(err))
        except Exception as err:  # every failure must reach the user as a dialog
            message = unexpected_failure(
                self._kind,
                err,
                "Nothing was changed; please report this with the file that caused it.",
            )
            self._relay.failed.emit(self._kind, self._generation, message)
        else:
            self._relay.done.emit(self._kind, self._generation, result)


class TaskRunner(QObject):
    """Runs callables on a thread pool and calls back on the GUI thread.

    Args:
        parent: owning QObject.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._relay = _Relay(self)
        self._relay.done.connect(self._on_done)
        self._relay.failed.connect(self._on_failed)
        self._generation: dict[str, int] = {}
        self._callbacks: dict[str, tuple[Callable[[Any], None], Callable[[str], None]]] = {}

    def submit(
        self,
        kind: str,
        work: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[str], None],
    ) -> None:
        """Run ``work()`` on a pool thread; a newer task of the same kind makes this one stale.

        Args:
            kind: task kind, e.g. ``"open"`` or ``"save"``.
            work: blocking callable; raises ``InputError`` for user errors.
            on_done: called on the GUI thread with the result (fresh tasks only).
            on_error: called on the GUI thread with a user-facing message (fresh tasks only).
        """
        generation = self._generation.get(kind, 0) + 1
        self._generation[kind] = generation
        self._callbacks[kind] = (on_done, on_error)
        self._pool.start(_Job(self._relay, kind, generation, work))

    def busy(self, kind: str | None = None) -> bool:
        """True while a fresh task (of ``kind``, or of any kind) has not reported back."""
        if kind is None:
            return bool(self._callbacks)
        return kind in self._callbacks

    def wait(self, msecs: int = 30000) -> bool:
        """Block until all threads are done (tests, shutdown); True when they are."""
        return bool(self._pool.waitForDone(msecs))

    def _take(
        self, kind: str, generation: int
    ) -> tuple[Callable[[Any], None], Callable[[str], None]] | None:
        if self._generation.get(kind) != generation:
            return None  # stale: a newer task of this kind was submitted
        return self._callbacks.pop(kind, None)

    def _on_done(self, kind: str, generation: int, result: object) -> None:
        callbacks = self._take(kind, generation)
        if callbacks is not None:
            callbacks[0](result)

    def _on_failed(self, kind: str, generation: int, message: str) -> None:
        callbacks = self._take(kind, generation)
        if callbacks is not None:
            callbacks[1](message)
