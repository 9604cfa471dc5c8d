"""The tool panel: tools, brush size, paint-over rule, marks, overlay, window and layout.

It shows ``ToolState`` and ``ViewState`` (``sync``) and forwards every user change as
``setting_changed(key, value)``; it keeps no state of its own.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.state.view_state import AUTO_PRESET, CT_PRESETS, PaintOver, Tool, ToolState, ViewState
from app.ui.tool_table import TOOLS

PAINT_OVER = (
    ("Everything", PaintOver.EVERYTHING),
    ("Background only", PaintOver.BACKGROUND),
    ("Only label…", PaintOver.LABEL),
)
LAYOUTS = (
    ("1×3", ("1x3", None)),
    ("Axial", ("single", "z")),
    ("Coronal", ("single", "y")),
    ("Sagittal", ("single", "x")),
)


class ToolPanel(QWidget):
    """Controls for the tool in hand and the display.

    Signals:
        setting_changed(str, object): keys ``tool``, ``radius``, ``radius_in_mm``,
            ``paint_over``, ``paint_over_label``, ``mark_on_paint``, ``mark`` (bool),
            ``labels_visible``, ``opacity``, ``outline``, ``preset`` (name), ``layout``
            ((layout, axis)).
    """

    setting_changed = Signal(str, object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.addWidget(self._tools_box())
        layout.addWidget(self._brush_box())
        layout.addWidget(self._display_box())
        layout.addStretch(1)

    def _emit(self, key: str):
        return lambda value=None: self.setting_changed.emit(key, value)

    def _tools_box(self) -> QGroupBox:
        box = QGroupBox("Tools")
        grid = QGridLayout(box)
        self.tool_group = QButtonGroup(self)
        self.tool_buttons: dict[Tool, QToolButton] = {}
        # Navigate takes the first cell: the painting tools follow in the table's order
        buttons = sorted(TOOLS, key=lambda entry: entry.tool is not Tool.NAVIGATE)
        for i, entry in enumerate(buttons):
            tool = entry.tool
            button = QToolButton()
            button.setText(f"{entry.button} ({entry.key})")
            button.setCheckable(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(
                button.sizePolicy().horizontalPolicy().Expanding,
                button.sizePolicy().verticalPolicy(),
            )
            button.clicked.connect(lambda _=False, t=tool: self.setting_changed.emit("tool", t))
            self.tool_group.addButton(button)
            self.tool_buttons[tool] = button
            grid.addWidget(button, i // 2, i % 2)
        return box

    def _brush_box(self) -> QGroupBox:
        box = QGroupBox("Brush and rules")
        form = QFormLayout(box)
        self.radius = QDoubleSpinBox()
        self.radius.setRange(0.5, 200.0)
        self.radius.setSingleStep(0.5)
        self.radius.valueChanged.connect(self._emit("radius"))
        self.unit = QComboBox()
        self.unit.addItems(["voxels", "mm"])
        self.unit.currentIndexChanged.connect(
            lambda i: self.setting_changed.emit("radius_in_mm", i == 1)
        )
        row = QHBoxLayout()
        row.addWidget(self.radius)
        row.addWidget(self.unit)
        form.addRow("Radius [ ]", row)
        self.paint_over = QComboBox()
        for text, _ in PAINT_OVER:
            self.paint_over.addItem(text)
        self.paint_over.currentIndexChanged.connect(
            lambda i: self.setting_changed.emit("paint_over", PAINT_OVER[i][1])
        )
        self.paint_over_label = QSpinBox()
        self.paint_over_label.setRange(0, 255)
        self.paint_over_label.valueChanged.connect(self._emit("paint_over_label"))
        form.addRow("Paint over", self.paint_over)
        form.addRow("…label", self.paint_over_label)
        self.threshold = QCheckBox("Only intensities")
        self.threshold.setToolTip(
            "Paint, fill and draw only where the image intensity lies in this range (ends included)"
        )
        self.threshold_low, self.threshold_high = QDoubleSpinBox(), QDoubleSpinBox()
        for spin, value in ((self.threshold_low, -1000.0), (self.threshold_high, 3000.0)):
            spin.setRange(-1e6, 1e6)
            spin.setDecimals(1)
            spin.setValue(value)
            spin.valueChanged.connect(lambda _: self._emit_threshold())
        self.threshold.toggled.connect(lambda _: self._emit_threshold())
        limits = QHBoxLayout()
        limits.addWidget(self.threshold_low)
        limits.addWidget(self.threshold_high)
        form.addRow(self.threshold)
        form.addRow("…from, to", limits)
        self.mark_on_paint = QCheckBox("Painting marks the slice labeled")
        self.mark_on_paint.toggled.connect(self._emit("mark_on_paint"))
        form.addRow(self.mark_on_paint)
        marks = QHBoxLayout()
        mark, unmark = QPushButton("Mark slice (M)"), QPushButton("Unmark")
        mark.clicked.connect(lambda: self.setting_changed.emit("mark", True))
        unmark.clicked.connect(lambda: self.setting_changed.emit("mark", False))
        marks.addWidget(mark)
        marks.addWidget(unmark)
        form.addRow(marks)
        return box

    def _emit_threshold(self) -> None:
        on = self.threshold.isChecked()
        self.threshold_low.setEnabled(on)
        self.threshold_high.setEnabled(on)
        limits = (self.threshold_low.value(), self.threshold_high.value())
        self.setting_changed.emit("intensity_range", limits if on else None)

    def _display_box(self) -> QGroupBox:
        box = QGroupBox("Display")
        form = QFormLayout(box)
        self.labels_visible = QCheckBox("Show labels (S)")
        self.labels_visible.toggled.connect(self._emit("labels_visible"))
        self.outline = QCheckBox("Outline only")
        self.outline.toggled.connect(self._emit("outline"))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.valueChanged.connect(lambda v: self.setting_changed.emit("opacity", v / 100))
        form.addRow(self.labels_visible)
        form.addRow(self.outline)
        form.addRow("Opacity (A/D)", self.opacity)
        self.preset = QComboBox()
        self.set_presets([*CT_PRESETS, AUTO_PRESET])
        self.preset.activated.connect(
            lambda i: i > 0 and self.setting_changed.emit("preset", self.preset.itemText(i))
        )
        form.addRow("Window", self.preset)
        self.layout_box = QComboBox()
        self.layout_box.addItems([text for text, _ in LAYOUTS])
        self.layout_box.activated.connect(
            lambda i: self.setting_changed.emit("layout", LAYOUTS[i][1])
        )
        form.addRow("Layout", self.layout_box)
        return box

    def set_presets(self, names: list[str]) -> None:
        """Offer these window presets (``window_presets.preset_names``), a line between the
        CT ones and the others."""
        current = [self.preset.itemText(i) for i in range(self.preset.count())]
        if [c for c in current[1:] if c] == names:
            return
        self.preset.clear()
        self.preset.addItem("Window preset…")
        for k, name in enumerate(names):
            if k and (name in CT_PRESETS) != (names[k - 1] in CT_PRESETS):
                self.preset.insertSeparator(self.preset.count())
            self.preset.addItem(name)

    def sync(self, tools: ToolState, view: ViewState) -> None:
        """Show the current settings without echoing them back as changes."""
        widgets = (
            self.radius,
            self.unit,
            self.paint_over,
            self.paint_over_label,
            self.mark_on_paint,
            self.threshold,
            self.threshold_low,
            self.threshold_high,
            self.labels_visible,
            self.outline,
            self.opacity,
            self.layout_box,
        )
        for w in widgets:
            w.blockSignals(True)
        self.tool_buttons[tools.tool].setChecked(True)
        self.radius.setValue(tools.radius)
        self.unit.setCurrentIndex(1 if tools.radius_in_mm else 0)
        self.paint_over.setCurrentIndex([p for _, p in PAINT_OVER].index(tools.paint_over))
        self.paint_over_label.setValue(tools.paint_over_label)
        self.paint_over_label.setEnabled(tools.paint_over is PaintOver.LABEL)
        self.mark_on_paint.setChecked(tools.mark_on_paint)
        self.threshold.setChecked(tools.intensity_range is not None)
        if tools.intensity_range is not None:
            self.threshold_low.setValue(tools.intensity_range[0])
            self.threshold_high.setValue(tools.intensity_range[1])
        self.threshold_low.setEnabled(tools.intensity_range is not None)
        self.threshold_high.setEnabled(tools.intensity_range is not None)
        self.labels_visible.setChecked(view.labels_visible)
        self.outline.setChecked(view.outline)
        self.opacity.setValue(round(view.opacity * 100))
        current = ("1x3", None) if view.layout == "1x3" else ("single", view.single_axis)
        self.layout_box.setCurrentIndex([v for _, v in LAYOUTS].index(current))
        for w in widgets:
            w.blockSignals(False)
