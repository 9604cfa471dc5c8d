"""A tiny Qt-free observer, so that state objects can announce changes to whoever listens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Signal(Generic[T]):
    """A list of callbacks called with one value each time ``emit`` runs.

    The UI connects its redraw methods here; state code never knows who listens.
    """

    def __init__(self) -> None:
        self._slots: list[Callable[[T], None]] = []

    def connect(self, slot: Callable[[T], None]) -> None:
        """Call ``slot(value)`` on every later ``emit``."""
        self._slots.append(slot)

    def disconnect(self, slot: Callable[[T], None]) -> None:
        """Stop calling ``slot``; unknown slots are ignored."""
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, value: T) -> None:
        """Call every connected slot with ``value``, in connection order."""
        for slot in list(self._slots):
            slot(value)
