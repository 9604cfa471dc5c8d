"""File › Open segmentation… through the main window (pytest-qt, offscreen)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.state.document import Document, VolumeItem
from app.state.editor import LabelEditor
from app.state.segmentation_import import replace_labels
from app.state.undo import UndoStack
from app.state.view_state import ToolState
from app.ui import code_dialog, segmentation_menu
from ugpcl_engine.io.journal import read_journal
from ugpcl_engine.io.label_tables import write_label_table
from ugpcl_engine.io.volume_files import write_array
from ugpcl_engine.segment_codes import Concept, code_for
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry

GRID = VolumeGeometry((12, 40, 50), (2.0, 1.0, 1.0))  # the small_image fixture's grid
TABLE = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "liver", (200, 30, 30)),
        LabelClass(2, "tumour", (30, 200, 30)),
    )
)


@pytest.fixture(autouse=True)
def notes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The notes shown after opening (recorded instead of a modal box)."""
    shown: list[str] = []
    monkeypatch.setattr(segmentation_menu, "show_notes", lambda _p, _t, text: shown.append(text))
    return shown


def _open(qtbot, window, image: Path) -> None:
    window.files.open_paths([image])
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)


def _menu_action(window, text: str):
    return next(a for a in window.menus["File"].actions() if a.text() == text)


def _choose(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    monkeypatch.setattr(
        segmentation_menu.QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), "")
    )


def test_menu_opens_a_segmentation_as_one_undo_step(
    qtbot,
    window,
    small_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    notes: list[str],
) -> None:
    _open(qtbot, window, small_image)
    ws = window.ws
    ws.editor.dab("z", 8, (20.0, 20.0))  # the user's own labels, on slice 8
    old_labels, old_table = ws.doc.labels_zyx.copy(), ws.doc.table
    assert ws.doc.is_labeled("z", 8)
    seg = np.zeros(GRID.shape_zyx, np.uint8)
    seg[3, 10:20, 10:20] = 1
    seg[4, 12:18, 30:35] = 2
    path = tmp_path / "seg.nii.gz"
    write_array(path, seg, GRID)
    write_label_table(tmp_path / "seg_labels.txt", TABLE)
    _choose(monkeypatch, path)
    steps = len(ws.undo)
    _menu_action(window, "Open segmentation…").trigger()
    qtbot.waitUntil(lambda: bool(ws.doc.labels_zyx[3].any()), timeout=10000)
    assert np.array_equal(ws.doc.labels_zyx, seg) and ws.doc.table.names == TABLE.names
    assert [i for i in range(12) if ws.doc.is_labeled("z", i)] == [3, 4]
    assert len(ws.undo) == steps + 1 and notes and "seg_labels.txt" in notes[0]
    assert window.label_panel.table.item(1, 1).text() == "tumour"
    records = read_journal(ws.journal.path).records  # journaled for crash recovery
    assert any(getattr(r, "table", None) == TABLE for r in records)
    assert any(getattr(r, "values_zyx", np.zeros(1)).shape == seg.shape for r in records)
    window.undo()
    assert np.array_equal(ws.doc.labels_zyx, old_labels) and ws.doc.table == old_table
    assert [i for i in range(12) if ws.doc.is_labeled("z", i)] == [8]
    window.redo()
    assert np.array_equal(ws.doc.labels_zyx, seg)
    window.choose_label(2)
    small = tmp_path / "small_seg.nrrd"  # values 0..1 only, no table beside: the table is kept
    write_array(small, (seg > 0).astype(np.uint8), GRID)
    _choose(monkeypatch, small)
    _menu_action(window, "Open segmentation…").trigger()
    qtbot.waitUntil(lambda: int(ws.doc.labels_zyx.max()) == 1, timeout=10000)
    assert ws.doc.table.names == TABLE.names and ws.tools.label == 2
    write_label_table(tmp_path / "small_seg_labels.txt", LabelTable.default(2))
    _menu_action(window, "Open segmentation…").trigger()  # its own 2-class table now
    qtbot.waitUntil(lambda: ws.doc.table.num_classes == 2, timeout=10000)
    assert ws.tools.label == 1  # the active label 2 is gone: back to 1


def test_other_grid_shows_the_message_and_changes_nothing(
    qtbot,
    window,
    small_image: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    dialogs_log,
) -> None:
    _open(qtbot, window, small_image)
    ws = window.ws
    ws.editor.dab("z", 5, (20.0, 20.0))
    before, steps = ws.doc.labels_zyx.copy(), len(ws.undo)
    path = tmp_path / "other.nii.gz"
    write_array(
        path, np.ones(GRID.shape_zyx, np.uint8), VolumeGeometry(GRID.shape_zyx, (3.0, 1.0, 1.0))
    )
    _choose(monkeypatch, path)
    _menu_action(window, "Open segmentation…").trigger()
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    message = dialogs_log["errors"][0]
    assert "does not lie on the grid" in message and "spacing" in message
    assert "Nothing was changed" in message
    assert np.array_equal(ws.doc.labels_zyx, before) and len(ws.undo) == steps


def test_without_an_image_the_action_says_what_to_do(window, dialogs_log) -> None:
    _menu_action(window, "Open segmentation…").trigger()
    assert "Open an image first" in dialogs_log["errors"][0]


def test_replace_labels_keeps_codes_and_marks_in_one_state_step() -> None:
    geometry = VolumeGeometry((4, 5, 6))
    image = Volume(np.zeros((4, 5, 6), np.int16), geometry)
    doc = Document([VolumeItem.new(image)])
    doc.item.labeled["y"][2] = True
    editor = LabelEditor(doc, ToolState(), UndoStack())
    seg = np.zeros((4, 5, 6), np.uint8)
    seg[1, 0, 0] = 2
    replace_labels(editor, LabelMap(seg, geometry, TABLE))
    assert doc.item.labeled["z"].tolist() == [False, True, False, False]
    assert not doc.item.labeled["y"].any() and doc.modified
    assert editor.undo() and doc.item.labeled["y"][2] and not doc.labels_zyx.any()
    assert doc.table == LabelTable.default(2)


def _answer_dialog(monkeypatch: pytest.MonkeyPatch, typed: dict[tuple[str, str], str] | None):
    """Replace the modal exec: type ``typed`` into the fields and press OK (None: Restore
    Defaults); record the fields as the dialog showed them."""
    shown: list[dict[tuple[str, str], str]] = []

    def run(dialog: code_dialog.CodeDialog) -> int:
        shown.append({k: e.text() for k, e in dialog.edits.items()})
        if typed is None:
            dialog._restore()
        else:
            for key, text in typed.items():
                dialog.edits[key].setText(text)
            dialog.accept()
        return dialog.result()

    monkeypatch.setattr(code_dialog.CodeDialog, "exec", run)
    return shown


def test_dicom_code_from_the_label_panel_is_one_undo_step(
    qtbot, window, small_image: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _open(qtbot, window, small_image)
    ws = window.ws
    window.label_panel.renamed.emit(1, "Liver")
    shown = _answer_dialog(monkeypatch, {("type", "value"): "4147007", ("type", "meaning"): "Mass"})
    menu = window.label_panel.row_menu(1)
    next(a for a in menu.actions() if a.text() == "DICOM code…").trigger()
    assert shown[0][("type", "value")] == "10200004"  # the default the name suggests
    code = ws.doc.table.classes[1].code
    assert code is not None and code.type == Concept("SCT", "4147007", "Mass")
    assert code.category == Concept("SCT", "91723000", "Anatomical Structure")
    window.label_panel.renamed.emit(1, "big liver")  # renaming keeps the code
    assert ws.doc.table.classes[1].code == code
    _answer_dialog(monkeypatch, None)
    window.label_panel.code_requested.emit(1)
    assert ws.doc.table.classes[1].code is None  # back to the default from the name
    window.undo()
    assert ws.doc.table.classes[1].code == code


def test_empty_code_field_keeps_the_dialog_open(qtbot) -> None:
    dialog = code_dialog.CodeDialog(None, "x", code_for("x", None), True)
    qtbot.addWidget(dialog)
    dialog.edits[("category", "value")].setText(" ")
    dialog.accept()
    assert dialog.chosen is None and "needs a value" in dialog.error.text()


def test_opened_segmentation_is_recovered_after_a_crash(
    qtbot, window, small_image: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dialogs_log
) -> None:
    from app.ui.main_window import MainWindow

    _open(qtbot, window, small_image)
    project = tmp_path / "p.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: window.ws.doc.project_path == project, timeout=10000)
    seg = np.zeros(GRID.shape_zyx, np.uint8)
    seg[6, 5:9, 5:9] = 2
    path = tmp_path / "s.nrrd"
    write_array(path, seg, GRID)
    window.files.segmentations.open_path(path)
    qtbot.waitUntil(lambda: bool(window.ws.doc.labels_zyx.any()), timeout=10000)
    window.ws.doc.modified = False  # the "crash": the window goes away without saving

    second = MainWindow()
    qtbot.addWidget(second)
    second.files.open_paths([project])
    qtbot.waitUntil(lambda: second.ws.doc is not None, timeout=10000)
    assert np.array_equal(second.ws.doc.labels_zyx, seg)
    assert second.ws.doc.table.names == ("background", "label 1", "label 2")
    assert second.ws.doc.is_labeled("z", 6) and second.ws.doc.modified
    second.ws.doc.modified = False


def test_a_plain_segmentation_opens_when_the_image_folder_holds_no_dicom_any_more(
    tmp_path: Path,
) -> None:
    from app.state.segmentation_import import read_segmentation

    labels = np.zeros(GRID.shape_zyx, np.uint8)
    labels[3, 5:9, 5:9] = 2
    write_array(tmp_path / "seg.nii.gz", labels, GRID)
    (tmp_path / "moved_away").mkdir()  # the DICOM folder the image was opened from, emptied
    opened = read_segmentation(tmp_path / "seg.nii.gz", GRID, TABLE, tmp_path / "moved_away")
    assert np.array_equal(opened.labels.labels_zyx, labels)
