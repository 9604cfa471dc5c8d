"""LabelEditor: the only writer of label values and labeled-slice marks.

Each user action (a brush drag, a fill, a polygon, a mark) becomes one undo step that holds only
the box it changed. Every write is announced on ``Document.labels_changed`` and written to the
autosave journal, if one is attached.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from app.state.document import Document, Region, region_of_slice_box, slice_of
from app.state.observable import Signal
from app.state.raster import disc_box, flood_mask, polygon_mask
from app.state.undo import CompoundEdit, LabelDelta, TableEdit, UndoStack
from app.state.view_state import PaintOver, ToolState
from ugpcl_engine import (
    DEFAULT_COLORS,
    InputError,
    LabelClass,
    LabelTable,
    Mark,
    SegmentCode,
    axis_index,
)


class JournalSink(Protocol):
    """Where finished edits are appended for crash recovery (``ugpcl_engine.io.journal``)."""

    def record(
        self,
        volume_index: int,
        origin_zyx: tuple[int, int, int],
        values_zyx: np.ndarray,
        marks: tuple[Mark, ...] = (),
    ) -> None:
        """Append the new values of a box and the slice marks as they are after the edit."""
        ...

    def record_table(self, volume_index: int, table: LabelTable) -> None:
        """Append a volume's whole label table after a change."""
        ...


@dataclass
class _Stroke:
    axis: str
    index: int
    before_rc: np.ndarray
    last_rc: tuple[float, float] | None
    erase: bool
    description: str


class LabelEditor:
    """Paints into the current volume of a document and records undo steps.

    Args:
        doc: the document.
        tools: the tool settings (label, radius, paint-over rule, auto marking).
        undo: the history steps go to.
        journal: optional autosave sink.

    Attributes:
        journal_failed: emits the message when the journal cannot be written (it is then
            detached; edits go on, the user should save).
    """

    def __init__(
        self, doc: Document, tools: ToolState, undo: UndoStack, journal: JournalSink | None = None
    ) -> None:
        self.doc = doc
        self.tools = tools
        self.undo_stack = undo
        self.journal = journal
        self.journal_failed: Signal[str] = Signal()
        self._stroke: _Stroke | None = None

    # -- strokes ---------------------------------------------------------------------------
    @property
    def in_stroke(self) -> bool:
        """True between ``begin_stroke`` and ``end_stroke``."""
        return self._stroke is not None

    def begin_stroke(self, axis: str, index: int, erase: bool = False) -> None:
        """Start a brush (or eraser) drag on one slice; ends any open stroke first."""
        self.end_stroke()
        before = slice_of(self.doc.labels_zyx, axis, index).copy()
        self._stroke = _Stroke(axis, index, before, None, erase, "erase" if erase else "brush")

    def stroke_to(self, center_rc: tuple[float, float]) -> None:
        """Paint dabs from the previous point to ``center_rc`` (row, col) on the stroke slice.

        Raises:
            RuntimeError: when no stroke is open.
        """
        if self._stroke is None:
            raise RuntimeError("stroke_to outside a stroke")
        last = self._stroke.last_rc
        radius = self.tools.radius_rc(self._spacing_rc(self._stroke.axis))
        if last is None:
            points = [center_rc]
        else:
            dist = np.hypot(
                (center_rc[0] - last[0]) / radius[0], (center_rc[1] - last[1]) / radius[1]
            )
            steps = max(1, int(np.ceil(dist * 2)))
            points = [
                (last[0] + (center_rc[0] - last[0]) * t, last[1] + (center_rc[1] - last[1]) * t)
                for t in np.linspace(0, 1, steps + 1)[1:]
            ]
        for point in points:
            self.dab(self._stroke.axis, self._stroke.index, point, self._stroke.erase)
        self._stroke.last_rc = center_rc

    def dab(
        self, axis: str, index: int, center_rc: tuple[float, float], erase: bool = False
    ) -> Region | None:
        """Stamp one brush disc; outside a stroke it is its own undo step.

        Args:
            axis: slice axis name.
            index: slice index.
            center_rc: disc centre (row, col) in voxels.
            erase: write background instead of the active label.

        Returns:
            The region written, or None when the disc missed the slice.
        """
        if self._stroke is None:
            self.begin_stroke(axis, index, erase)
            region = self.dab(axis, index, center_rc, erase)
            self.end_stroke()
            return region
        plane = slice_of(self.doc.labels_zyx, axis, index)
        box = disc_box(plane.shape, center_rc, self.tools.radius_rc(self._spacing_rc(axis)))
        if box is None:
            return None
        rows, cols, mask = box
        return self._write(axis, index, rows, cols, mask, erase)

    def end_stroke(self) -> LabelDelta | None:
        """Close the open stroke as one undo step (None when nothing changed)."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return None
        after = slice_of(self.doc.labels_zyx, stroke.axis, stroke.index)
        return self._commit(stroke.axis, stroke.index, stroke.before_rc, after, stroke.description)

    # -- area tools --------------------------------------------------------------------------
    def fill(
        self, axis: str, index: int, seed_rc: tuple[int, int], erase: bool = False
    ) -> LabelDelta | None:
        """Flood-fill the 4-connected area of the seed's label in one slice.

        Returns:
            The undo step, or None when nothing changed.
        """
        self.end_stroke()
        plane = slice_of(self.doc.labels_zyx, axis, index)
        r, c = int(seed_rc[0]), int(seed_rc[1])
        if not (0 <= r < plane.shape[0] and 0 <= c < plane.shape[1]):
            return None
        mask = flood_mask(plane == plane[r, c], (r, c))
        return self._area_step(axis, index, mask, erase, "fill")

    def polygon(
        self, axis: str, index: int, points_rc: np.ndarray, erase: bool = False
    ) -> LabelDelta | None:
        """Fill a closed polygon or lasso (N, 2) of (row, col) points in one slice."""
        self.end_stroke()
        plane = slice_of(self.doc.labels_zyx, axis, index)
        mask = polygon_mask(plane.shape, points_rc)
        return self._area_step(axis, index, mask, erase, "polygon")

    def pick(self, axis: str, index: int, at_rc: tuple[int, int]) -> int:
        """Make the label under ``at_rc`` the active one (background keeps the old); return it."""
        value = int(slice_of(self.doc.labels_zyx, axis, index)[int(at_rc[0]), int(at_rc[1])])
        if value > 0:
            self.tools.update(label=value)
        return self.tools.label

    # -- marks -------------------------------------------------------------------------------
    def set_mark(self, axis: str, index: int, labeled: bool) -> LabelDelta | None:
        """Mark (or unmark) a slice as labeled, as one undo step."""
        self.end_stroke()
        marks = self.doc.item.labeled[axis]
        if bool(marks[index]) == labeled:
            return None
        cur = self.doc.labels_zyx[:1, :1, :1]  # a one-voxel no-op box carries the mark
        delta = LabelDelta.capture(
            self.doc.current,
            Region((0, 0, 0), (1, 1, 1)),
            cur,
            cur,
            "mark slice" if labeled else "unmark slice",
        )
        delta.marks.append((axis, index, bool(marks[index]), labeled))
        marks[index] = labeled
        self.push_delta(delta)
        self.doc.marks_changed.emit(axis)
        return delta

    # -- undo --------------------------------------------------------------------------------
    def undo(self) -> bool:
        """Undo one step; return False when there was none."""
        self.end_stroke()
        entry = self.undo_stack.undo(self.doc)
        self._after_history(entry, forward=False)
        return entry is not None

    def redo(self) -> bool:
        """Redo one step; return False when there was none."""
        self.end_stroke()
        entry = self.undo_stack.redo(self.doc)
        self._after_history(entry, forward=True)
        return entry is not None

    # -- label table -------------------------------------------------------------------------
    def add_label(
        self, name: str | None = None, color_rgb: tuple[int, int, int] | None = None
    ) -> int:
        """Append a class to the table; return its value.

        Raises:
            InputError: when the table already has 256 classes.
        """
        table = self.doc.table
        value = table.num_classes
        if value > 255:
            raise InputError("At most 255 labels are supported; reuse or rename one instead.")
        if color_rgb is None:
            color_rgb = (
                DEFAULT_COLORS[value]
                if value < len(DEFAULT_COLORS)
                else ((value * 67) % 256, (value * 131) % 256, (value * 193) % 256)
            )
        new = LabelClass(value, name or f"label {value}", color_rgb)
        self._set_table(LabelTable((*table.classes, new)), "add label")
        return value

    def rename_label(self, value: int, name: str) -> None:
        """Rename a class.

        Raises:
            InputError: for an empty name.
        """
        if not name.strip():
            raise InputError("A label needs a name; type one before pressing Enter.")
        self._replace_class(value, name=name.strip())

    def recolour_label(self, value: int, color_rgb: tuple[int, int, int]) -> None:
        """Give a class a new colour (0-255 per channel)."""
        r, g, b = (int(np.clip(v, 0, 255)) for v in color_rgb)
        self._replace_class(value, color_rgb=(r, g, b))

    def set_hidden(self, value: int, hidden: bool) -> None:
        """Hide or show a label in the overlay (not an undo step)."""
        (self.doc.hidden.add if hidden else self.doc.hidden.discard)(value)
        self.doc.table_changed.emit(None)

    def set_locked(self, value: int, locked: bool) -> None:
        """Lock or unlock a label against overwriting (not an undo step)."""
        (self.doc.locked.add if locked else self.doc.locked.discard)(value)
        self.doc.table_changed.emit(None)

    def writable(self, values: np.ndarray, erase: bool = False) -> np.ndarray:
        """Bool mask of ``values`` that a paint (or erase) may change: paint-over rule, locks."""
        return self._writable(values, erase)

    # -- internals ---------------------------------------------------------------------------
    def set_code(self, value: int, code: SegmentCode | None) -> None:
        """Give a class its DICOM category/type (None: back to the default from its name)."""
        self._replace_class(value, code=code)

    def _replace_class(self, value: int, **changes: Any) -> None:
        table = self.doc.table
        if not 0 < value < table.num_classes:
            raise InputError(f"There is no label {value}; pick one from the label table.")
        old = table.classes[value]
        new = replace(old, **{k: v for k, v in changes.items() if v is not None or k == "code"})
        classes = list(table.classes)
        classes[value] = new
        self._set_table(LabelTable(tuple(classes)), "edit label")

    def _set_table(self, table: LabelTable, description: str) -> None:
        edit = TableEdit(self.doc.current, self.doc.table, table, description)
        edit.apply(self.doc, forward=True)
        self.undo_stack.push(edit)
        self.doc.modified = True
        self._journal_table(edit.volume_index)

    def _writable(self, region_values: np.ndarray, erase: bool) -> np.ndarray:
        """Bool mask of voxels the paint-over rule and the locks allow to change."""
        rule = self.tools.paint_over
        if rule is PaintOver.EVERYTHING:
            allowed = np.ones(region_values.shape, bool)
        elif rule is PaintOver.LABEL:
            allowed = region_values == self.tools.paint_over_label
        elif erase:  # erasing "only background" is meaningless: erase the active label instead
            allowed = region_values == self.tools.label
        else:
            allowed = region_values == 0
        for value in self.doc.locked:
            allowed &= region_values != value
        return allowed

    def _in_range(self, axis: str, index: int, rows: slice, cols: slice) -> np.ndarray | bool:
        """Where the image intensity lies in the threshold range (True everywhere without one)."""
        limits = self.tools.intensity_range
        if limits is None:
            return True
        values = slice_of(self.doc.item.volume.image_zyx, axis, index)[rows, cols]
        low, high = min(limits), max(limits)
        return (values >= low) & (values <= high)

    def _write(
        self, axis: str, index: int, rows: slice, cols: slice, mask: np.ndarray, erase: bool
    ) -> Region | None:
        plane = slice_of(self.doc.labels_zyx, axis, index)
        target = plane[rows, cols]
        write = mask & self._writable(target, erase) & self._in_range(axis, index, rows, cols)
        if not write.any():
            return None
        target[write] = 0 if erase else self.tools.label
        region = region_of_slice_box(axis, index, rows, cols)
        self.doc.labels_changed.emit(region)
        return region

    def _area_step(
        self, axis: str, index: int, mask: np.ndarray, erase: bool, description: str
    ) -> LabelDelta | None:
        plane = slice_of(self.doc.labels_zyx, axis, index)
        before = plane.copy()
        rows_any, cols_any = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
        if rows_any.size == 0:
            return None
        rows = slice(int(rows_any[0]), int(rows_any[-1]) + 1)
        cols = slice(int(cols_any[0]), int(cols_any[-1]) + 1)
        self._write(axis, index, rows, cols, mask[rows, cols], erase)
        return self._commit(axis, index, before, plane, description)

    def _commit(
        self, axis: str, index: int, before_rc: np.ndarray, after_rc: np.ndarray, description: str
    ) -> LabelDelta | None:
        changed = before_rc != after_rc
        rows_any = np.flatnonzero(changed.any(1))
        if rows_any.size == 0:
            return None
        cols_any = np.flatnonzero(changed.any(0))
        rows = slice(int(rows_any[0]), int(rows_any[-1]) + 1)
        cols = slice(int(cols_any[0]), int(cols_any[-1]) + 1)
        region = region_of_slice_box(axis, index, rows, cols)
        shape = region.shape_zyx
        delta = LabelDelta.capture(
            self.doc.current,
            region,
            before_rc[rows, cols].reshape(shape),
            after_rc[rows, cols].reshape(shape),
            description,
        )
        marks = self.doc.item.labeled[axis]
        if self.tools.mark_on_paint and not marks[index]:
            delta.marks.append((axis, index, False, True))
            marks[index] = True
            self.doc.marks_changed.emit(axis)
        self.push_delta(delta)
        return delta

    def push_delta(self, delta: LabelDelta) -> None:
        """Record an edit already applied to the document as one undo step.

        Used by writers that compute their own box (accepting a prediction): the undo stack,
        the modified flag and the autosave journal stay in step with every other edit.

        Args:
            delta: before/after values of the box; its "after" is already in the labels.
        """
        self.push_step(delta)

    def push_step(self, entry: LabelDelta | TableEdit | CompoundEdit) -> None:
        """Record any step already applied to the document: undo stack, modified, journal.

        Args:
            entry: the step (a ``CompoundEdit`` is journaled part by part, in order).
        """
        self.undo_stack.push(entry)
        self.doc.modified = True
        self._journal_entry(entry, forward=True)

    def _journal_entry(self, entry: object, forward: bool) -> None:
        if isinstance(entry, LabelDelta):
            self._journal(entry, forward)
        elif isinstance(entry, TableEdit):
            self._journal_table(entry.volume_index)
        elif isinstance(entry, CompoundEdit):
            for part in entry.parts if forward else reversed(entry.parts):
                self._journal_entry(part, forward)

    def _journal(self, delta: LabelDelta, forward: bool) -> None:
        """Journal a label step as it is now (after it was done, undone or redone)."""
        values = self.doc.items[delta.volume_index].labels.labels_zyx[delta.region.slices()]
        marks = tuple((a, i, after if forward else before) for a, i, before, after in delta.marks)
        self._to_journal(
            lambda j: j.record(delta.volume_index, delta.region.origin_zyx, values.copy(), marks)
        )

    def _journal_table(self, volume_index: int) -> None:
        table = self.doc.items[volume_index].labels.table
        self._to_journal(lambda j: j.record_table(volume_index, table))

    def _to_journal(self, write: Callable[[JournalSink], None]) -> None:
        if self.journal is None:
            return
        try:
            write(self.journal)
        except InputError as err:
            # the edit itself is done and undoable; only crash protection is lost
            self.journal = None
            self.journal_failed.emit(str(err))

    def _after_history(self, entry: object, forward: bool) -> None:
        if entry is None:
            return
        self.doc.modified = True
        self._journal_entry(entry, forward)

    def _spacing_rc(self, axis: str) -> tuple[float, float]:
        sp = self.doc.item.volume.geometry.spacing_zyx
        a = axis_index(axis)
        rest = [sp[i] for i in range(3) if i != a]
        return (float(rest[0]), float(rest[1]))
