"""One slice view: image, label overlay and (empty) uncertainty layers, crosshair, letters,
slider and labeled-slice strip.

The view draws what it is given; the main window decides what that is. Arrays go to pyqtgraph
row-major and C-contiguous, with explicit levels (never per-slice auto levels) and a 256-entry
LUT for the uint8 labels. A label change redraws only views whose slice it meets, once per
event-loop turn.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPen, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.state.document import Region, slice_of
from app.state.view_geometry import SliceLayout
from app.ui.slice_canvas import SliceCanvas
from app.ui.slice_strip import SliceStrip

pg.setConfigOptions(imageAxisOrder="row-major", antialias=False)
CROSSHAIR_COLOR = (255, 220, 0, 150)


class SliceView(QWidget):
    """Shows slices along one array axis.

    Args:
        axis: ``"z"``, ``"y"`` or ``"x"``.
        pan_held: returns True while Space is held (left drag pans).

    Attributes:
        canvas: the ViewBox (its signals carry the mouse gestures).
        image_item, label_item, uncertainty_item: the three image layers (the assist overlays,
            ``uncertainty_overlay.AssistOverlays``, draw the last one).

    Signals:
        slice_requested(str, int): the slider or strip asks for a slice of this axis.
        activated(str): the user interacted with this view.
    """

    slice_requested = Signal(str, int)
    activated = Signal(str)

    def __init__(
        self, axis: str, pan_held: Callable[[], bool], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.axis = axis
        self.layout_info: SliceLayout | None = None
        self._image_zyx: np.ndarray | None = None
        self._labels_zyx: np.ndarray | None = None
        self._index = 0
        self._labels_dirty = False
        self.outline_fn: Callable[[np.ndarray], np.ndarray] | None = None
        self._build(pan_held)

    # -- construction ------------------------------------------------------------------------
    def _build(self, pan_held: Callable[[], bool]) -> None:
        self.graphics = pg.GraphicsView(background="k")
        self.canvas = SliceCanvas(pan_held)
        self.graphics.setCentralItem(self.canvas)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.label_item = pg.ImageItem(axisOrder="row-major")
        self.uncertainty_item = pg.ImageItem(axisOrder="row-major")
        for z, item in enumerate((self.image_item, self.label_item, self.uncertainty_item)):
            item.setZValue(z)
            self.canvas.addItem(item)
        self.uncertainty_item.setVisible(False)
        self.canvas.image_target = self.image_item
        pen = QPen(QColor(*CROSSHAIR_COLOR))
        pen.setCosmetic(True)
        self.vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self.hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (self.vline, self.hline):
            line.setZValue(10)
            self.canvas.addItem(line, ignoreBounds=True)
        self.brush_outline = QGraphicsEllipseItem(self.label_item)  # pixel coordinates
        self.brush_outline.setPen(pen)
        self.brush_outline.setVisible(False)
        self.polygon_item = pg.PlotCurveItem(pen=pg.mkPen((0, 255, 255), width=1))
        self.polygon_item.setZValue(11)
        self.canvas.addItem(self.polygon_item, ignoreBounds=True)
        self._letters = [QLabel(self.graphics) for _ in range(4)]
        for label in self._letters:
            label.setStyleSheet("color: #ffd080; font-weight: bold; background: transparent;")
        self.title = QLabel(self.graphics)
        self.title.setStyleSheet("color: #d0d0d0; background: transparent;")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.strip = SliceStrip()
        self.slider.valueChanged.connect(lambda v: self.slice_requested.emit(self.axis, int(v)))
        self.strip.slice_requested.connect(lambda v: self.slice_requested.emit(self.axis, v))
        bottom = QVBoxLayout()
        bottom.setSpacing(1)
        bottom.addWidget(self.strip)
        bottom.addWidget(self.slider)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(1, 1, 1, 1)
        outer.setSpacing(2)
        outer.addWidget(self.graphics, 1)
        row = QHBoxLayout()
        row.addLayout(bottom)
        outer.addLayout(row)
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(0)
        self._redraw_timer.timeout.connect(self.flush)

    # -- data --------------------------------------------------------------------------------
    def set_volume(
        self, image_zyx: np.ndarray, labels_zyx: np.ndarray, layout: SliceLayout
    ) -> None:
        """Show a new volume (transform, letters, slider range); call ``show_slice`` next."""
        self._image_zyx, self._labels_zyx, self.layout_info = image_zyx, labels_zyx, layout
        count = image_zyx.shape["zyx".index(self.axis)]
        self.slider.blockSignals(True)
        self.slider.setRange(0, count - 1)
        self.slider.blockSignals(False)
        plane = slice_of(image_zyx, self.axis, 0)
        transform = _pixel_transform(layout, plane.shape)
        for item in (self.image_item, self.label_item, self.uncertainty_item):
            item.setTransform(transform)
        for label, text in zip(self._letters, layout.letters, strict=True):
            label.setText(text)
        self.title.setText(layout.view.capitalize())
        self._place_letters()
        self._index = -1

    def show_slice(self, index: int, levels: tuple[float, float]) -> None:
        """Draw slice ``index`` with grey ``levels`` (low, high) and its labels."""
        if self._image_zyx is None:
            return
        self._index = index
        plane = np.ascontiguousarray(slice_of(self._image_zyx, self.axis, index))
        self.image_item.setImage(plane, autoLevels=False, levels=levels)
        self._draw_labels()
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)

    def set_caption(self, text: str) -> None:
        """The corner text: view name, slice number and position (``slice_caption``)."""
        self.title.setText(text)
        self.title.adjustSize()

    def set_levels(self, levels: tuple[float, float]) -> None:
        """Change the grey mapping without touching the pixels."""
        self.image_item.setLevels(levels)

    def set_label_style(
        self, lut: np.ndarray, visible: bool, outline_fn: Callable[[np.ndarray], np.ndarray] | None
    ) -> None:
        """Overlay LUT (256, 4) uint8, visibility and outline function (None = filled)."""
        self.label_item.setLookupTable(lut)
        self.label_item.setVisible(visible)
        changed = outline_fn is not self.outline_fn
        self.outline_fn = outline_fn
        if changed:
            self._draw_labels()

    def labels_changed(self, region: Region) -> None:
        """Schedule a label redraw when ``region`` meets the shown slice."""
        if self._index >= 0 and region.meets(self.axis, self._index):
            self._labels_dirty = True
            self._redraw_timer.start()

    def flush(self) -> None:
        """Redraw pending label changes now."""
        if self._labels_dirty:
            self._draw_labels()

    def _draw_labels(self) -> None:
        self._labels_dirty = False
        if self._labels_zyx is None or self._index < 0:
            return
        plane = np.ascontiguousarray(slice_of(self._labels_zyx, self.axis, self._index))
        if self.outline_fn is not None:
            plane = self.outline_fn(plane)
        self.label_item.setImage(plane, autoLevels=False, levels=(0, 255))

    # -- crosshair and marks -----------------------------------------------------------------
    def set_crosshair(self, row: int, col: int) -> None:
        """Put the crosshair on voxel (row, col) of this view's slices."""
        p = self.image_item.mapToParent(QPointF(col + 0.5, row + 0.5))
        self.vline.setPos(p.x())
        self.hline.setPos(p.y())

    def set_marks(self, marks: np.ndarray, colors_rgba: np.ndarray | None = None) -> None:
        """Show labeled-slice marks in the strip."""
        self.strip.show_marks(marks, max(self._index, 0), colors_rgba)

    def set_polygon(self, points_cr: np.ndarray | None) -> None:
        """Draw the polygon being built, (N, 2) pixel (col, row) points, or clear it."""
        if points_cr is None or len(points_cr) == 0:
            self.polygon_item.setData([], [])
            return
        mapped = [self.image_item.mapToParent(QPointF(c, r)) for c, r in points_cr]
        self.polygon_item.setData([p.x() for p in mapped], [p.y() for p in mapped])

    def show_brush(
        self, center_xy: tuple[float, float] | None, radius_rc: tuple[float, float] = (1.0, 1.0)
    ) -> None:
        """Outline the brush at pixel position (col, row) with radii in voxels, or hide it."""
        if center_xy is None:
            self.brush_outline.setVisible(False)
            return
        (x, y), (rr, rc) = center_xy, (radius_rc[0] + 0.5, radius_rc[1] + 0.5)
        self.brush_outline.setRect(QRectF(x - rc, y - rr, 2 * rc, 2 * rr))
        self.brush_outline.setVisible(True)

    def reset_zoom(self) -> None:
        """Fit the slice in the view."""
        self.canvas.autoRange(padding=0.02, items=[self.image_item])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._place_letters()

    def _place_letters(self) -> None:
        w, h = self.graphics.width(), self.graphics.height()
        top, bottom, left, right = self._letters
        for label in self._letters:
            label.adjustSize()
        top.move((w - top.width()) // 2, 2)
        bottom.move((w - bottom.width()) // 2, h - bottom.height() - 2)
        left.move(4, (h - left.height()) // 2)
        right.move(w - right.width() - 4, (h - right.height()) // 2)
        self.title.adjustSize()
        self.title.move(4, 2)


def _pixel_transform(layout: SliceLayout, shape_rc: tuple[int, ...]) -> QTransform:
    """Map image pixels (col, row) to view coordinates in mm (right, down)."""
    rows, cols = shape_rc
    s_row, s_col = layout.spacing_rc
    if not layout.transpose:
        sx, sy, width, height = s_col, s_row, cols * s_col, rows * s_row
        m11, m22 = (-sx if layout.flip_h else sx), (-sy if layout.flip_v else sy)
        return QTransform(
            m11, 0.0, 0.0, m22, width if layout.flip_h else 0.0, height if layout.flip_v else 0.0
        )
    width, height = rows * s_row, cols * s_col
    m21 = -s_row if layout.flip_h else s_row  # screen x follows rows
    m12 = -s_col if layout.flip_v else s_col  # screen y follows columns
    return QTransform(
        0.0, m12, m21, 0.0, width if layout.flip_h else 0.0, height if layout.flip_v else 0.0
    )
