"""The strip beside a slice slider: one tick per labeled slice, plus the current slice."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

LABELED = QColor(80, 220, 120)
CURRENT = QColor(255, 255, 255)


class SliceStrip(QWidget):
    """Horizontal strip; clicking a position asks for that slice.

    Signals:
        slice_requested(int): the user clicked on slice ``index``.
    """

    slice_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Labeled slices (green); click to go there")
        self._marks = np.zeros(1, bool)
        self._colors: np.ndarray | None = None
        self._current = 0

    def show_marks(
        self, marks: np.ndarray, current: int, colors_rgba: np.ndarray | None = None
    ) -> None:
        """Show which slices are labeled.

        Args:
            marks: bool array, one per slice.
            current: slice shown.
            colors_rgba: optional uint8 (N, 4) colour per slice (uncertainty, issue 5); drawn
                under the labeled ticks.
        """
        self._marks, self._current, self._colors = marks, current, colors_rgba
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40))
        n = max(len(self._marks), 1)
        step = self.width() / n
        if self._colors is not None:
            for i, rgba in enumerate(self._colors):
                painter.fillRect(
                    QRectF(i * step, 0, max(step, 1), self.height()),
                    QColor(*[int(v) for v in rgba]),
                )
        for i in np.flatnonzero(self._marks):
            painter.fillRect(QRectF(i * step, 0, max(step, 2), self.height()), LABELED)
        painter.setPen(CURRENT)
        painter.drawRect(QRectF(self._current * step, 0, max(step, 2), self.height() - 1))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
        if event.button() == Qt.MouseButton.LeftButton and self.width() > 0:
            n = max(len(self._marks), 1)
            self.slice_requested.emit(int(event.position().x() / self.width() * n))
