"""Cancel token checked by long work between steps (works across threads and processes)."""

from __future__ import annotations

from typing import Protocol


class _Flag(Protocol):
    def is_set(self) -> bool: ...
    def set(self) -> None: ...


class CancelToken:
    """A cancel request that long work polls between steps.

    Args:
        flag: an object with ``is_set()``/``set()`` (``threading.Event`` or a
            ``multiprocessing`` event for a child process); ``None`` for a local flag.
    """

    def __init__(self, flag: _Flag | None = None) -> None:
        self._flag = flag
        self._local = False

    def cancel(self) -> None:
        """Ask the work to stop at its next check."""
        if self._flag is not None:
            self._flag.set()
        self._local = True

    @property
    def cancelled(self) -> bool:
        """True once ``cancel`` was called (here or through the shared flag)."""
        return self._local or (self._flag is not None and self._flag.is_set())
