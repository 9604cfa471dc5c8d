"""Label-table operations that go beyond add, rename and recolour (issue 16), Qt-free.

- ``import_label_table``: names and colours from an ITK-SNAP or Slicer table file.
- ``delete_label``: the label's voxels become background and its table entry is freed.
- ``merge_label``: the label's voxels move to another label and its table entry is freed.
- ``step_label``: the next / previous label for the ``.`` / ``,`` keys.

Each is one undo step (voxels and table together, a ``CompoundEdit``), journaled part by part
(voxels first, then the table) through the editor, so a crash after it recovers its result.

Label values are never renumbered. A deleted or merged-away value stays in the table as a free
entry named ``FREE_NAME``: a trained model's class ``k`` is the table's value ``k``, and the
labels of earlier model versions, stored predictions and the other volumes of the document
keep their meaning only if no value moves. The free entry holds no voxels, is skipped by the
next/previous label keys, and becomes a label again when it is renamed (or named by an
imported table); ``Add label`` appends after it as before.

The operations act on the volume shown, as add/rename/recolour do: every volume of a document
has its own label table and its own undo history (``Workspace``), so a step that also changed
another volume could be undone from this one over that volume's later edits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from app.state.document import Region
from app.state.editor import LabelEditor
from app.state.undo import CompoundEdit, LabelDelta, TableEdit
from app.state.view_state import PaintOver
from ugpcl_engine import InputError, LabelClass, LabelTable, read_label_entries, table_with_entries

FREE_NAME = "(deleted)"
"""Name of a table entry whose label was deleted or merged away (the value is kept)."""
FREE_COLOR = (96, 96, 96)


def is_free(table: LabelTable, value: int) -> bool:
    """True when ``value`` is a freed entry (deleted or merged away) of ``table``."""
    return 0 < value < table.num_classes and table.classes[value].name == FREE_NAME


def free_values(table: LabelTable) -> list[int]:
    """The freed entries of ``table`` (deleted or merged away), in order."""
    return [c.value for c in table.classes[1:] if c.name == FREE_NAME]


def labels_in_use(table: LabelTable) -> list[int]:
    """The label values (background and free entries left out), in order."""
    return [c.value for c in table.classes[1:] if c.name != FREE_NAME]


def step_label(table: LabelTable, current: int, step: int) -> int:
    """The label ``step`` places after (or, negative, before) ``current``, wrapping around.

    Args:
        table: the label table.
        current: the active label (may be a free entry or out of range).
        step: +1 next, -1 previous.

    Returns:
        A label in use, or ``current`` when the table has none.
    """
    values = labels_in_use(table)
    if not values:
        return current
    if current in values:
        return values[(values.index(current) + step) % len(values)]
    after = [v for v in values if (v > current if step > 0 else v < current)]
    if not after:
        return values[0] if step > 0 else values[-1]
    return after[0] if step > 0 else after[-1]


def _check_label(table: LabelTable, value: int, what: str) -> None:
    if not 0 < value < table.num_classes:
        raise InputError(f"There is no label {value} to {what}; pick one from the label table.")
    if is_free(table, value):
        raise InputError(f"Label {value} was already deleted; pick a label in use.")


def _freed(table: LabelTable, value: int) -> LabelTable:
    classes = list(table.classes)
    classes[value] = LabelClass(value, FREE_NAME, FREE_COLOR)
    return LabelTable(tuple(classes))


def _move_voxels(
    editor: LabelEditor, source: int, target: int, description: str
) -> LabelDelta | None:
    """Write ``target`` where the shown volume holds ``source``; the delta of the box, if any."""
    doc = editor.doc
    labels = doc.labels_zyx
    mask = labels == source
    if not mask.any():
        return None
    (z0, z1), (y0, y1), (x0, x1) = (_extent(mask, axis) for axis in range(3))
    region = Region((z0, y0, x0), (z1 - z0, y1 - y0, x1 - x0))
    box = labels[region.slices()]
    before = box.copy()
    box[mask[region.slices()]] = target
    delta = LabelDelta.capture(doc.current, region, before, box, description)
    doc.labels_changed.emit(region)
    return delta


def _extent(mask_zyx: np.ndarray, axis: int) -> tuple[int, int]:
    """First and one-past-last index along ``axis`` where the (non-empty) mask is set."""
    hit = np.flatnonzero(mask_zyx.any(axis=tuple(a for a in range(3) if a != axis)))
    return int(hit[0]), int(hit[-1]) + 1


def _label_step(editor: LabelEditor, source: int, target: int, description: str) -> CompoundEdit:
    """Move ``source``'s voxels to ``target`` and free its entry, as one undo step. The active
    label and a "Paint over: only label" rule on ``source`` follow a merge to ``target``; after
    a delete the active label moves on to the next in use and the rule goes back to Everything.
    (Both are taken before the table changes: the workspace moves them off a free entry on
    any table change, which would hide where a merge went.)"""
    editor.end_stroke()
    doc, tools = editor.doc, editor.tools
    was_active = tools.label == source
    painted_over = tools.paint_over is PaintOver.LABEL and tools.paint_over_label == source
    delta = _move_voxels(editor, source, target, description)
    edit = TableEdit(doc.current, doc.table, _freed(doc.table, source), description)
    edit.apply(doc, forward=True)
    step = CompoundEdit([delta, edit] if delta is not None else [edit], description)
    editor.push_step(step)
    changes: dict[str, object] = {}
    if was_active:
        chosen = target if target > 0 else step_label(doc.table, source, 1)
        if chosen != tools.label:
            changes["label"] = chosen
    if painted_over and target > 0:
        changes.update(paint_over=PaintOver.LABEL, paint_over_label=target)
    elif painted_over and tools.paint_over is not PaintOver.EVERYTHING:
        changes["paint_over"] = PaintOver.EVERYTHING
    if changes:
        tools.update(**changes)
    return step


def delete_label(editor: LabelEditor, value: int) -> CompoundEdit:
    """Delete a label of the volume shown: its voxels become background, its entry is freed.

    Args:
        editor: the document's editor.
        value: the label.

    Returns:
        The undo step (already pushed and journaled).

    Raises:
        InputError: no such label, already deleted, or locked.
    """
    table = editor.doc.table
    _check_label(table, value, "delete")
    if value in editor.doc.locked:
        raise InputError(
            f"Label {value} ({table.classes[value].name}) is locked; unlock it to delete it."
        )
    return _label_step(editor, value, 0, f"delete label {table.classes[value].name}")


def merge_label(editor: LabelEditor, source: int, target: int) -> CompoundEdit:
    """Merge a label into another: its voxels take the target's value, its entry is freed.

    Args:
        editor: the document's editor.
        source: the label that goes.
        target: the label that receives its voxels (locked or not).

    Returns:
        The undo step (already pushed and journaled).

    Raises:
        InputError: no such label, the same label twice, a deleted label, or a locked source.
    """
    table = editor.doc.table
    _check_label(table, source, "merge")
    _check_label(table, target, "merge into")
    if source == target:
        raise InputError("A label cannot be merged into itself; pick another target.")
    if source in editor.doc.locked:
        raise InputError(
            f"Label {source} ({table.classes[source].name}) is locked; unlock it to merge it away."
        )
    names = table.classes[source].name, table.classes[target].name
    return _label_step(editor, source, target, f"merge {names[0]} into {names[1]}")


@dataclass(frozen=True)
class TableImport:
    """What importing a label table changed.

    Attributes:
        changed: values whose name or colour the file changed.
        added: values the file added above the table (placeholders in between included).
        kept: label values of the table the file does not list (name and colour kept).
        step: the undo step, or None when the file changed nothing.
    """

    changed: tuple[int, ...]
    added: tuple[int, ...]
    kept: tuple[int, ...]
    step: TableEdit | None

    def summary(self, name: str) -> str:
        """One status line."""
        if self.step is None:
            return f"{name}: the label table already has these names and colours."
        parts = [f"{len(self.changed)} label(s) renamed or recoloured"]
        if self.added:
            parts.append(f"{len(self.added)} added")
        text = f"Imported {name}: " + ", ".join(parts)
        if self.kept:
            text += f"; labels {', '.join(map(str, self.kept))} are not in the file and keep theirs"
        return text + "."


def import_label_table(editor: LabelEditor, path: str | Path) -> TableImport:
    """Give the shown volume's table the names and colours of an ITK-SNAP or Slicer table.

    The values the file lists take its names and colours (values above the table extend it);
    labels the file does not list, painted or not, keep their names and colours; background
    keeps its entry; no voxel changes. A file carries no DICOM codes: a label whose name the
    file keeps keeps its code, a renamed one gets the default of its new name. One undo step.

    Args:
        editor: the document's editor.
        path: an ITK-SNAP label description or a Slicer colour table (``.ctbl`` / ``.txt``).

    Returns:
        What changed.

    Raises:
        InputError: the file cannot be read or has a bad line (the message names it).
    """
    editor.end_stroke()
    doc = editor.doc
    entries = read_label_entries(path)
    old = doc.table
    new = _with_codes_kept(old, table_with_entries(old, entries))
    changed = tuple(
        v for v in range(1, old.num_classes) if v in entries and new.classes[v] != old.classes[v]
    )
    added = tuple(range(old.num_classes, new.num_classes))
    kept = tuple(v for v in labels_in_use(old) if v not in entries)
    if new == old:
        return TableImport((), (), kept, None)
    edit = TableEdit(doc.current, old, new, f"import label table {Path(path).name}")
    edit.apply(doc, forward=True)
    editor.push_step(edit)
    return TableImport(changed, added, kept, edit)


def _with_codes_kept(old: LabelTable, new: LabelTable) -> LabelTable:
    """``new`` with the DICOM code of every class of ``old`` whose name it kept."""
    classes = [
        replace(cls, code=old.classes[cls.value].code)
        if cls.value < old.num_classes
        and cls.code is None
        and cls.name == old.classes[cls.value].name
        else cls
        for cls in new.classes
    ]
    return LabelTable(tuple(classes))
