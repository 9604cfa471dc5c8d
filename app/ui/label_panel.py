"""The label table panel: pick, add, rename, recolour, hide, lock, delete, merge and import
labels (the last three through ``label_actions``)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.state.label_ops import FREE_NAME, labels_in_use
from ugpcl_engine import LabelTable

COLUMNS = ("", "Name", "Show", "Lock")


class LabelPanel(QWidget):
    """A table of the labels (background left out); click a colour swatch to recolour.

    Signals:
        label_selected(int): the user chose the active label.
        renamed(int, str), recoloured(int, object): ``object`` is an (r, g, b) tuple.
        hidden_changed(int, bool), locked_changed(int, bool).
        add_requested(): the Add button.
        delete_requested(int): Delete (button or row menu) on a label.
        merge_requested(int, int): Merge into… on a label (source, target).
        import_requested(): Import… (a label table file).
        fill_requested(): the Fill between slices button.
        code_requested(int): "DICOM code…" in a label's row menu.
    """

    label_selected = Signal(int)
    renamed = Signal(int, str)
    recoloured = Signal(int, object)
    hidden_changed = Signal(int, bool)
    locked_changed = Signal(int, bool)
    add_requested = Signal()
    delete_requested = Signal(int)
    merge_requested = Signal(int, int)
    import_requested = Signal()
    fill_requested = Signal()
    code_requested = Signal(int)

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
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._row_menu)
        self._shown: LabelTable | None = None  # the table last drawn, for the merge targets
        add = QPushButton("Add label")
        add.clicked.connect(self.add_requested.emit)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected label: its voxels become background")
        self.delete_button.clicked.connect(lambda: self._on_selected(self.delete_requested.emit))
        self.merge_button = QPushButton("Merge into…")
        self.merge_button.setToolTip("Move the selected label's voxels to another label")
        self.merge_button.setMenu(QMenu(self.merge_button))
        self.merge_button.menu().aboutToShow.connect(self._fill_merge_button)
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip(
            "Import label names and colours from an ITK-SNAP or Slicer label table"
        )
        self.import_button.clicked.connect(self.import_requested.emit)
        buttons = QHBoxLayout()
        for button in (add, self.delete_button, self.merge_button, self.import_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.fill_button = QPushButton("Fill between slices")
        self.fill_button.setToolTip("Interpolate the unlabeled slices between the labeled ones")
        self.fill_button.clicked.connect(self.fill_requested.emit)
        fill_row = QHBoxLayout()  # a second row: the dock stays narrow
        fill_row.addWidget(self.fill_button)
        fill_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        layout.addLayout(fill_row)

    def sync(self, table: LabelTable, hidden: set[int], locked: set[int], active: int) -> None:
        """Show the table; select the active label."""
        self._shown = table
        self.table.blockSignals(True)
        self.table.setRowCount(table.num_classes - 1)
        for row, cls in enumerate(table.classes[1:]):
            self.table.setCellWidget(row, 0, self._swatch(cls.value, cls.color_rgb))
            name = QTableWidgetItem(cls.name)
            if cls.name == FREE_NAME:  # a freed value: greyed, renaming makes it a label again
                font = QFont(name.font())
                font.setItalic(True)
                name.setFont(font)
                name.setForeground(QBrush(QColor(128, 128, 128)))
                name.setToolTip("Deleted label: its value is kept free. Rename it to reuse it.")
            self.table.setItem(row, 1, name)
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

    def selected_value(self) -> int | None:
        """The label of the selected row, or None."""
        row = self.table.currentRow()
        return row + 1 if row >= 0 else None

    def merge_menu(self, source: int, menu: QMenu) -> QMenu:
        """Fill ``menu`` with one entry per label ``source`` can be merged into."""
        menu.clear()
        table = self._shown
        targets = [v for v in labels_in_use(table) if v != source] if table else []
        for value in targets:
            name = table.classes[value].name if table else ""
            action = menu.addAction(f"{value}: {name}")
            action.triggered.connect(lambda _=False, t=value: self.merge_requested.emit(source, t))
        if not targets:
            menu.addAction("No other label").setEnabled(False)
        return menu

    def row_menu(self, value: int) -> QMenu:
        """The context menu of a label's row: Delete label, Merge into ▸, DICOM code…."""
        menu = QMenu(self)
        delete = menu.addAction("Delete label")
        delete.triggered.connect(lambda _=False: self.delete_requested.emit(value))
        self.merge_menu(value, menu.addMenu("Merge into"))
        code = menu.addAction("DICOM code…")
        code.setToolTip("The category and type this label exports with (DICOM-SEG, .seg.nrrd)")
        code.triggered.connect(lambda _=False: self.code_requested.emit(value))
        menu.addSeparator()
        menu.addAction("Import label table…").triggered.connect(
            lambda _=False: self.import_requested.emit()
        )
        return menu

    def _row_menu(self, pos: QPoint) -> None:
        row = self.table.rowAt(pos.y())
        if row >= 0:
            self.row_menu(row + 1).exec(self.table.viewport().mapToGlobal(pos))

    def _on_selected(self, emit: Callable[[int], object]) -> None:
        value = self.selected_value()
        if value is not None:
            emit(value)

    def _fill_merge_button(self) -> None:
        value, menu = self.selected_value(), self.merge_button.menu()
        if value is None:
            menu.clear()
            menu.addAction("Select a label first").setEnabled(False)
        else:
            self.merge_menu(value, menu)

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
