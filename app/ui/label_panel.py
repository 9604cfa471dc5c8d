"""The label table panel: pick, add, rename, recolour, hide and lock labels."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ugpcl_engine import LabelTable

COLUMNS = ("", "Name", "Show", "Lock")


class LabelPanel(QWidget):
    """A table of the labels (background left out); click a colour swatch to recolour.

    Signals:
        label_selected(int): the user chose the active label.
        renamed(int, str), recoloured(int, object): ``object`` is an (r, g, b) tuple.
        hidden_changed(int, bool), locked_changed(int, bool).
        add_requested(): the Add button.
        fill_requested(): the Fill between slices button.
    """

    label_selected = Signal(int)
    renamed = Signal(int, str)
    recoloured = Signal(int, object)
    hidden_changed = Signal(int, bool)
    locked_changed = Signal(int, bool)
    add_requested = Signal()
    fill_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._item_changed)
        self.table.currentCellChanged.connect(
            lambda row, *_: row >= 0 and self.label_selected.emit(row + 1)
        )
        add = QPushButton("Add label")
        add.clicked.connect(self.add_requested.emit)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        self.fill_button = QPushButton("Fill between slices")
        self.fill_button.setToolTip("Interpolate the unlabeled slices between the labeled ones")
        self.fill_button.clicked.connect(self.fill_requested.emit)
        buttons.addWidget(self.fill_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def sync(self, table: LabelTable, hidden: set[int], locked: set[int], active: int) -> None:
        """Show the table; select the active label."""
        self.table.blockSignals(True)
        self.table.setRowCount(table.num_classes - 1)
        for row, cls in enumerate(table.classes[1:]):
            self.table.setCellWidget(row, 0, self._swatch(cls.value, cls.color_rgb))
            self.table.setItem(row, 1, QTableWidgetItem(cls.name))
            for column, on in ((2, cls.value not in hidden), (3, cls.value in locked)):
                check = QTableWidgetItem()
                check.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsUserCheckable
                    | Qt.ItemFlag.ItemIsSelectable
                )
                check.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
                self.table.setItem(row, column, check)
            self.table.setVerticalHeaderItem(row, QTableWidgetItem(str(cls.value)))
        if 1 <= active < table.num_classes:
            self.table.setCurrentCell(active - 1, 1)
        self.table.blockSignals(False)

    def _swatch(self, value: int, color_rgb: tuple[int, int, int]) -> QToolButton:
        """A colour button (cell widgets keep their colour when the row is selected)."""
        button = QToolButton()
        button.setAutoRaise(True)
        button.setStyleSheet(f"background-color: rgb{tuple(color_rgb)}; border: 1px solid #555;")
        button.setToolTip("Click to change the colour")
        button.setFixedSize(22, 18)
        button.clicked.connect(lambda _=False: self._pick_colour(value, color_rgb))
        return button

    def _pick_colour(self, value: int, color_rgb: tuple[int, int, int]) -> None:
        color = QColorDialog.getColor(QColor(*color_rgb), self, "Label colour")
        if color.isValid():
            self.recoloured.emit(value, (color.red(), color.green(), color.blue()))

    def _item_changed(self, item: QTableWidgetItem) -> None:
        value = item.row() + 1
        if item.column() == 1:
            self.renamed.emit(value, item.text())
        elif item.column() == 2:
            self.hidden_changed.emit(value, item.checkState() != Qt.CheckState.Checked)
        elif item.column() == 3:
            self.locked_changed.emit(value, item.checkState() == Qt.CheckState.Checked)
