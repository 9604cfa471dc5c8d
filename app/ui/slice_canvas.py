"""The ViewBox of one slice view: turns mouse gestures into intent signals.

Coordinates in signals are pixel coordinates of the image item, (col, row) floats where voxel
(r, c) covers ``[c, c+1) x [r, r+1)``. Left drag paints (or pans while Space is held), middle
drag pans, right drag changes window/level, the wheel scrolls slices (Ctrl+wheel zooms).
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal


class SliceCanvas(pg.ViewBox):
    """A ViewBox with painting, windowing and slice-scrolling gestures.

    Args:
        pan_held: returns True while the user holds the pan key (Space).

    Signals:
        drag_started(float, float), drag_moved(float, float), drag_finished():
            left-button drag in image pixel coordinates.
        clicked(float, float): left click without drag.
        double_clicked(float, float): left double click.
        window_dragged(float, float): right-drag step in screen pixels (dx, dy).
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
        self._painting = False

    def _pixel(self, scene_pos: QPointF) -> tuple[float, float]:
        assert self.image_target is not None
        p = self.image_target.mapFromScene(scene_pos)
        return float(p.x()), float(p.y())

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph override
        button = ev.button()
        if button == Qt.MouseButton.RightButton:
            ev.accept()
            delta = ev.screenPos() - ev.lastScreenPos()
            self.window_dragged.emit(float(delta.x()), float(delta.y()))
            return
        if (
            button != Qt.MouseButton.LeftButton
            or self.image_target is None
            or (self._pan_held() and not self._painting)
        ):
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        if ev.isStart():
            self._painting = True
            self.drag_started.emit(*self._pixel(ev.buttonDownScenePos()))
        self.drag_moved.emit(*self._pixel(ev.scenePos()))
        if ev.isFinish():
            self._painting = False
            self.drag_finished.emit()

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        if ev.button() != Qt.MouseButton.LeftButton or self.image_target is None:
            ev.accept()
            return
        ev.accept()
        if ev.double():
            self.double_clicked.emit(*self._pixel(ev.scenePos()))
        else:
            self.clicked.emit(*self._pixel(ev.scenePos()))

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph override
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self.scrolled.emit(1 if delta > 0 else -1)

    def hoverEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph override
        if self.image_target is not None and not ev.isExit():
            self.hovered.emit(*self._pixel(ev.scenePos()))
