"""Delete, merge and import labels; next/previous label (issue 16), in the state layer.

Each operation is one undo step (voxels and table together), redoes, and is journaled so that a
crash after it recovers its result (the crash is simulated as in ``test_recovery_state``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.state.document import Document, VolumeItem
from app.state.files import load_project_document, save_snapshot, snapshot
from app.state.label_ops import (
    FREE_NAME,
    delete_label,
    import_label_table,
    is_free,
    merge_label,
    step_label,
)
from app.state.workspace import Workspace
from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry

TABLE = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "liver", (200, 80, 60)),
        LabelClass(2, "spleen", (60, 80, 200)),
        LabelClass(3, "kidney", (10, 200, 10)),
    )
)


def item(name: str, shape: tuple[int, int, int]) -> VolumeItem:
    """A volume with liver (1), spleen (2) and kidney (3) blocks on several slices."""
    geometry = VolumeGeometry(shape, (2.0, 1.0, 1.0))
    labels = np.zeros(shape, np.uint8)
    labels[1:3, 2:6, 2:6] = 1
    labels[2:4, 8:12, 3:9] = 2
    labels[0, 0, 0] = 2
    labels[3, 1:4, 10:12] = 3
    out = VolumeItem.new(
        Volume(np.zeros(shape, np.int16), geometry, name, "CT"),
        LabelMap(labels, geometry, TABLE),
    )
    out.labeled["z"][[1, 2, 3]] = True
    return out


def workspace(tmp_path: Path, volumes: int = 1) -> tuple[Workspace, Path]:
    """A saved project of ``volumes`` volumes, opened (its edits are journaled beside it)."""
    doc = Document([item(f"v{k}", (5 + k, 14, 13)) for k in range(volumes)])
    path = save_snapshot(tmp_path / "p.ugpcl", snapshot(doc, tmp_path / "p.ugpcl"))
    ws = Workspace()
    ws.set_document(load_project_document(path))
    return ws, path


def state(doc: Document, index: int) -> tuple[np.ndarray, LabelTable]:
    return doc.items[index].labels.labels_zyx.copy(), doc.items[index].labels.table


def recovered(ws: Workspace, path: Path) -> Workspace:
    """Crash (a killed process lets go of its lock) and reopen with recovery."""
    ws.keeper.release()
    again = Workspace()
    again.set_document(load_project_document(path))
    assert again.recover() > 0
    return again


def test_delete_makes_voxels_background_and_frees_the_value(tmp_path: Path) -> None:
    ws, path = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    doc = ws.doc
    before = state(doc, 0)
    ws.tools.update(label=2)
    steps = len(ws.undo)
    delete_label(ws.editor, 2)
    assert len(ws.undo) == steps + 1, "one undo step"
    labels = doc.labels_zyx
    assert not (labels == 2).any()
    np.testing.assert_array_equal(labels[before[0] == 2], 0)
    np.testing.assert_array_equal(labels[before[0] != 2], before[0][before[0] != 2])
    assert doc.table.num_classes == 4, "values are not renumbered"
    assert doc.table.names == ("background", "liver", FREE_NAME, "kidney") and is_free(doc.table, 2)
    assert ws.tools.label == 3, "the active label moves on to a label in use"
    assert doc.modified
    after = state(doc, 0)

    assert ws.editor.undo()
    np.testing.assert_array_equal(doc.labels_zyx, before[0])
    assert doc.table == TABLE
    assert ws.editor.redo()
    np.testing.assert_array_equal(doc.labels_zyx, after[0])
    assert doc.table == after[1]

    again = recovered(ws, path)
    assert again.doc is not None
    np.testing.assert_array_equal(again.doc.labels_zyx, after[0])
    assert again.doc.table == after[1]


def test_merge_moves_voxels_to_the_target_and_journals(tmp_path: Path) -> None:
    ws, path = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    doc = ws.doc
    before = doc.labels_zyx.copy()
    doc.locked.add(1)  # a locked target still receives the voxels
    merge_label(ws.editor, 2, 1)
    np.testing.assert_array_equal(doc.labels_zyx[before == 2], 1)
    np.testing.assert_array_equal(doc.labels_zyx[before != 2], before[before != 2])
    assert doc.table.names == ("background", "liver", FREE_NAME, "kidney")
    merged = state(doc, 0)
    ws.editor.undo()
    np.testing.assert_array_equal(doc.labels_zyx, before)
    assert doc.table == TABLE
    ws.editor.redo()
    ws.editor.rename_label(3, "left kidney")
    delete_label(ws.editor, 3)
    ws.editor.undo()  # the deletion goes again; the journal says so
    want = state(doc, 0)
    assert want[1].names[3] == "left kidney"
    np.testing.assert_array_equal(want[0], merged[0])

    again = recovered(ws, path)
    assert again.doc is not None
    np.testing.assert_array_equal(again.doc.labels_zyx, want[0])
    assert again.doc.table == want[1]


def test_refusals_change_nothing(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    doc = ws.doc
    before = doc.labels_zyx.copy()
    doc.locked.add(2)
    with pytest.raises(InputError, match=r"locked; unlock it to merge it away"):
        merge_label(ws.editor, 2, 1)
    with pytest.raises(InputError, match=r"locked; unlock it to delete it"):
        delete_label(ws.editor, 2)
    with pytest.raises(InputError, match=r"cannot be merged into itself"):
        merge_label(ws.editor, 1, 1)
    with pytest.raises(InputError, match=r"no label 7"):
        delete_label(ws.editor, 7)
    with pytest.raises(InputError, match=r"no label 0"):
        merge_label(ws.editor, 1, 0)
    delete_label(ws.editor, 3)
    with pytest.raises(InputError, match=r"already deleted"):
        merge_label(ws.editor, 1, 3)
    with pytest.raises(InputError, match=r"already deleted"):
        delete_label(ws.editor, 3)
    assert len(ws.undo) == 1
    np.testing.assert_array_equal(doc.labels_zyx[before != 3], before[before != 3])


def test_a_label_without_voxels_is_a_table_step_only(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    value = ws.editor.add_label("vessel")
    step = delete_label(ws.editor, value)
    assert len(step.parts) == 1 and ws.doc.table.names[value] == FREE_NAME
    ws.editor.undo()
    assert ws.doc.table.names[value] == "vessel"


def test_the_shown_volume_of_a_multi_volume_project(tmp_path: Path) -> None:
    """Each volume has its own table and history: the step changes the volume shown only,
    is undone from its history, and recovers onto that volume."""
    ws, path = workspace(tmp_path, volumes=2)
    assert ws.editor is not None and ws.doc is not None
    doc = ws.doc
    first = state(doc, 0)
    ws.set_current(1)
    before = doc.labels_zyx.copy()
    merge_label(ws.editor, 3, 2)
    delete_label(ws.editor, 1)
    assert not np.isin(doc.labels_zyx, (1, 3)).any()
    np.testing.assert_array_equal(doc.labels_zyx[before == 3], 2)
    assert doc.table.names == ("background", FREE_NAME, "spleen", FREE_NAME)
    np.testing.assert_array_equal(doc.items[0].labels.labels_zyx, first[0])
    assert doc.items[0].labels.table == TABLE
    want = state(doc, 1)
    ws.set_current(0)
    assert not ws.editor.undo(), "volume 1's steps are not in volume 0's history"
    delete_label(ws.editor, 2)
    first_after = state(doc, 0)
    ws.set_current(1)
    ws.editor.undo()
    ws.editor.redo()

    again = recovered(ws, path)
    assert again.doc is not None
    for index, (labels, table) in ((0, first_after), (1, want)):
        np.testing.assert_array_equal(again.doc.items[index].labels.labels_zyx, labels)
        assert again.doc.items[index].labels.table == table


def test_import_replaces_and_extends_names_and_colours(tmp_path: Path) -> None:
    ws, path = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    doc = ws.doc
    table_file = tmp_path / "label_description.txt"
    table_file.write_text(
        '0 0 0 0 0 0 0 "Clear Label"\n1 255 0 0 1 1 1 "Liver"\n5 0 0 255 1 1 1 "Tumour"\n'
    )
    labels = doc.labels_zyx.copy()
    result = import_label_table(ws.editor, table_file)
    assert result.changed == (1,) and result.added == (4, 5) and result.kept == (2, 3)
    assert "labels 2, 3 are not in the file" in result.summary(table_file.name)
    assert doc.table.names == ("background", "Liver", "spleen", "kidney", "label 4", "Tumour")
    assert doc.table.classes[1].color_rgb == (255, 0, 0)
    np.testing.assert_array_equal(doc.labels_zyx, labels)
    assert len(ws.undo) == 1
    want = doc.table
    again_import = import_label_table(ws.editor, table_file)
    assert again_import.step is None and len(ws.undo) == 1, "nothing new: no step"

    again = recovered(ws, path)
    assert again.doc is not None and again.doc.table == want
    assert again.editor is not None
    ws.editor.undo()
    assert doc.table == TABLE


def test_a_bad_table_file_changes_nothing(tmp_path: Path) -> None:
    ws, _ = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    bad = tmp_path / "colors.ctbl"
    bad.write_text("1 liver 1 2 3 255\n2 spleen 1 999 3 255\n")
    with pytest.raises(InputError, match=r"colors.ctbl line 2: colour"):
        import_label_table(ws.editor, bad)
    assert ws.doc.table == TABLE and len(ws.undo) == 0


def test_step_label_cycles_through_labels_in_use() -> None:
    classes = list(TABLE.classes)
    classes[2] = LabelClass(2, FREE_NAME, (96, 96, 96))
    table = LabelTable(tuple(classes))
    assert [step_label(TABLE, v, 1) for v in (1, 2, 3)] == [2, 3, 1]
    assert [step_label(TABLE, v, -1) for v in (1, 2, 3)] == [3, 1, 2]
    assert step_label(table, 1, 1) == 3 and step_label(table, 3, 1) == 1
    assert step_label(table, 2, 1) == 3 and step_label(table, 2, -1) == 1, "from a freed value"
    assert step_label(table, 9, 1) == 1 and step_label(table, 9, -1) == 3
    only_background = LabelTable((*TABLE.classes[:1], LabelClass(1, FREE_NAME)))
    assert step_label(only_background, 1, 1) == 1


def test_accepting_an_older_models_prediction_never_writes_a_deleted_label(
    tmp_path: Path,
) -> None:
    """A model trained before a label was deleted still predicts its class: accepting the
    prediction leaves those voxels alone instead of painting the "(deleted)" value back."""
    from app.state.prediction_edits import AcceptOptions, accept_prediction

    ws, _path = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    doc = ws.doc
    pred = doc.labels_zyx.copy()  # the model learned spleen (2) before it was deleted
    pred[4, 2:6, 2:6] = 1  # and finds liver on the unlabeled slice 4
    pred[4, 8:12, 3:9] = 2  # and spleen there too
    delete_label(ws.editor, 2)
    entropy = np.zeros(pred.shape, np.float32)
    accept_prediction(ws.editor, pred, entropy, "z", [4], AcceptOptions(False, 0.1, False))
    assert (doc.labels_zyx[4, 2:6, 2:6] == 1).all()
    assert not (doc.labels_zyx == 2).any()


def test_redo_of_a_delete_never_leaves_the_deleted_label_active(tmp_path: Path) -> None:
    """Delete label 2, undo, pick 2 again, redo: the active label moves on to one in use (the
    brush would otherwise paint the grey "(deleted)" entry)."""
    ws, _path = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    ws.tools.update(label=2)
    delete_label(ws.editor, 2)
    assert ws.tools.label == 3
    assert ws.editor.undo()
    ws.tools.update(label=2)
    assert ws.editor.redo()
    assert is_free(ws.doc.table, 2) and ws.tools.label == 3
