"""Prediction, uncertainty and label-check layers on the slice views, and the heat legend.

Each ``SliceView`` already has an ``uncertainty_item``; this module adds a prediction layer
(drawn as class-coloured outlines, so it reads differently from the filled paint) and a
label-check layer (magenta voxels where the model confidently disagrees with the user), and
draws what ``app.state.overlay_layers.OverlayLayers`` says on them. Each layer is toggled and
faded on its own. Entropy is shown with a heat lookup table whose levels are fixed to
[0, ln C] nats (never per-slice auto levels).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.state.document import slice_of
from app.state.overlay_layers import OverlayLayers
from app.state.training_session import LivePreview, Ranking, TrainingSession
from app.state.workspace import Workspace
from app.ui.overlay import label_lut, outline
from app.ui.slice_view import SliceView

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
    """Draws the assist layers (``OverlayLayers``) and the live preview on every slice view,
    and colours the slice strips by the suggestions' uncertainty scores.

    It holds no state of its own: what it draws comes from ``layers`` (the result, the label
    check, visibility and opacity), ``session`` (the live preview of the running job, the
    ranking) and the workspace (the volume and slices shown).

    Args:
        views: the slice views by axis.
        layers: what the overlays show.
        session: the assist state (preview, ranking).
        workspace: the document and the view state.
    """

    def __init__(
        self,
        views: dict[str, SliceView],
        layers: OverlayLayers,
        session: TrainingSession,
        workspace: Workspace,
    ) -> None:
        self.views, self.layers, self.session, self.ws = views, layers, session, workspace
        self._heat = heat_lut()
        check = np.zeros((2, 4), np.uint8)
        check[1] = CHECK_RGBA
        self._check_lut = check
        self._label_lut = np.zeros((256, 4), np.uint8)
        self._strips: tuple[Ranking, dict[str, np.ndarray]] | None = None  # colours drawn
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
        layers.changed.connect(self._layers_changed)
        session.preview_changed.connect(lambda _: self._preview_changed())
        session.suggestions_changed.connect(lambda _: self.paint_strips())
        workspace.view.changed.connect(self._view_changed)

    # -- state -> views ------------------------------------------------------------------------
    def _layers_changed(self, axes: tuple[str, ...]) -> None:
        table = self.layers.table
        if table is not None:
            self._label_lut = label_lut(table, set(self.layers.hidden), 1.0)
        else:
            self._label_lut = np.zeros((256, 4), np.uint8)
        self.redraw(axes)

    def _preview_changed(self) -> None:
        self.redraw((self.session.axis,))  # the live preview: the training axis's view only

    def _view_changed(self, what: str) -> None:
        if what == "cursor":
            self.redraw(tuple(self.views))
            self.paint_strips()

    def redraw(self, axes: tuple[str, ...]) -> None:
        """Draw the layers of the ``axes`` views for the slices they show."""
        if self.ws.doc is None:
            return
        for axis in axes:
            if axis in self.views:
                self.redraw_view(axis, self.ws.view.slice_index(axis))

    def redraw_view(self, axis: str, index: int) -> None:
        """Draw one view's layers for slice ``index``."""
        planes = self._planes(axis, index)
        view = self.views[axis]
        transform = view.image_item.transform()
        layers = self.layers
        for name, item in self.items[axis].items():
            plane = planes.get(name)
            show = layers.visible[name] and plane is not None
            item.setVisible(show)
            if not show or plane is None:
                continue
            item.setTransform(transform)
            item.setOpacity(layers.opacity[name])
            if name == "prediction":
                lut, levels = self._label_lut, (0.0, 255.0)
            elif name == "uncertainty":
                lut, levels = self._heat, (0.0, layers.max_nats)
            else:
                lut, levels = self._check_lut, (0.0, 1.0)
            item.setImage(plane, autoLevels=False, levels=levels, lut=lut)

    def _live_preview(self, axis: str, index: int) -> LivePreview | None:
        """The running job's preview when it shows this slice (along the training axis) of the
        volume shown."""
        preview, running = self.session.preview, self.session.running_volumes
        doc = self.ws.doc
        on_volume = doc is not None and (not running or running[0] == doc.current)
        if (
            preview is None
            or axis != self.session.axis
            or preview.slice_index != index
            or not on_volume
        ):
            return None
        return preview

    def _planes(self, axis: str, index: int) -> dict[str, np.ndarray | None]:
        planes: dict[str, np.ndarray | None] = {}
        layers, preview = self.layers, self._live_preview(axis, index)
        if preview is not None:
            planes["prediction"] = outline(np.ascontiguousarray(preview.labels_rc, np.uint8))
            planes["uncertainty"] = np.ascontiguousarray(preview.entropy_rc, np.float32)
        else:
            if layers.pred_zyx is not None:
                pred = np.ascontiguousarray(slice_of(layers.pred_zyx, axis, index), np.uint8)
                planes["prediction"] = outline(pred)
            if layers.entropy_zyx is not None:
                planes["uncertainty"] = np.ascontiguousarray(
                    slice_of(layers.entropy_zyx, axis, index), np.float32
                )
        if layers.check_zyx is not None:
            flags = slice_of(layers.check_zyx, axis, index)
            planes["check"] = np.ascontiguousarray(flags, np.uint8)
        return planes

    # -- the slice strips --------------------------------------------------------------------
    def paint_strips(self) -> None:
        """Colour each view's strip by the ranked volume's slice scores (when it is shown)."""
        doc, ranking = self.ws.doc, self.session.ranking
        if doc is None or ranking is None or ranking.volume != doc.current:
            return
        for axis, view in self.views.items():
            view.set_marks(doc.item.labeled[axis], self._strip_colours(ranking).get(axis))

    def _strip_colours(self, ranking: Ranking) -> dict[str, np.ndarray]:
        if self._strips is None or self._strips[0] is not ranking:
            colours = {a: strip_colours(s, ranking.max_nats) for a, s in ranking.scores.items()}
            self._strips = (ranking, colours)
        return self._strips[1]
