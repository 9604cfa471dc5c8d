"""File › Open dataset folder…: which training cases the app treats as labeled.

The same three choices as ``train-dataset --labeled``: the cases that have a label file (what
the dataset holds), the first N patients or cases in the dataset's order (the paper's protocol:
ACDC with 7 labeled patients), or a percentage. The answer is the ``--labeled`` text, so the
app and the headless command select the same cases.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ugpcl_engine import DatasetSummary

WITH_LABELS, FIRST, PERCENT = 0, 1, 2


class LabeledCasesDialog(QDialog):
    """Asks which training units are labeled; ``choice()`` is the ``--labeled`` text."""

    def __init__(self, summary: DatasetSummary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Open dataset {summary.name}")
        unit = summary.unit
        total = len(summary.units)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                f"{summary.layout.upper()} dataset: {total} training {unit} "
                f"({summary.cases} volumes), {len(summary.with_labels)} with label files.\n"
                "Which of them should training use as labeled? The others are unlabeled data."
            )
        )
        grid = QGridLayout()
        self.group = QButtonGroup(self)
        self.with_labels = QRadioButton(f"Every {unit[:-1]} with a label file")
        self.first = QRadioButton(f"The first {unit} in the dataset's order:")
        self.percent = QRadioButton("A percentage of them:")
        self.count = QSpinBox()
        self.count.setRange(1, max(1, len(summary.with_labels)))
        self.count.setValue(min(7, self.count.maximum()))
        self.count.setSuffix(f" {unit}")
        self.share = QSpinBox()
        self.share.setRange(1, 100)
        self.share.setValue(10)
        self.share.setSuffix(" %")
        for row, (button, spin) in enumerate(
            ((self.with_labels, None), (self.first, self.count), (self.percent, self.share))
        ):
            self.group.addButton(button, row)
            grid.addWidget(button, row, 0)
            if spin is not None:
                grid.addWidget(spin, row, 1)
                spin.valueChanged.connect(lambda _=0, b=button: b.setChecked(True))
        self.with_labels.setChecked(True)
        if not summary.with_labels:
            for button in (self.with_labels, self.first, self.percent):
                button.setEnabled(False)
        layout.addLayout(grid)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def choice(self) -> str | None:
        """``None`` for the cases with label files, else ``"7"`` or ``"10%"``."""
        picked = self.group.checkedId()
        if picked == FIRST:
            return str(self.count.value())
        if picked == PERCENT:
            return f"{self.share.value()}%"
        return None


def ask_labeled(parent: QWidget | None, summary: DatasetSummary) -> tuple[bool, str | None]:
    """Show the dialog; ``(opened, --labeled text or None)``."""
    dialog = LabeledCasesDialog(summary, parent)
    opened = dialog.exec() == QDialog.DialogCode.Accepted
    return opened, dialog.choice()
