"""The ViewBox of one slice view: turns mouse gestures into intent signals.

Coordinates in signals are pixel coordinates of the image item, (col, row) floats where voxel
(r, c) covers ``[c, c+1) x [r, r+1)``. As in 3D Slicer and ITK-SNAP, right drag zooms about the
press point (up: in) and middle drag pans. Left drag paints with the tool in hand, pans while
Space is held, and changes the grey window with Ctrl held or with the window/level tool. The
wheel scrolls slices (Ctrl+wheel zooms).
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal

ZOOM_PER_PIXEL = 1.01  # view range factor per screen pixel of a right drag (down = out)
MAX_ZOOM_IN = 64.0  # a right drag shows no less than the image's size / this
MAX_ZOOM_OUT = 10.0  # and no more than the image's size × this
PAINT, PAN, ZOOM, WINDOW = "paint", "pan", "zoom", "window"


class SliceCanvas(pg.ViewBox):
    """A ViewBox with painting, windowing, zooming and slice-scrolling gestures.

    Args:
        pan_held: returns True while the user holds the pan key (Space).

    Attributes:
        left_drag_windows: a plain left drag changes the window instead of painting (the
            window/level tool; set by the view controller).

    Signals:
        drag_started(float, float), drag_moved(float, float), drag_finished():
            left-button drag in image pixel coordinates.
        clicked(float, float): left click without drag.
        double_clicked(float, float): left double click.
        window_dragged(float, float): window/level drag step in screen pixels (dx, dy): a
            Ctrl+left drag, or a left drag while ``left_drag_windows`` is set.
        scrolled(int): wheel steps (positive = towards higher slices).
        hovered(float, float): mouse position in image pixel coordinates.
    """

    drag_started = Signal(float, float)
    drag_moved = Signal(float, float)
    drag_finished = Signal()
    clicked = Signal(float, float)
    double_clicked = Signal(float, float)
    window_dragged = Signal(float, float)
    scrolled = Signal(int)
    hovered = Signal(float, float)

    def __init__(self, pan_held: Callable[[], bool]) -> None:
        super().__init__(invertY=True, lockAspect=True, enableMenu=False)
        self._pan_held = pan_held
        self.image_target: pg.ImageItem | None = None
        self.left_drag_windows = False  # the window/level tool is in hand
        self._gesture = PAN

    def _pixel(self, scene_pos: QPointF) -> tuple[float, float]:
        assert self.image_target is not None
        p = self.image_target.mapFromScene(scene_pos)
        return float(p.x()), float(p.y())

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph override
        if ev.isStart():
            self._gesture = self._gesture_for(ev)
        gesture = self._gesture
        if ev.isFinish():
            self._gesture = PAN
        if gesture == PAN:
            super().mouseDragEvent(ev, axis)  # pyqtgraph pans with the left or middle button
            return
        ev.accept()
        if gesture == ZOOM:
            self._zoom_step(ev)
        elif gesture == WINDOW:
            delta = ev.screenPos() - ev.lastScreenPos()
            self.window_dragged.emit(float(delta.x()), float(delta.y()))
        else:
            self._paint_step(ev)

    def _gesture_for(self, ev) -> str:
        """What a drag does, decided once at its start (a key pressed mid-drag changes
        nothing): right zooms, middle pans, left pans with Space held, changes the window
        with Ctrl or the window/level tool, and paints otherwise."""
        button = ev.button()
        if button == Qt.MouseButton.RightButton:
            return ZOOM
        if button != Qt.MouseButton.LeftButton or self.image_target is None or self._pan_held():
            return PAN
        if self.left_drag_windows or ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return WINDOW
        return PAINT

    def _zoom_step(self, ev) -> None:
        """Zoom about the press point: up zooms in, down zooms out (Slicer, ITK-SNAP)."""
        dy = float((ev.screenPos() - ev.lastScreenPos()).y())
        centre = self.mapToView(ev.buttonDownPos(Qt.MouseButton.RightButton))
        factor = self._bounded_zoom(ZOOM_PER_PIXEL**dy)
        self.scaleBy((factor, factor), center=centre)

    def _bounded_zoom(self, factor: float) -> float:
        """The view range factor ``factor`` (< 1 zooms in) limited so that the view shows no
        less than the image's size / ``MAX_ZOOM_IN`` and no more than its size ×
        ``MAX_ZOOM_OUT`` (right drag and Ctrl+wheel alike); never the other way, so a view
        already past a bound can still come back."""
        if self.image_target is None:
            return factor
        # the whole image in view coordinates (itemBoundingRect is clipped to what is shown)
        item = self.image_target
        rect = item.mapRectToItem(self.childGroup, item.boundingRect())
        size = max(rect.width(), rect.height())
        (x0, x1), (y0, y1) = self.viewRange()
        small, large = sorted((x1 - x0, y1 - y0))
        if size <= 0 or small <= 0:
            return factor
        if factor < 1.0:
            return min(1.0, max(factor, size / MAX_ZOOM_IN / small))
        return max(1.0, min(factor, size * MAX_ZOOM_OUT / large))

    def _paint_step(self, ev) -> None:
        if ev.isStart():
            self.drag_started.emit(*self._pixel(ev.buttonDownScenePos()))
        self.drag_moved.emit(*self._pixel(ev.scenePos()))
        if ev.isFinish():
            self.drag_finished.emit()

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        ev.accept()
        if ev.button() != Qt.MouseButton.LeftButton or self.image_target is None:
            return
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier or self._pan_held():
            return  # a window/level or pan gesture that did not move: no dab, no fill
        if ev.double():
            self.double_clicked.emit(*self._pixel(ev.scenePos()))
        else:
            self.clicked.emit(*self._pixel(ev.scenePos()))

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph override
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self._wheel_zoom(ev)
            return
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.scrolled.emit(1 if delta > 0 else -1)

    def _wheel_zoom(self, ev) -> None:
        """Ctrl+wheel: pyqtgraph's wheel zoom about the mouse, within the right drag's bounds."""
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        factor = self._bounded_zoom(1.02 ** (delta * self.state["wheelScaleFactor"]))
        if factor == 1.0:
            return
        centre = self.mapToView(ev.pos())
        self._resetTarget()
        self.scaleBy((factor, factor), center=centre)
        self.sigRangeChangedManually.emit(self.state["mouseEnabled"])

    def hoverEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        if self.image_target is not None and not ev.isExit():
            self.hovered.emit(*self._pixel(ev.scenePos()))
