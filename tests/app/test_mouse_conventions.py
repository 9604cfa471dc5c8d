"""Mouse conventions of the slice views (3D Slicer / ITK-SNAP): right drag zooms about the press
point, middle drag pans, Ctrl+left drag and the window/level tool change the grey window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.state.view_state import Tool

NO = Qt.MouseButton.NoButton


def open_small(qtbot, window, path: Path) -> None:
    window.files.open_paths([path])
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)
    qtbot.wait(50)  # the views finish their layout and zoom


def send(widget, kind, pos: QPoint, buttons, button=NO, modifiers=Qt.KeyboardModifier.NoModifier):
    event = QMouseEvent(
        kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, modifiers
    )
    QApplication.sendEvent(widget, event)


def mouse_drag(view, button, offsets, modifiers=Qt.KeyboardModifier.NoModifier) -> QPoint:
    """Press ``button`` at the view's centre, move by each (dx, dy) screen offset, release.

    Returns:
        The press position (viewport pixels).
    """
    port = view.graphics.viewport()
    start = QPoint(port.width() // 2, port.height() // 2)
    send(port, QEvent.Type.MouseMove, start, NO, modifiers=modifiers)
    send(port, QEvent.Type.MouseButtonPress, start, button, button, modifiers)
    pos = start
    for dx, dy in offsets:
        QTest.qWait(20)  # pyqtgraph drops mouse moves closer than its rate limit (60 Hz)
        pos = start + QPoint(dx, dy)
        send(port, QEvent.Type.MouseMove, pos, button, modifiers=modifiers)
    send(port, QEvent.Type.MouseButtonRelease, pos, NO, button, modifiers)
    QApplication.processEvents()
    return start


def view_width(view) -> float:
    (x0, x1), _ = view.canvas.viewRange()
    return x1 - x0


def scene_point_under(view, pos: QPoint) -> np.ndarray:
    p = view.canvas.mapSceneToView(view.graphics.mapToScene(pos))
    return np.array([p.x(), p.y()])


def test_right_drag_up_zooms_in_about_the_press_point_and_down_zooms_out(
    qtbot, window, small_image: Path
) -> None:
    open_small(qtbot, window, small_image)
    view = window.views["z"]
    labels_before = window.ws.doc.labels_zyx.copy()
    width = view_width(view)
    right = Qt.MouseButton.RightButton
    press = mouse_drag(view, right, [(0, -10), (0, -30), (0, -60)])
    under_press = scene_point_under(view, press)
    zoomed = view_width(view)
    assert zoomed < 0.8 * width  # up zooms in
    mouse_drag(view, right, [(0, 10), (0, 40), (0, 80)])
    assert view_width(view) > 1.2 * zoomed  # down zooms out
    # the point under the press stays put while zooming
    mouse_drag(view, right, [(0, -20), (0, -40)])
    np.testing.assert_allclose(scene_point_under(view, press), under_press, atol=0.5)
    np.testing.assert_array_equal(window.ws.doc.labels_zyx, labels_before)  # nothing painted
    assert window.ws.view.window == (40.0, 400.0)  # and the grey window is unchanged


def test_middle_drag_pans_without_zooming_or_painting(qtbot, window, small_image: Path) -> None:
    open_small(qtbot, window, small_image)
    view = window.views["z"]
    (x0, _), _ = view.canvas.viewRange()
    width = view_width(view)
    mouse_drag(view, Qt.MouseButton.MiddleButton, [(10, 0), (30, 0), (60, 0)])
    (x1, _), _ = view.canvas.viewRange()
    assert x1 < x0 - 1.0  # the image follows the mouse to the right: the range moves left
    assert abs(view_width(view) - width) < 1e-6 * width
    assert not window.ws.doc.labels_zyx.any()
    assert window.ws.view.window == (40.0, 400.0)


def test_ctrl_left_drag_changes_the_window_and_does_not_paint(
    qtbot, window, small_image: Path
) -> None:
    open_small(qtbot, window, small_image)
    assert window.ws.tools.tool is Tool.BRUSH
    view = window.views["z"]
    centre, width = window.ws.view.window
    ctrl = Qt.KeyboardModifier.ControlModifier
    mouse_drag(view, Qt.MouseButton.LeftButton, [(10, 0), (30, 0), (50, 0)], ctrl)
    assert window.ws.view.window[1] > width  # right widens the window
    assert window.ws.view.window[0] == centre
    mouse_drag(view, Qt.MouseButton.LeftButton, [(0, -10), (0, -30)], ctrl)
    assert window.ws.view.window[0] > centre  # up raises the level
    assert not window.ws.doc.labels_zyx.any()
    assert view.image_item.levels is not None
    low, high = window.ws.view.levels()
    np.testing.assert_allclose(view.image_item.levels, (low, high))


def test_right_drag_no_longer_changes_the_window(qtbot, window, small_image: Path) -> None:
    open_small(qtbot, window, small_image)
    mouse_drag(window.views["z"], Qt.MouseButton.RightButton, [(20, 0), (60, 0), (60, -20)])
    assert window.ws.view.window == (40.0, 400.0)


def test_window_level_tool_left_drag_changes_window_and_level(
    qtbot, window, small_image: Path
) -> None:
    open_small(qtbot, window, small_image)
    QTest.keyClick(window, Qt.Key.Key_W)
    assert window.ws.tools.tool is Tool.WINDOW
    assert window.tool_panel.tool_buttons[Tool.WINDOW].isChecked()
    view = window.views["y"]
    centre, width = window.ws.view.window
    mouse_drag(view, Qt.MouseButton.LeftButton, [(-10, 0), (-40, 0)])
    assert window.ws.view.window[1] < width  # left narrows the window
    mouse_drag(view, Qt.MouseButton.LeftButton, [(0, 10), (0, 40)])
    assert window.ws.view.window[0] < centre  # down lowers the level
    assert not window.ws.doc.labels_zyx.any()  # nothing painted, by drag or by click
    QTest.keyClick(window, Qt.Key.Key_B)  # back to the brush: a left drag paints again
    mouse_drag(view, Qt.MouseButton.LeftButton, [(5, 0), (15, 0)])
    assert window.ws.doc.labels_zyx.any()


def mouse_click(view, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """Press and release the left button at the view's centre without moving."""
    port = view.graphics.viewport()
    at = QPoint(port.width() // 2, port.height() // 2)
    left = Qt.MouseButton.LeftButton
    send(port, QEvent.Type.MouseMove, at, NO, modifiers=modifiers)
    send(port, QEvent.Type.MouseButtonPress, at, left, left, modifiers)
    send(port, QEvent.Type.MouseButtonRelease, at, NO, left, modifiers)
    QApplication.processEvents()


def test_a_click_that_starts_a_window_or_pan_gesture_does_not_paint(
    qtbot, window, small_image: Path
) -> None:
    """Ctrl+left and Space+left are window/level and pan: pressing and releasing without
    moving (a drag that had not started yet) used to paint a brush dab, an edit the user did
    not ask for. A plain click still paints."""
    open_small(qtbot, window, small_image)
    assert window.ws.tools.tool is Tool.BRUSH
    view = window.views["z"]
    mouse_click(view, Qt.KeyboardModifier.ControlModifier)
    assert not window.ws.doc.labels_zyx.any()
    window.pan_held = True  # Space held
    mouse_click(view)
    window.pan_held = False
    assert not window.ws.doc.labels_zyx.any()
    assert not window.ws.undo.can_undo()
    mouse_click(view)
    assert window.ws.doc.labels_zyx.any()


def test_space_held_while_the_app_loses_focus_does_not_stick(
    qtbot, window, small_image: Path
) -> None:
    """Space down, Alt+Tab to another program (its release goes there): left drags used to
    pan and clicks do nothing until Space was pressed again. Leaving the app lets go of it."""
    from app.ui.main_window import SpacePan

    open_small(qtbot, window, small_image)
    space = SpacePan(window)
    QApplication.instance().installEventFilter(space)
    try:
        QTest.keyPress(window, Qt.Key.Key_Space)
        assert window.pan_held
        QApplication.sendEvent(QApplication.instance(), QEvent(QEvent.Type.ApplicationDeactivate))
        assert not window.pan_held
        mouse_click(window.views["z"])  # paints again without pressing Space
        assert window.ws.doc.labels_zyx.any()
    finally:
        QApplication.instance().removeEventFilter(space)


def test_right_drag_zoom_stays_within_sensible_bounds(qtbot, window, small_image: Path) -> None:
    """A long right drag used to zoom without end: in to a ten-trillionth of a voxel (where
    the view stops responding) or out until the image is a dot far smaller than a pixel. It
    stops at MAX_ZOOM_IN times the fitted size in and MAX_ZOOM_OUT times out."""
    from app.ui.slice_canvas import MAX_ZOOM_IN, MAX_ZOOM_OUT

    open_small(qtbot, window, small_image)
    view = window.views["z"]
    right = Qt.MouseButton.RightButton
    rect = view.canvas.itemBoundingRect(view.image_item)
    size = max(rect.width(), rect.height())
    for _ in range(3):
        mouse_drag(view, right, [(0, -300 * i) for i in range(1, 4)])
    assert view_width(view) >= size / MAX_ZOOM_IN * 0.99
    assert view_width(view) < size / 10  # it did zoom in a long way
    for _ in range(6):
        mouse_drag(view, right, [(0, 300 * i) for i in range(1, 4)])
    assert size * 2 < view_width(view) <= size * MAX_ZOOM_OUT * 1.01


def ctrl_wheel(view, steps: int, clicks: int = 1) -> None:
    """Send ``steps`` Ctrl+wheel events of ``clicks`` notches each (positive: away from the
    user, which zooms in) at the view's centre."""
    from PySide6.QtGui import QWheelEvent

    port = view.graphics.viewport()
    pos = QPointF(port.width() / 2, port.height() / 2)
    for _ in range(steps):
        event = QWheelEvent(
            pos,
            QPointF(port.mapToGlobal(pos.toPoint())),
            QPoint(0, 0),
            QPoint(0, 120 * clicks),
            NO,
            Qt.KeyboardModifier.ControlModifier,
            Qt.ScrollPhase.NoScrollPhase,
            False,
        )
        QApplication.sendEvent(port, event)
    QApplication.processEvents()


def test_ctrl_wheel_zoom_stays_within_the_right_drag_bounds(
    qtbot, window, small_image: Path
) -> None:
    """Ctrl+wheel (pyqtgraph's wheel zoom) used to zoom without end; it stops at the same
    MAX_ZOOM_IN / MAX_ZOOM_OUT bounds as a right drag, and still scrolls no slice."""
    from app.ui.slice_canvas import MAX_ZOOM_IN, MAX_ZOOM_OUT

    open_small(qtbot, window, small_image)
    view = window.views["z"]
    rect = view.canvas.itemBoundingRect(view.image_item)
    size = max(rect.width(), rect.height())
    slice_before = window.ws.view.slice_index("z")
    width = view_width(view)
    ctrl_wheel(view, 1)
    assert view_width(view) < width  # one notch zooms in a little
    ctrl_wheel(view, 40, clicks=3)
    assert view_width(view) >= size / MAX_ZOOM_IN * 0.99
    assert view_width(view) < size / 10  # it did zoom in a long way
    ctrl_wheel(view, 60, clicks=-3)
    assert size * 2 < view_width(view) <= size * MAX_ZOOM_OUT * 1.01
    assert window.ws.view.slice_index("z") == slice_before
