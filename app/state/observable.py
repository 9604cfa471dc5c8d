"""A tiny Qt-free observer, so that state objects can announce changes to whoever listens."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

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


class WiredOnce:
    """Tells a listener whether it has already connected its handlers to an object.

    ``Workspace.document_replaced`` is announced again for the same document after a
    recovery replays its journal; a listener that connects to the document's signals on each
    announcement would then handle every change twice. The object is held weakly, so a closed
    document is not kept alive by its listeners.
    """

    def __init__(self) -> None:
        self._ref: weakref.ref[Any] | None = None

    def first_time(self, obj: object) -> bool:
        """True (and remember ``obj``) unless ``obj`` is the object wired last time."""
        if self._ref is not None and self._ref() is obj:
            return False
        self._ref = weakref.ref(obj)
        return True
