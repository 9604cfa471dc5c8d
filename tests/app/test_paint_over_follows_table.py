""" "Paint over: only label X" (and the active label) follow deleting and merging labels, also
through undo / redo and label-table imports: the rule never points at a deleted or missing
label (the brush would silently paint nothing)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from test_label_ops import workspace

from app.state.label_ops import delete_label, import_label_table, is_free, merge_label
from app.state.view_state import PaintOver
from app.state.workspace import Workspace


def only(ws: Workspace, value: int) -> None:
    ws.tools.update(paint_over=PaintOver.LABEL, paint_over_label=value)


def paint_z(ws: Workspace, index: int, value: int) -> None:
    """A brush dab of ``value`` on axial slice ``index``, round (row 9, column 5)."""
    assert ws.editor is not None
    ws.tools.update(label=value, radius=2.0)
    ws.editor.begin_stroke("z", index)
    ws.editor.stroke_to((9.0, 5.0))
    ws.editor.end_stroke()


def test_a_merge_makes_the_rule_and_the_active_label_follow_the_target(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    only(ws, 2)
    ws.tools.update(label=2)
    merge_label(ws.editor, 2, 1)
    assert ws.tools.paint_over is PaintOver.LABEL and ws.tools.paint_over_label == 1
    assert ws.tools.label == 1, "Slicer and ITK-SNAP go on with the label merged into"
    # the brush paints again: over the voxels that were spleen and are liver now
    before = ws.doc.labels_zyx.copy()
    paint_z(ws, 2, 3)
    changed = ws.doc.labels_zyx != before
    assert changed.any() and (before[changed] == 1).all()
    # undo / redo keep the rule on the target (it points at a label in use)
    assert ws.editor.undo() and ws.editor.undo()
    assert ws.tools.paint_over_label == 1 and ws.tools.paint_over is PaintOver.LABEL
    assert ws.editor.redo()
    assert ws.tools.paint_over_label == 1 and ws.tools.paint_over is PaintOver.LABEL


def test_a_delete_sends_the_rule_back_to_everything_also_on_redo(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    only(ws, 2)
    delete_label(ws.editor, 2)
    assert ws.tools.paint_over is PaintOver.EVERYTHING
    before = ws.doc.labels_zyx.copy()
    paint_z(ws, 2, 3)
    assert (ws.doc.labels_zyx != before).any(), "the brush paints again"
    assert ws.editor.undo() and ws.editor.undo()  # the dab, then the delete
    assert not is_free(ws.doc.table, 2)
    only(ws, 2)  # the user picks spleen again, then redoes the delete
    assert ws.editor.redo()
    assert is_free(ws.doc.table, 2) and ws.tools.paint_over is PaintOver.EVERYTHING
    # a redone merge (the rule set back to the merged-away label meanwhile) cannot tell where
    # the rule should go: Everything, never a deleted label
    assert ws.editor.undo()
    merge_label(ws.editor, 3, 1)
    assert ws.editor.undo()
    only(ws, 3)
    assert ws.editor.redo()
    assert ws.tools.paint_over is PaintOver.EVERYTHING


def test_an_undone_import_takes_the_rule_off_a_label_it_added(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    table_file = tmp_path / "label_description.txt"
    table_file.write_text('5 255 255 0 1 1 1 "aorta"\n')
    import_label_table(ws.editor, table_file)
    assert ws.doc.table.num_classes == 6
    only(ws, 5)
    assert ws.editor.undo()
    assert ws.doc.table.num_classes == 4
    assert ws.tools.paint_over is PaintOver.EVERYTHING
    # an import that leaves the rule's label in use leaves the rule alone
    only(ws, 1)
    table_file.write_text('1 255 0 0 1 1 1 "Liver"\n')
    import_label_table(ws.editor, table_file)
    assert ws.tools.paint_over is PaintOver.LABEL and ws.tools.paint_over_label == 1


def test_showing_a_volume_whose_table_freed_the_rules_label(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path, volumes=2)
    assert ws.editor is not None and ws.doc is not None
    ws.set_current(1)
    delete_label(ws.editor, 2)  # on volume 1 only
    ws.set_current(0)
    only(ws, 2)
    ws.set_current(1)
    assert ws.tools.paint_over is PaintOver.EVERYTHING
    assert not is_free(ws.doc.table, ws.tools.label)
