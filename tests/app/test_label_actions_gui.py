"""Delete / merge / import labels through the Labels panel, and the , / . label keys (issue 16)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.state.document import Document, VolumeItem
from app.state.label_ops import FREE_NAME
from app.ui import label_actions
from app.ui.dialogs import SHORTCUTS
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry

sys.path.insert(0, str(Path(__file__).parent))  # the recovery tests' helpers

TABLE = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "liver", (200, 80, 60)),
        LabelClass(2, "spleen", (60, 80, 200)),
        LabelClass(3, "kidney", (10, 200, 10)),
    )
)


def document() -> Document:
    """6×30×32, liver on axial slices 1-2, spleen on 2-3, kidney on 3."""
    geometry = VolumeGeometry((6, 30, 32), (2.0, 1.0, 1.0))
    labels = np.zeros(geometry.shape_zyx, np.uint8)
    labels[1:3, 2:10, 2:10] = 1
    labels[2:4, 12:20, 4:14] = 2
    labels[3, 22:26, 20:28] = 3
    item = VolumeItem.new(
        Volume(np.zeros(geometry.shape_zyx, np.int16), geometry, "abdomen", "CT"),
        LabelMap(labels, geometry, TABLE),
    )
    return Document([item])


def names_in_panel(window) -> list[str]:
    table = window.label_panel.table
    return [table.item(row, 1).text() for row in range(table.rowCount())]


@pytest.fixture
def opened(qtbot, window):
    window.ws.set_document(document())
    window.ws.view.set_slice("z", 2, 6)
    qtbot.wait(20)
    return window


def test_delete_button_clears_the_label_and_undo_brings_it_back(qtbot, opened) -> None:
    window = opened
    doc = window.ws.doc
    before = doc.labels_zyx.copy()
    window.label_panel.table.setCurrentCell(1, 1)  # row 1: spleen (2), now the active label
    assert window.ws.tools.label == 2
    qtbot.mouseClick(window.label_panel.delete_button, Qt.MouseButton.LeftButton)
    assert not (doc.labels_zyx == 2).any()
    assert names_in_panel(window) == ["liver", FREE_NAME, "kidney"]
    assert not (window.views["z"].label_item.image == 2).any(), "the view redrew"
    assert "Deleted label 2 (spleen)" in window.statusBar().currentMessage()
    assert window.windowTitle().endswith("* — ugpcl-studio")

    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.labels_zyx, before)
    assert names_in_panel(window) == ["liver", "spleen", "kidney"]
    assert (window.views["z"].label_item.image == 2).any()
    window.redo_action.trigger()
    assert names_in_panel(window)[1] == FREE_NAME and not (doc.labels_zyx == 2).any()


def test_merge_from_the_row_menu_and_the_button(qtbot, opened, dialogs_log) -> None:
    window = opened
    doc = window.ws.doc
    panel = window.label_panel
    before = doc.labels_zyx.copy()
    menu = panel.row_menu(3)
    [delete, merge, code, _sep, import_entry] = menu.actions()
    assert delete.text() == "Delete label" and import_entry.text() == "Import label table…"
    assert code.text() == "DICOM code…"
    targets = {a.text(): a for a in merge.menu().actions()}
    assert list(targets) == ["1: liver", "2: spleen"]
    targets["1: liver"].trigger()
    np.testing.assert_array_equal(doc.labels_zyx[before == 3], 1)
    assert names_in_panel(window) == ["liver", "spleen", FREE_NAME]

    panel.table.setCurrentCell(1, 1)  # spleen
    panel._fill_merge_button()  # what opening the button's menu does
    [only] = panel.merge_button.menu().actions()
    assert only.text() == "1: liver", "a deleted label is no target"
    only.trigger()
    assert set(np.unique(doc.labels_zyx)) == {0, 1}
    window.undo_action.trigger()
    window.undo_action.trigger()
    np.testing.assert_array_equal(doc.labels_zyx, before)
    assert dialogs_log["errors"] == []


def test_locked_labels_cannot_be_merged_away(qtbot, opened, dialogs_log) -> None:
    window = opened
    doc = window.ws.doc
    panel = window.label_panel
    before = doc.labels_zyx.copy()
    panel.table.item(0, 3).setCheckState(Qt.CheckState.Checked)  # lock liver
    assert 1 in doc.locked
    [_, merge, *_] = panel.row_menu(1).actions()
    merge.menu().actions()[0].trigger()  # liver into spleen
    [message] = dialogs_log["errors"]
    assert "locked; unlock it to merge it away" in message
    np.testing.assert_array_equal(doc.labels_zyx, before)
    assert names_in_panel(window) == ["liver", "spleen", "kidney"]
    assert not window.ws.undo.can_undo()


def test_import_button_and_edit_menu_read_a_label_table(
    qtbot, opened, dialogs_log, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = opened
    doc = window.ws.doc
    snap = tmp_path / "label_description.txt"
    snap.write_text(
        '0 0 0 0 0 0 0 "Clear Label"\n1 255 0 0 1 1 1 "Liver"\n4 0 0 9 1 1 1 "Tumour"\n'
    )
    chosen = [str(snap)]
    monkeypatch.setattr(label_actions, "ask_table_file", lambda _parent: chosen.pop(0))
    qtbot.mouseClick(window.label_panel.import_button, Qt.MouseButton.LeftButton)
    assert names_in_panel(window) == ["Liver", "spleen", "kidney", "Tumour"]
    assert doc.table.classes[1].color_rgb == (255, 0, 0)
    message = window.statusBar().currentMessage()
    assert (
        "Imported label_description.txt" in message and "labels 2, 3 are not in the file" in message
    )

    bad = tmp_path / "colors.ctbl"
    bad.write_text("1 liver 1 2 3 255\nnot a line\n")
    chosen.append(str(bad))
    [action] = [a for a in window.menus["Edit"].actions() if a.text() == "Import label table…"]
    action.trigger()
    assert dialogs_log["errors"] == [
        "colors.ctbl line 2 is not a colour-table line (value name r g b a); fix or remove it."
    ]
    assert names_in_panel(window)[0] == "Liver"
    window.undo_action.trigger()
    assert names_in_panel(window) == ["liver", "spleen", "kidney"]


def test_comma_and_period_cycle_through_the_labels(qtbot, opened) -> None:
    window = opened
    tools = window.ws.tools
    assert tools.label == 1
    seen = []
    for _ in range(3):
        QTest.keyClick(window, Qt.Key.Key_Period)
        seen.append(tools.label)
    assert seen == [2, 3, 1]
    QTest.keyClick(window, Qt.Key.Key_Comma)
    assert tools.label == 3
    window.label_panel.table.setCurrentCell(1, 1)
    qtbot.mouseClick(window.label_panel.delete_button, Qt.MouseButton.LeftButton)
    QTest.keyClick(window, Qt.Key.Key_Comma)
    assert tools.label == 1, "the deleted label is skipped"
    assert window.label_panel.selected_value() == 1, "the panel follows"
    assert (", / .", "Previous / next label (ITK-SNAP's < / >)") in SHORTCUTS
    keys = {a.shortcut().toString() for a in window.actions()}
    assert {label_actions.NEXT_KEY, label_actions.PREVIOUS_KEY} <= keys


def test_a_crash_after_merge_delete_and_import_recovers_them(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log, monkeypatch
) -> None:
    from test_recovery_gui import crash, save_and_wait, second_window
    from test_workspace_gui import open_and_wait

    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "labels.ugpcl"
    save_and_wait(qtbot, window, project)
    editor, panel = window.ws.editor, window.label_panel
    editor.dab("z", 4, (20.0, 20.0))  # label 1
    panel.add_requested.emit()  # label 2, now active
    editor.dab("z", 5, (22.0, 22.0))
    panel.add_requested.emit()  # label 3
    editor.dab("z", 6, (10.0, 30.0))
    panel.merge_requested.emit(3, 1)
    panel.delete_requested.emit(2)
    snap = tmp_path / "colors.ctbl"
    snap.write_text("1 liver 255 0 0 255\n")
    monkeypatch.setattr(label_actions, "ask_table_file", lambda _parent: str(snap))
    panel.import_requested.emit()
    doc = window.ws.doc
    painted, classes = doc.labels_zyx.copy(), doc.table.classes
    assert set(np.unique(painted)) == {0, 1} and [c.name for c in classes] == [
        "background",
        "liver",
        FREE_NAME,
        FREE_NAME,
    ]
    crash(window)

    second = second_window(qtbot)
    open_and_wait(qtbot, second, lambda: second.files.open_paths([project]))
    assert len(dialogs_log["recover"]) == 1
    np.testing.assert_array_equal(second.ws.doc.labels_zyx, painted)
    assert second.ws.doc.table.classes == classes
    assert names_in_panel(second) == ["liver", FREE_NAME, FREE_NAME]
    assert dialogs_log["errors"] == []
    second.ws.doc.modified = False
