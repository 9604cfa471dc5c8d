"""The line between the GUI and its training child: events one way, stop and slice the other.

Why not a ``multiprocessing.Queue``: the GUI holds the queue's write end as well as its read
end, so a child killed halfway through a large message (a preview is about 1 MiB; a pipe holds
64 KiB) never gives an end of file: ``poll()`` says data is there and ``get()`` waits in
``recv_bytes`` for ever, on the GUI thread. Here instead:

* events go through a one-way pipe whose write end only the child holds
  (``TrainingSupervisor`` closes its copy once the child runs), so the child's death is an end
  of file, also in the middle of a message (a *torn* message, reported as the child's death);
* a daemon thread does the blocking receive and hands whole events to a thread-safe queue
  that the GUI drains without ever blocking (``EventReceiver.drain``);
* the stop flag and the previewed slice are lock-free shared integers (``SharedFlag``,
  ``shared_index``): a child killed while reading them cannot leave a lock held that the GUI
  would then wait on;
* every child started this way exits when its parent is gone (``child_main`` starts
  ``exit_with_parent``): a killed GUI never leaves a training process behind.
"""

from __future__ import annotations

import array
import multiprocessing
import multiprocessing.connection
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

EXIT_PARENT_GONE = 75
"""Exit status of a child that ended because its parent (the GUI) was gone."""

ChildTarget = Callable[[str, Any, Any, Any], None]


class SharedFlag:
    """A stop flag shared with a child process, without a lock (``set``/``is_set`` like an Event).

    Args:
        ctx: the multiprocessing context the child is started from.
    """

    def __init__(self, ctx: Any) -> None:
        self._value = ctx.RawValue("b", 0)

    def set(self) -> None:
        """Raise the flag (one byte written: nothing to wait for)."""
        self._value.value = 1

    def is_set(self) -> bool:
        """True once ``set`` was called, in either process."""
        return bool(self._value.value)


def shared_index(ctx: Any, value: int) -> Any:
    """A lock-free shared int (``.value``), e.g. the slice the user looks at.

    Args:
        ctx: the multiprocessing context the child is started from.
        value: its first value.
    """
    return ctx.RawValue("i", int(value))


class EventSender:
    """The child's end of the line: ``put(event)`` sends one picklable event.

    ``put`` waits while the pipe is full (the GUI's reader thread empties it). When the GUI is
    gone (broken pipe) nobody listens any more and the child exits at once.

    Args:
        connection: the write end of a one-way ``Pipe``.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection

    def put(self, event: object) -> None:
        """Send ``event`` whole (or exit the process when the GUI is gone)."""
        try:
            self._connection.send(event)
        except OSError:  # EPIPE / reset: the GUI died or stopped listening
            os._exit(EXIT_PARENT_GONE)

    def fileno(self) -> int:
        """The pipe's file descriptor (fault injection in tests: writing a torn message)."""
        return int(self._connection.fileno())


class EventReceiver:
    """The GUI's end of the line: a thread receives, ``drain`` never blocks.

    Args:
        connection: the read end of a one-way ``Pipe`` (the caller closed its write end).

    Attributes:
        torn: True when the line broke inside a message or gave bytes that are not an event
            (the child died while sending); False after a clean end of file.
    """

    def __init__(self, connection: Any) -> None:
        self._connection = connection
        self._events: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._reading = threading.Event()
        self._reading.set()
        self._closed = threading.Event()
        self.torn = False
        self._thread = threading.Thread(target=self._read, name="ugpcl-events", daemon=True)
        self._thread.start()

    def drain(self, limit: int) -> list[object]:
        """Take up to ``limit`` received events, oldest first, without waiting.

        Args:
            limit: most events returned.

        Returns:
            The events (empty when none arrived).
        """
        events: list[object] = []
        while len(events) < limit:
            try:
                events.append(self._events.get_nowait())
            except queue.Empty:
                break
        return events

    @property
    def ended(self) -> bool:
        """True once the child's end is closed (or broke) and every event was drained."""
        return self._closed.is_set() and self._events.empty()

    def wait_closed(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the line to close (tests, shutdown); True when it did."""
        return self._closed.wait(timeout)

    def pause(self) -> None:
        """Receive no further message until ``resume`` (one already being received completes).

        Fault injection: a GUI slow to read, so that the child blocks halfway through a large
        message (the pipe holds 64 KiB).
        """
        self._reading.clear()

    def resume(self) -> None:
        """Receive again after ``pause``."""
        self._reading.set()

    def unread_bytes(self) -> int:
        """Bytes waiting in the pipe, -1 where the platform cannot tell or the line is closed.

        Fault injection: while paused, a full pipe means the child is blocked inside a large
        message.
        """
        try:
            import fcntl
            import termios

            count = array.array("i", [0])
            fcntl.ioctl(self._connection.fileno(), termios.FIONREAD, count)
        except (ImportError, OSError):
            return -1
        return int(count[0])

    def _read(self) -> None:
        try:
            while True:
                multiprocessing.connection.wait([self._connection])  # a message or the end
                self._reading.wait()
                self._events.put(self._connection.recv())
        except EOFError:
            pass  # the child closed its end between messages: it ended
        except Exception:  # any broken or garbled message means a dead child
            self.torn = True
        finally:
            # closed here, never from the GUI thread: a close under a blocked read could let
            # the descriptor's number be reused by another file while this thread reads it
            self._connection.close()
            self._closed.set()


def child_main(
    target: ChildTarget, run_dir: str, events: Any, flag: Any, preview_index: Any
) -> None:
    """Entry point of every training child the GUI starts (picklable by name, torch-free).

    Starts ``exit_with_parent``, then runs ``target(run_dir, events, flag, preview_index)``.

    Args:
        target: the child's work, e.g. ``run_folder.launch_child``.
        run_dir: the run folder.
        events: where events go (an ``EventSender``).
        flag: stop flag (a ``SharedFlag``).
        preview_index: the slice to preview (``shared_index``), or None.
    """
    exit_with_parent()
    target(run_dir, events, flag, preview_index)


def exit_with_parent(code: int = EXIT_PARENT_GONE) -> bool:
    """In a multiprocessing child: exit with ``code`` as soon as the parent process is gone.

    A daemon thread waits on ``multiprocessing.parent_process().sentinel`` (POSIX: the read end
    of a pipe whose write end only the parent holds, so its death is an end of file; Windows:
    the parent's process handle). No polling, so a healthy run pays nothing.

    Args:
        code: exit status used when the parent is gone.

    Returns:
        True when the watch started; False outside a multiprocessing child (the CLI, tests
        that run a child's code in-process).
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return False
    watch = threading.Thread(
        target=_exit_when_ready, args=(parent.sentinel, code), name="ugpcl-parent", daemon=True
    )
    watch.start()
    return True


def _exit_when_ready(sentinel: Any, code: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(code)  # no clean-up: the parent that would use a result is gone
