"""Undo history: each step keeps only the box it changed, zlib-compressed, bounded by bytes.

A brush drag, a fill or a polygon is one ``LabelDelta``. Deltas are 3-D boxes, so they do not
care which slice or view is shown when they are undone.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from app.state.document import Document, Region
from ugpcl_engine import LabelTable

DEFAULT_MAX_BYTES = 64 * 1024 * 1024


class UndoEntry(Protocol):
    """One undoable step."""

    description: str

    @property
    def nbytes(self) -> int:
        """Memory held by the step."""
        ...

    def apply(self, doc: Document, forward: bool) -> Region | None:
        """Redo (``forward``) or undo the step; return the label region written, if any."""
        ...


@dataclass
class LabelDelta:
    """Label values of one box before and after a step, plus labeled-slice mark changes.

    Attributes:
        volume_index: which document volume.
        region: the box.
        before: zlib bytes of the uint8 box before the step.
        after: zlib bytes of the box after the step.
        marks: (axis, slice index, before, after) for every mark the step changed.
        description: what the user did ("brush", "fill", ...).
    """

    volume_index: int
    region: Region
    before: bytes
    after: bytes
    marks: list[tuple[str, int, bool, bool]] = field(default_factory=list)
    description: str = "paint"

    @classmethod
    def capture(
        cls,
        volume_index: int,
        region: Region,
        before_zyx: np.ndarray,
        after_zyx: np.ndarray,
        description: str,
    ) -> LabelDelta:
        """Compress the two arrays of ``region.shape_zyx`` into a delta."""
        return cls(
            volume_index, region, _pack(before_zyx), _pack(after_zyx), description=description
        )

    @property
    def nbytes(self) -> int:
        """Bytes held (compressed boxes plus a small fixed cost)."""
        return len(self.before) + len(self.after) + 128

    def values(self, forward: bool) -> np.ndarray:
        """The uint8 box (shape ``region.shape_zyx``) after (forward) or before the step."""
        raw = zlib.decompress(self.after if forward else self.before)
        return np.frombuffer(raw, np.uint8).reshape(self.region.shape_zyx)

    def apply(self, doc: Document, forward: bool) -> Region | None:
        """Write the box values and the marks back into ``doc``."""
        item = doc.items[self.volume_index]
        item.labels.labels_zyx[self.region.slices()] = self.values(forward)
        axes = set()
        for axis, index, before, after in self.marks:
            item.labeled[axis][index] = after if forward else before
            axes.add(axis)
        if self.volume_index == doc.current:
            doc.labels_changed.emit(self.region)
            for axis in sorted(axes):
                doc.marks_changed.emit(axis)
        return self.region


@dataclass
class TableEdit:
    """A change of the label table (add, rename, recolour) of one volume."""

    volume_index: int
    before: LabelTable
    after: LabelTable
    description: str = "label table"

    @property
    def nbytes(self) -> int:
        """Approximate bytes held."""
        return 64 * (len(self.before.classes) + len(self.after.classes))

    def apply(self, doc: Document, forward: bool) -> Region | None:
        """Put the table back."""
        doc.items[self.volume_index].labels.table = self.after if forward else self.before
        doc.table_changed.emit(None)
        return None


@dataclass
class CompoundEdit:
    """Several steps done and undone as one (delete or merge a label: voxels and table).

    Attributes:
        parts: the steps in the order they were done (undone in reverse order).
        description: what the user did.
    """

    parts: list[LabelDelta | TableEdit]
    description: str = "label edit"

    @property
    def nbytes(self) -> int:
        """Bytes held by the parts."""
        return sum(part.nbytes for part in self.parts)

    def apply(self, doc: Document, forward: bool) -> Region | None:
        """Redo every part in order, or undo them in reverse order; return the last region."""
        region = None
        for part in self.parts if forward else reversed(self.parts):
            region = part.apply(doc, forward) or region
        return region


def _pack(array: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(array, dtype=np.uint8).tobytes(), 1)


class UndoStack:
    """Linear history with a byte budget; the oldest steps are dropped first.

    Args:
        max_bytes: memory budget of all steps together (the newest step is always kept).

    Raises:
        ValueError: when ``max_bytes`` is not positive.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self.max_bytes = max_bytes
        self._entries: list[UndoEntry] = []
        self._index = 0  # entries[:index] are done, entries[index:] can be redone
        self.dropped = 0

    @property
    def nbytes(self) -> int:
        """Bytes held by all steps."""
        return sum(e.nbytes for e in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def can_undo(self) -> bool:
        """True when a step can be undone."""
        return self._index > 0

    def can_redo(self) -> bool:
        """True when an undone step can be redone."""
        return self._index < len(self._entries)

    def push(self, entry: UndoEntry) -> None:
        """Add a done step; forget the redo branch; drop old steps beyond the budget."""
        del self._entries[self._index :]
        self._entries.append(entry)
        self._index = len(self._entries)
        total = self.nbytes
        while total > self.max_bytes and len(self._entries) > 1:
            total -= self._entries.pop(0).nbytes
            self._index -= 1
            self.dropped += 1

    def undo(self, doc: Document) -> UndoEntry | None:
        """Undo the last done step in ``doc``; return it, or None when there is none."""
        if not self.can_undo():
            return None
        self._index -= 1
        entry = self._entries[self._index]
        entry.apply(doc, forward=False)
        return entry

    def redo(self, doc: Document) -> UndoEntry | None:
        """Redo the next undone step in ``doc``; return it, or None when there is none."""
        if not self.can_redo():
            return None
        entry = self._entries[self._index]
        self._index += 1
        entry.apply(doc, forward=True)
        return entry

    def clear(self) -> None:
        """Forget all steps (a new document)."""
        self._entries.clear()
        self._index = 0
