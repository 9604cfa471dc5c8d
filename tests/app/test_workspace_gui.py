"""Real user paths through the main window (pytest-qt, offscreen), asserting on label data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.state.view_state import Tool
from ugpcl_engine.io.volume_files import read_label_map
from ugpcl_engine.sample import SAMPLE_LABELED_SLICES


def open_and_wait(qtbot, window, action) -> None:
    before = window.ws.doc
    action()
    qtbot.waitUntil(
        lambda: window.ws.doc is not before and window.ws.doc is not None, timeout=10000
    )
    qtbot.wait(50)  # let the views finish their layout and zoom before we aim the mouse


def view_point(view, row: float, col: float) -> QPoint:
    """Widget (viewport) position of voxel (row, col) of a view's slice."""
    scene = view.image_item.mapToScene(QPointF(col + 0.5, row + 0.5))
    return view.graphics.mapFromScene(scene)


def send_mouse(
    widget,
    kind: QEvent.Type,
    pos: QPoint,
    buttons: Qt.MouseButton,
    button: Qt.MouseButton = Qt.MouseButton.NoButton,
) -> None:
    event = QMouseEvent(
        kind,
        QPointF(pos),
        QPointF(widget.mapToGlobal(pos)),
        button,
        buttons,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, event)


def drag(view, points_rc: list[tuple[float, float]]) -> None:
    """Press at the first voxel, move through the others, release at the last."""
    port = view.graphics.viewport()
    left = Qt.MouseButton.LeftButton
    first = view_point(view, *points_rc[0])
    send_mouse(port, QEvent.Type.MouseMove, first, Qt.MouseButton.NoButton)
    send_mouse(port, QEvent.Type.MouseButtonPress, first, left, left)
    for rc in points_rc[1:]:
        QTest.qWait(20)  # pyqtgraph drops mouse moves closer than its rate limit (60 Hz)
        send_mouse(port, QEvent.Type.MouseMove, view_point(view, *rc), left)
    last = view_point(view, *points_rc[-1])
    send_mouse(port, QEvent.Type.MouseButtonRelease, last, Qt.MouseButton.NoButton, left)
    QApplication.processEvents()


def click(view, row: float, col: float) -> None:
    port = view.graphics.viewport()
    left = Qt.MouseButton.LeftButton
    pos = view_point(view, row, col)
    send_mouse(port, QEvent.Type.MouseMove, pos, Qt.MouseButton.NoButton)
    send_mouse(port, QEvent.Type.MouseButtonPress, pos, left, left)
    send_mouse(port, QEvent.Type.MouseButtonRelease, pos, Qt.MouseButton.NoButton, left)
    QApplication.processEvents()


def double_click(view, row: float, col: float) -> None:
    port = view.graphics.viewport()
    left = Qt.MouseButton.LeftButton
    pos = view_point(view, row, col)
    click(view, row, col)
    send_mouse(port, QEvent.Type.MouseButtonDblClick, pos, left, left)
    send_mouse(port, QEvent.Type.MouseButtonRelease, pos, Qt.MouseButton.NoButton, left)
    QApplication.processEvents()


def test_sample_paint_undo_across_slices_save_reopen_export(
    qtbot, window, tmp_path: Path, chest_ct
) -> None:
    open_and_wait(qtbot, window, window.files.open_sample)
    ws = window.ws
    doc = ws.doc
    reference = read_label_map(chest_ct.labels).labels_zyx
    labeled = sorted(np.flatnonzero(doc.item.labeled["z"]).tolist())
    assert labeled == list(SAMPLE_LABELED_SLICES)
    assert (doc.labels_zyx[labeled] == reference[labeled]).all()
    assert doc.labels_zyx.sum() == reference[labeled].sum()
    assert doc.table.classes[5].name == "right lung"

    axial = window.views["z"]
    ws.view.set_slice("z", 10, doc.slice_count("z"))
    assert axial._index == 10
    window.choose_label(7)
    ws.tools.update(tool=Tool.BRUSH, radius=2.0)
    drag(axial, [(60.0, c) for c in range(40, 90, 4)])
    painted = doc.labels_zyx[10].copy()
    assert (painted[60, 42:88] == 7).all(), "the stroke painted label 7 along row 60"
    assert not painted[:50].any() and doc.is_labeled("z", 10)
    assert len(ws.undo) == 1, "one drag is one undo step"

    QTest.keyClick(window, Qt.Key.Key_Up)  # next slice, then undo there
    assert ws.view.slice_index("z") == 11
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.labels_zyx[10].any() and not doc.is_labeled("z", 10)
    QTest.keyClick(window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert (doc.labels_zyx[10] == painted).all()

    project = tmp_path / "chest.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: not doc.modified, timeout=10000)
    export = tmp_path / "chest.seg.nrrd"
    window.files.export(export)
    qtbot.waitUntil(export.exists, timeout=10000)
    window.files.tasks.wait()
    exported = read_label_map(export)
    assert (exported.labels_zyx == doc.labels_zyx).all()
    assert exported.table.classes[7].name == doc.table.classes[7].name

    open_and_wait(qtbot, window, lambda: window.files.open_paths([project]))
    again = ws.doc
    assert again.project_path == project and (again.labels_zyx == doc.labels_zyx).all()
    assert sorted(np.flatnonzero(again.item.labeled["z"]).tolist()) == sorted([*labeled, 10])
    assert window.files.recent.paths()[0] == [str(project.absolute())]


def test_fill_polygon_and_label_keys_by_mouse(qtbot, window, small_image: Path) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    ws, doc = window.ws, window.ws.doc
    z = ws.view.slice_index("z")
    editor = ws.editor
    for rc in (
        [(10, c) for c in range(10, 31)]
        + [(30, c) for c in range(10, 31)]
        + [(r, 10) for r in range(10, 31)]
        + [(r, 30) for r in range(10, 31)]
    ):
        doc.labels_zyx[z][rc] = 1  # a square outline (test set-up, bypassing the editor)
    QTest.keyClick(window, Qt.Key.Key_F)
    assert ws.tools.tool is Tool.FILL
    click(window.views["z"], 20, 20)
    assert (doc.labels_zyx[z, 11:30, 11:30] == 1).all() and doc.labels_zyx[z, 5, 5] == 0
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not doc.labels_zyx[z, 11:30, 11:30].any()

    editor.add_label("second")
    QTest.keyClick(window, Qt.Key.Key_2)
    assert ws.tools.label == 2
    QTest.keyClick(window, Qt.Key.Key_P)
    coronal = window.views["y"]
    y = ws.view.slice_index("y")
    for rc in [(1, 5), (1, 15), (6, 15)]:
        click(coronal, *rc)
    double_click(coronal, 6, 5)
    poly = doc.labels_zyx[:, y, :]
    assert poly[2, 10] == 2 and poly[5, 14] == 2 and poly[1, 4] == 0 and poly[9, 20] == 0
    assert doc.is_labeled("y", y)


def test_bad_file_shows_error_and_keeps_document(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    doc = window.ws.doc
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"not an image")
    window.files.open_paths([broken])
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert window.ws.doc is doc
    assert "broken.nii.gz" in dialogs_log["errors"][0]
    window.files.save(tmp_path / "missing-folder" / "x.ugpcl")
    qtbot.waitUntil(lambda: len(dialogs_log["errors"]) == 2, timeout=10000)
    assert window.ws.doc is doc and doc.project_path is None


def test_autosave_journal_recovers_after_crash(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log
) -> None:
    from app.ui.main_window import MainWindow

    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "p.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: window.ws.doc.project_path == project, timeout=10000)
    window.ws.editor.dab("z", 4, (20.0, 20.0))
    painted = window.ws.doc.labels_zyx.copy()
    window.ws.doc.modified = False  # the "crash": the window goes away without saving

    second = MainWindow()
    qtbot.addWidget(second)
    open_and_wait(qtbot, second, lambda: second.files.open_paths([project]))
    assert len(dialogs_log["recover"]) == 1 and "p.ugpcl" in dialogs_log["recover"][0]
    assert (second.ws.doc.labels_zyx == painted).all() and second.ws.doc.modified
    second.ws.doc.modified = False


def test_view_settings_layout_and_panels(qtbot, window, small_image: Path) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    ws = window.ws
    QTest.keyClick(window, Qt.Key.Key_S)
    assert not ws.view.labels_visible and not window.views["z"].label_item.isVisible()
    QTest.keyClick(window, Qt.Key.Key_D)
    assert abs(ws.view.opacity - 0.6) < 1e-6
    QTest.keyClick(window, Qt.Key.Key_BracketRight)
    assert ws.tools.radius == 6.0
    window.apply_preset("CT lung")
    assert ws.view.window == (-600.0, 1500.0)
    assert window.views["z"].image_item.levels.tolist() == [-1350.0, 150.0]
    window.controller.active_axis = "y"
    QTest.keyClick(window, Qt.Key.Key_L)
    assert ws.view.layout == "single" and not window.views["z"].isVisible()
    assert window.views["y"].isVisible()
    window.label_panel.renamed.emit(1, "tumour")
    assert ws.doc.table.classes[1].name == "tumour"
    assert window.label_panel.table.item(0, 1).text() == "tumour"
    window.tool_panel.setting_changed.emit("radius_in_mm", True)
    assert ws.tools.radius_in_mm
    window.mark_slice(True)
    assert ws.doc.is_labeled("y", ws.view.slice_index("y"))


def test_closing_with_unsaved_changes_asks_first(
    qtbot, window, small_image: Path, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    window.ws.editor.dab("z", 2, (5.0, 5.0))
    assert window.windowTitle().startswith("small *")
    window.close()
    assert dialogs_log["unsaved"] == ["small"]
    window.ws.doc.modified = False


def test_journal_failure_is_reported_and_edit_kept(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "j.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: window.ws.doc.project_path == project, timeout=10000)
    window.ws.journal.path.unlink()
    window.ws.journal.path.mkdir()  # a folder where the journal file was: writes fail
    window.ws.editor.dab("z", 3, (8.0, 8.0))
    assert window.ws.doc.labels_zyx[3, 8, 8] == 1 and len(window.ws.undo) == 1
    assert dialogs_log["errors"] and "journal" in dialogs_log["errors"][0].lower()


def test_open_hint_leaves_the_status_bar_once_a_document_is_open(
    qtbot, window, small_image: Path
) -> None:
    assert "Open an image" in window.readout.text()
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    qtbot.wait(50)
    assert "Open an image" not in window.readout.text()


def test_every_tool_has_one_button_one_menu_entry_and_one_help_line(window) -> None:
    """The tool table (``tool_table.TOOLS``) is the one list of the tools and their keys."""
    from app.ui.dialogs import SHORTCUTS
    from app.ui.tool_table import TOOLS

    assert {entry.tool for entry in TOOLS} == set(Tool)
    assert set(window.tool_panel.tool_buttons) == set(Tool)
    menu = {a.text(): a.shortcut().toString() for a in window.menus["Tools"].actions()}
    for entry in TOOLS:
        assert window.tool_panel.tool_buttons[entry.tool].text() == f"{entry.button} ({entry.key})"
        assert menu[entry.name] == entry.key
        assert (entry.key, entry.help) in SHORTCUTS
        window.menus["Tools"].actions()[list(menu).index(entry.name)].trigger()
        assert window.ws.tools.tool is entry.tool


def test_each_view_shows_its_slice_number_and_position(qtbot, window) -> None:
    open_and_wait(qtbot, window, window.files.open_sample)
    z = window.ws.view.slice_index("z")
    title = window.views["z"].title.text()
    assert title.startswith(f"Axial\n{z} / 33   S ") and title.endswith(" mm"), title
    window.ws.view.set_slice("z", 28, 34)  # the caption follows the slice
    assert window.views["z"].title.text().startswith("Axial\n28 / 33   S ")
    assert window.views["z"].title.text() != title


def test_the_threshold_box_sets_the_intensity_range(qtbot, window) -> None:
    panel, tools = window.tool_panel, window.ws.tools
    assert tools.intensity_range is None and not panel.threshold_low.isEnabled()
    panel.threshold.setChecked(True)
    assert tools.intensity_range == (-1000.0, 3000.0) and panel.threshold_low.isEnabled()
    panel.threshold_low.setValue(-200.0)
    assert tools.intensity_range == (-200.0, 3000.0)
    panel.threshold.setChecked(False)
    assert tools.intensity_range is None
