"""Prediction, uncertainty and label-check layers on the slice views, and the heat legend.

Each ``SliceView`` already has an ``uncertainty_item``; this module adds a prediction layer
(drawn as class-coloured outlines, so it reads differently from the filled paint) and a
label-check layer (magenta voxels where the model confidently disagrees with the user). Each
layer is toggled and faded on its own. Entropy is shown with a heat lookup table whose levels
are fixed to [0, ln C] nats (never per-slice auto levels).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.state.document import slice_of
from app.ui.overlay import outline
from app.ui.slice_view import SliceView

LAYERS = ("prediction", "uncertainty", "check")
CHECK_RGBA = (255, 0, 255, 255)
HEAT_STOPS = ((0.0, (0, 0, 0)), (0.35, (200, 0, 0)), (0.7, (255, 200, 0)), (1.0, (255, 255, 255)))


def heat_lut(size: int = 256) -> np.ndarray:
    """Heat colours (black-red-yellow-white) whose alpha grows with the value.

    Returns:
        uint8 (size, 4) RGBA; entry 0 is fully transparent, so certain voxels show the image.
    """
    x = np.linspace(0.0, 1.0, size)
    stops = np.array([s for s, _ in HEAT_STOPS])
    colours = np.array([c for _, c in HEAT_STOPS], float)
    lut = np.zeros((size, 4), np.uint8)
    for ch in range(3):
        lut[:, ch] = np.interp(x, stops, colours[:, ch]).round()
    # nearly certain voxels stay clear; the rest fade in up to 85 % so anatomy shows through
    lut[:, 3] = (255 * np.clip((x - 0.04) * 1.4, 0.0, 0.85)).round()
    return lut


def strip_colours(scores: np.ndarray, max_nats: float) -> np.ndarray:
    """Per-slice strip colours from per-slice uncertainty scores.

    Args:
        scores: (N,) mean entropy per slice in nats.
        max_nats: value drawn at the top of the scale.

    Returns:
        uint8 (N, 4) RGBA from the heat table (opaque).
    """
    lut = heat_lut()
    top = max(float(max_nats), 1e-6)
    idx = np.clip(np.asarray(scores, float) / top * 255, 0, 255).astype(int)
    colours = lut[idx].copy()
    colours[:, 3] = 255
    return colours


class UncertaintyLegend(QWidget):
    """A horizontal heat bar labelled in nats (0 … ln C).

    Args:
        parent: owning widget.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_nats = float(np.log(2))
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Uncertainty: entropy of the mean prediction, in nats (max ln C)")

    def set_range(self, max_nats: float) -> None:
        """Show the scale up to ``max_nats`` (ln of the number of classes)."""
        self.max_nats = float(max_nats)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        bar = QRectF(6, 2, self.width() - 12, 12)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        for stop, rgb in HEAT_STOPS:
            gradient.setColorAt(stop, QColor(*rgb))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().windowText().color())
        ticks = (0.0, 0.25, 0.5, 0.75, 1.0)
        for t in ticks:
            x = bar.left() + t * bar.width()
            painter.drawLine(int(x), int(bar.bottom()), int(x), int(bar.bottom()) + 3)
            text = f"{t * self.max_nats:.2f}"
            align = Qt.AlignmentFlag.AlignHCenter
            rect = QRectF(x - 30, bar.bottom() + 3, 60, 14)
            if t == 0.0:
                rect, align = QRectF(x, bar.bottom() + 3, 60, 14), Qt.AlignmentFlag.AlignLeft
            elif t == 1.0:
                text += " nats"
                rect, align = QRectF(x - 80, bar.bottom() + 3, 80, 14), Qt.AlignmentFlag.AlignRight
            painter.drawText(rect, align, text)
        painter.end()


class AssistOverlays:
    """The three assist layers on every slice view.

    Args:
        views: the slice views by axis.

    Attributes:
        visible: per layer name, shown or not.
        opacity: per layer name, 0..1.
    """

    def __init__(self, views: dict[str, SliceView]) -> None:
        self.views = views
        self.visible = {"prediction": True, "uncertainty": True, "check": False}
        self.opacity = {"prediction": 0.9, "uncertainty": 0.7, "check": 1.0}
        self.pred_zyx: np.ndarray | None = None
        self.entropy_zyx: np.ndarray | None = None
        self.check_zyx: np.ndarray | None = None
        self.preview: tuple[int, np.ndarray, np.ndarray] | None = None
        self.label_lut = np.zeros((256, 4), np.uint8)
        self.max_nats = float(np.log(2))
        self._heat = heat_lut()
        check = np.zeros((2, 4), np.uint8)
        check[1] = CHECK_RGBA
        self._check_lut = check
        self.items: dict[str, dict[str, pg.ImageItem]] = {}
        for axis, view in views.items():
            pred = pg.ImageItem(axisOrder="row-major")
            flag = pg.ImageItem(axisOrder="row-major")
            pred.setZValue(1.5)
            flag.setZValue(2.5)
            for item in (pred, flag):
                item.setVisible(False)
                view.canvas.addItem(item)
            self.items[axis] = {
                "prediction": pred,
                "uncertainty": view.uncertainty_item,
                "check": flag,
            }

    def set_result(
        self,
        pred_zyx: np.ndarray | None,
        entropy_zyx: np.ndarray | None,
        label_lut: np.ndarray,
        max_nats: float,
    ) -> None:
        """Use a whole-volume prediction (labels uint8, entropy nats), or clear with None."""
        self.pred_zyx, self.entropy_zyx = pred_zyx, entropy_zyx
        self.label_lut, self.max_nats = label_lut, max(float(max_nats), 1e-6)

    def set_check(self, check_zyx: np.ndarray | None) -> None:
        """Use a label-check mask (bool Z, Y, X), or clear with None."""
        self.check_zyx = check_zyx

    def set_preview(self, index: int | None, labels_rc: np.ndarray, entropy_rc: np.ndarray) -> None:
        """A live preview of axial slice ``index`` (None clears it)."""
        self.preview = None if index is None else (index, labels_rc, entropy_rc)

    def set_layer(
        self, name: str, visible: bool | None = None, opacity: float | None = None
    ) -> None:
        """Show/hide a layer or change its opacity (call ``redraw`` after)."""
        if visible is not None:
            self.visible[name] = visible
        if opacity is not None:
            self.opacity[name] = float(np.clip(opacity, 0.0, 1.0))

    def redraw(self, slice_indices: dict[str, int]) -> None:
        """Draw every view's layers for the slice it shows (``{"z": 10, "y": 64, "x": 64}``)."""
        for axis, index in slice_indices.items():
            self.redraw_view(axis, index)

    def redraw_view(self, axis: str, index: int) -> None:
        """Draw one view's layers for slice ``index``."""
        planes = self._planes(axis, index)
        view = self.views[axis]
        transform = view.image_item.transform()
        for name, item in self.items[axis].items():
            plane = planes.get(name)
            show = self.visible[name] and plane is not None
            item.setVisible(show)
            if not show or plane is None:
                continue
            item.setTransform(transform)
            item.setOpacity(self.opacity[name])
            if name == "prediction":
                lut, levels = self.label_lut, (0.0, 255.0)
            elif name == "uncertainty":
                lut, levels = self._heat, (0.0, self.max_nats)
            else:
                lut, levels = self._check_lut, (0.0, 1.0)
            item.setImage(plane, autoLevels=False, levels=levels, lut=lut)

    def _planes(self, axis: str, index: int) -> dict[str, np.ndarray | None]:
        planes: dict[str, np.ndarray | None] = {}
        if self.preview is not None and axis == "z" and self.preview[0] == index:
            planes["prediction"] = outline(np.ascontiguousarray(self.preview[1], np.uint8))
            planes["uncertainty"] = np.ascontiguousarray(self.preview[2], np.float32)
        else:
            if self.pred_zyx is not None:
                pred = np.ascontiguousarray(slice_of(self.pred_zyx, axis, index), np.uint8)
                planes["prediction"] = outline(pred)
            if self.entropy_zyx is not None:
                planes["uncertainty"] = np.ascontiguousarray(
                    slice_of(self.entropy_zyx, axis, index), np.float32
                )
        if self.check_zyx is not None:
            flags = slice_of(self.check_zyx, axis, index)
            planes["check"] = np.ascontiguousarray(flags, np.uint8)
        return planes
