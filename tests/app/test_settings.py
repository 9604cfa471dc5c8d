"""Settings remembered between runs (QSettings in the test's own folder, never the user's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QDockWidget

from app.state.view_state import PaintOver
from app.ui import settings


def new_window(qtbot):
    from app.ui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.settings = settings.install_settings(w, w.ws)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_the_tests_settings_live_in_their_own_folder(settings_folder: Path) -> None:
    store = settings.settings_store()
    assert store.format() == QSettings.Format.IniFormat
    assert Path(store.fileName()).parent == settings_folder


def test_a_second_window_sees_what_the_first_one_left(
    qtbot, dialogs_log, settings_folder: Path, tmp_path: Path, monkeypatch
) -> None:
    first = new_window(qtbot)
    tools, view = first.ws.tools, first.ws.view
    tools.update(
        radius=7.5,
        radius_in_mm=True,
        paint_over=PaintOver.LABEL,
        paint_over_label=3,
        mark_on_paint=False,
        intensity_range=(-100.0, 250.5),
    )
    view.set_overlay(opacity=0.8, outline=True, labels_visible=False)
    view.set_layout("single", "y")
    dock = first.findChild(QDockWidget, "dock-labels")
    first.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, dock)
    first.resize(1200, 700)
    qtbot.wait(20)
    geometry = first.saveGeometry()
    settings.remember_folder(tmp_path / "ct.nii.gz")
    assert first.close()
    assert (settings_folder / "ugpcl-studio.ini").exists()

    from app.ui.main_window import MainWindow

    restored = []  # the offscreen screen is smaller than the window: Qt clamps what it restores
    original = MainWindow.restoreGeometry
    monkeypatch.setattr(
        MainWindow, "restoreGeometry", lambda w, g: restored.append(g) or original(w, g)
    )
    second = new_window(qtbot)
    t, v = second.ws.tools, second.ws.view
    assert (t.radius, t.radius_in_mm, t.paint_over, t.paint_over_label) == (
        7.5,
        True,
        PaintOver.LABEL,
        3,
    )
    assert t.mark_on_paint is False and t.intensity_range == (-100.0, 250.5)
    assert (v.opacity, v.outline, v.labels_visible) == (0.8, True, False)
    assert (v.layout, v.single_axis) == ("single", "y")
    assert second.tool_panel.radius.value() == 7.5  # the panel shows the restored values
    labels_dock = second.findChild(QDockWidget, "dock-labels")
    assert second.dockWidgetArea(labels_dock) == Qt.DockWidgetArea.LeftDockWidgetArea
    assert restored == [geometry]
    assert settings.dialog_folder() == str(tmp_path)
    second.close()


def test_settings_are_written_when_they_change(qtbot, dialogs_log) -> None:
    w = new_window(qtbot)
    w.ws.tools.update(radius=12.0)
    w.ws.view.set_overlay(opacity=0.25)
    store = settings.settings_store()  # another reader sees them before any close
    w.settings.store.sync()
    store.sync()
    assert float(store.value("brush/radius")) == 12.0
    assert float(store.value("display/opacity")) == 0.25
    w.close()


@pytest.mark.parametrize(
    "odd",
    [
        {"brush/radius": "huge", "display/opacity": "-3", "display/layout": "2x2"},
        {"brush/radius": "nan", "brush/paint_over": "sometimes", "brush/radius_in_mm": "maybe"},
        {"brush/intensity_range": "5,1", "brush/paint_over_label": "2.5", "display/outline": 7},
        {"window/geometry": "not bytes", "window/state": "garbage", "display/single_axis": "w"},
        {"brush/intensity_range": "a,b,c", "files/last_folder": "/no/such/folder"},
    ],
)
def test_odd_settings_fall_back_to_the_defaults(qtbot, dialogs_log, odd: dict) -> None:
    store = settings.settings_store()
    for key, value in odd.items():
        store.setValue(key, value)
    store.sync()
    w = new_window(qtbot)  # starts, never raises
    t, v = w.ws.tools, w.ws.view
    assert t.radius == 5.0 and t.paint_over is PaintOver.EVERYTHING and t.radius_in_mm is False
    assert t.intensity_range is None and t.paint_over_label == 0
    assert v.opacity == 0.5 and v.layout == "1x3" and v.outline is False
    assert v.single_axis == "z"
    assert settings.dialog_folder() == ""
    w.close()


def test_a_corrupt_settings_file_does_not_stop_the_start(
    qtbot, dialogs_log, settings_folder: Path
) -> None:
    (settings_folder / "ugpcl-studio.ini").write_bytes(b"\x00\xff[brush\nradius=@ByteArray(\n==\n")
    w = new_window(qtbot)
    assert w.ws.tools.radius == 5.0
    w.close()


def test_the_recent_files_list_follows_the_settings_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``UGPCL_STUDIO_SETTINGS_DIR`` moves the recent-files list with the settings, so test and
    screenshot runs never write into the user's own list."""
    from app.ui.file_actions import recent_store
    from app.ui.settings import SETTINGS_DIR_ENV

    monkeypatch.setenv(SETTINGS_DIR_ENV, str(tmp_path / "elsewhere"))
    store = recent_store()
    assert store.store == tmp_path / "elsewhere" / "recent.json"
    store.add([str(tmp_path / "a.nii.gz")])
    assert recent_store().paths() == [[str(tmp_path / "a.nii.gz")]]


@pytest.mark.parametrize(
    "odd", ["/" + "x" * 5000, "/" + "/".join(["y" * 200] * 30)], ids=["long name", "deep path"]
)
def test_a_last_folder_that_cannot_be_looked_at_opens_the_dialogs_anywhere(odd: str) -> None:
    """A remembered folder the system refuses to look at (a name too long, a folder behind
    one the user may not enter) must not make every File › Open raise: the dialog opens in
    its default folder."""
    store = settings.settings_store()
    store.setValue("files/last_folder", odd)
    store.sync()
    assert settings.dialog_folder() == ""


def test_a_last_folder_behind_a_closed_door_opens_the_dialogs_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(self: Path) -> bool:
        raise PermissionError(13, "Permission denied", str(self))

    store = settings.settings_store()
    store.setValue("files/last_folder", str(tmp_path))
    store.sync()
    monkeypatch.setattr(Path, "is_dir", refused)
    assert settings.dialog_folder() == ""
