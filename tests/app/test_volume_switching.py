"""Several volumes in one document: View › Volume, painting and undo per volume, File › Add
volume to project…"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_workspace_gui import drag

from app.state.document import Document, VolumeItem
from app.state.files import load_added_volumes, load_project_document, save_snapshot, snapshot
from app.state.view_state import Tool
from app.state.workspace import Workspace
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry

ORGANS = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "liver", (200, 80, 60)),
        LabelClass(2, "spleen", (60, 80, 200)),
    )
)


def two_volumes() -> Document:
    """ "alpha" 6×40×48 (label 1 on axial slice 2) and "beta" 8×32×36 (label 2 on slice 5)."""
    alpha_image = np.full((6, 40, 48), -1000, np.int16)
    alpha_image[:, 8:32, 6:42] = 40
    alpha_geometry = VolumeGeometry(alpha_image.shape, (2.0, 1.0, 1.0))
    alpha_labels = np.zeros(alpha_image.shape, np.uint8)
    alpha_labels[2, 10:20, 10:20] = 1
    alpha = VolumeItem.new(
        Volume(alpha_image, alpha_geometry, "alpha", "CT"),
        LabelMap(alpha_labels, alpha_geometry, LabelTable.default(3)),
    )
    alpha.labeled["z"][2] = True
    beta_image = (np.arange(8 * 32 * 36).reshape(8, 32, 36) % 500).astype(np.int16)
    beta_geometry = VolumeGeometry(beta_image.shape, (2.0, 1.0, 1.0))
    beta_labels = np.zeros(beta_image.shape, np.uint8)
    beta_labels[5, 4:12, 20:30] = 2
    beta = VolumeItem.new(
        Volume(beta_image, beta_geometry, "beta", "CT"),
        LabelMap(beta_labels, beta_geometry, ORGANS),
    )
    beta.labeled["z"][5] = True
    return Document([alpha, beta])


def test_volume_menu_switches_views_labels_and_label_panel(qtbot, window) -> None:
    doc = two_volumes()
    window.ws.set_document(doc)
    menu = window.volume_menu.actions()
    assert [a.text() for a in menu] == ["1. alpha (6×40×48)", "2. beta (8×32×36)"]
    assert menu[0].isChecked() and not menu[1].isChecked()

    menu[1].trigger()
    qtbot.wait(20)
    beta = doc.items[1]
    assert doc.current == 1 and window.ws.view.slice_index("z") == 5  # its labeled slice
    axial, coronal = window.views["z"], window.views["y"]
    assert np.array_equal(axial.image_item.image, beta.volume.image_zyx[5])
    assert np.array_equal(axial.label_item.image, beta.labels.labels_zyx[5])
    assert axial.label_item.image.max() == 2
    y = window.ws.view.slice_index("y")
    assert y == 16 and np.array_equal(coronal.image_item.image, beta.volume.image_zyx[:, y])
    assert axial.slider.maximum() == 7 and window.views["x"].slider.maximum() == 35
    assert window.label_panel.table.item(0, 1).text() == "liver"
    assert "beta (2/2)" in window.windowTitle()
    assert window.volume_menu.actions()[1].isChecked()
    assert not window.volume_menu.actions()[0].isChecked()

    window.volume_menu.actions()[0].trigger()
    assert doc.current == 0 and window.ws.view.slice_index("z") == 2
    assert np.array_equal(axial.label_item.image, doc.items[0].labels.labels_zyx[2])
    assert window.label_panel.table.item(0, 1).text() == "label 1"


def test_painting_after_switching_edits_the_shown_volume(qtbot, window) -> None:
    doc = two_volumes()
    window.ws.set_document(doc)
    alpha_before = doc.items[0].labels.labels_zyx.copy()
    window.choose_volume(1)
    window.ws.view.set_slice("z", 3, doc.slice_count("z"))
    qtbot.wait(50)
    window.choose_label(1)
    window.ws.tools.update(tool=Tool.BRUSH, radius=1.5)
    drag(window.views["z"], [(20.0, c) for c in range(5, 30, 3)])

    beta = doc.items[1]
    assert (beta.labels.labels_zyx[3, 20, 7:28] == 1).all(), "the stroke is in beta"
    assert beta.labeled["z"][3] and not doc.items[0].labeled["z"][3]
    assert np.array_equal(doc.items[0].labels.labels_zyx, alpha_before), "alpha untouched"
    assert np.array_equal(window.views["z"].label_item.image, beta.labels.labels_zyx[3])


def test_undo_history_is_kept_per_volume() -> None:
    ws = Workspace()
    doc = two_volumes()
    ws.set_document(doc)
    alpha, beta = (item.labels.labels_zyx for item in doc.items)
    assert ws.editor is not None
    ws.editor.dab("z", 0, (20.0, 20.0))
    assert alpha[0, 20, 20] == 1

    ws.set_current(1)
    assert not ws.editor.undo(), "beta has no step of its own"
    assert alpha[0, 20, 20] == 1, "alpha's step was not undone from beta"
    ws.editor.fill("z", 0, (0, 0))
    assert (beta[0] == 1).all()

    ws.set_current(0)
    assert ws.editor.undo() and alpha[0, 20, 20] == 0
    assert (beta[0] == 1).all(), "undo on alpha left beta alone"
    assert not ws.editor.undo()

    ws.set_current(1)
    assert ws.editor.undo() and not beta[0].any()
    assert ws.editor.redo() and (beta[0] == 1).all()
    assert alpha[0, 20, 20] == 0


def test_a_stroke_open_while_switching_stays_with_its_volume() -> None:
    ws = Workspace()
    doc = two_volumes()
    ws.set_document(doc)
    assert ws.editor is not None
    ws.editor.begin_stroke("z", 1, erase=False)
    ws.editor.stroke_to((30.0, 30.0))
    ws.set_current(1)
    assert not ws.editor.in_stroke and not ws.editor.undo()
    ws.set_current(0)
    assert ws.editor.undo() and not doc.items[0].labels.labels_zyx[1].any()
    with pytest.raises(ValueError, match="no volume 2"):
        ws.set_current(2)


def test_add_volume_with_a_bad_file_shows_an_error_and_keeps_the_document(
    qtbot, window, tmp_path: Path, dialogs_log
) -> None:
    doc = two_volumes()
    window.ws.set_document(doc)
    window.choose_volume(1)
    labels_before = [item.labels.labels_zyx.copy() for item in doc.items]
    bad = tmp_path / "notes.nii.gz"
    bad.write_text("not an image")
    window.files.add_volume_paths([bad])
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert "notes.nii.gz" in dialogs_log["errors"][0]
    assert window.ws.doc is doc and len(doc.items) == 2 and doc.current == 1
    assert not doc.modified
    for item, before in zip(doc.items, labels_before, strict=True):
        assert np.array_equal(item.labels.labels_zyx, before)
    assert [a.text() for a in window.volume_menu.actions()][1].startswith("2. beta")


def test_add_volume_appends_it_with_the_project_labels_and_shows_it(
    qtbot, window, small_image: Path
) -> None:
    doc = two_volumes()
    window.ws.set_document(doc)
    window.choose_volume(1)
    window.ws.editor.dab("z", 1, (3.0, 3.0))
    window.files.add_volume_paths([small_image])
    qtbot.waitUntil(lambda: len(doc.items) == 3, timeout=10000)
    added = doc.items[2]
    assert window.ws.doc is doc and doc.current == 2 and doc.modified
    assert added.volume.geometry.shape_zyx == (12, 40, 50) and not added.labels.labels_zyx.any()
    assert added.labels.table == ORGANS, "the new volume gets the shown volume's label table"
    assert window.views["z"].slider.maximum() == 11
    assert [a.text() for a in window.volume_menu.actions()][2] == "3. small (12×40×50)"
    assert not window.ws.editor.undo(), "the new volume starts with an empty history"
    window.choose_volume(1)
    assert window.ws.editor.undo(), "beta's history survived the add"


def test_edits_of_a_volume_added_since_the_save_are_not_journaled(tmp_path: Path) -> None:
    project = save_snapshot(tmp_path / "two.ugpcl", snapshot(two_volumes()))
    ws = Workspace()
    ws.set_document(load_project_document(project))
    assert ws.journal is not None and ws.editor is not None and ws.doc is not None
    ws.add_volumes(two_volumes().items[:1])
    ws.editor.dab("z", 1, (5.0, 5.0))  # on the added volume 2
    assert ws.doc.items[2].labels.labels_zyx[1, 5, 5] == 1
    assert ws.journal.entries() == []
    ws.set_current(0)
    ws.editor.dab("z", 1, (5.0, 5.0))
    assert [e.volume_index for e in ws.journal.entries()] == [0]

    reopened = Workspace()
    reopened.set_document(load_project_document(project))
    assert reopened.recover() == 1, "the journal still fits the saved project"
    assert reopened.doc is not None and reopened.doc.items[0].labels.labels_zyx[1, 5, 5] == 1


def test_load_added_volumes_reports_bad_files_and_uses_the_project_table(
    tmp_path: Path, small_image: Path
) -> None:
    from ugpcl_engine.errors import InputError

    with pytest.raises(InputError, match="notes"):
        bad = tmp_path / "notes.nrrd"
        bad.write_text("x")
        load_added_volumes([bad], ORGANS)
    (item,) = load_added_volumes([small_image], ORGANS)
    assert item.labels.table == ORGANS and item.labels.labels_zyx.dtype == np.uint8
