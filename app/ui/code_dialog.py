"""The label panel's "DICOM code…": edit the category and type a label exports with.

A DICOM-SEG segment says what it is with two coded concepts (scheme, value, meaning), the
segmented property category and type (``ugpcl_engine.SegmentCode``). A label without its own
code exports with the default its name suggests (``code_for``); the dialog shows that default,
lets the user change it, or go back to it ("Restore Defaults").
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.state.editor import LabelEditor
from ugpcl_engine import Concept, InputError, SegmentCode, code_for

PARTS = ("category", "type")
FIELDS = ("scheme", "value", "meaning")


class CodeDialog(QDialog):
    """Category and type of one label, three fields each.

    Args:
        parent: dialog parent.
        name: the label's name (title).
        code: the code shown first (the label's own, or its default).
        is_default: True when ``code`` is the default from the name.

    Attributes:
        chosen: after ``accept``, the code typed, or None for "the default from the name".
    """

    def __init__(
        self, parent: QWidget | None, name: str, code: SegmentCode, is_default: bool
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"DICOM code of '{name}'")
        self.chosen: SegmentCode | None = None
        self._default = False
        self.edits: dict[tuple[str, str], QLineEdit] = {}
        form = QFormLayout()
        for part in PARTS:
            concept = getattr(code, part)
            for field in FIELDS:
                edit = QLineEdit(str(getattr(concept, field)))
                self.edits[(part, field)] = edit
                form.addRow(f"{part.capitalize()} {field}", edit)
        note = "the default for this name" if is_default else "set for this label"
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.setToolTip("Use the code the label's name suggests (Tissue when none matches)")
        restore.clicked.connect(self._restore)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Used for DICOM-SEG and .seg.nrrd export; now {note}."))
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _restore(self) -> None:
        self._default = True
        super().accept()

    def accept(self) -> None:
        """Keep the typed code, or say what is missing and stay open."""
        try:
            concepts = [
                Concept(*(self.edits[(part, f)].text().strip() for f in FIELDS)) for part in PARTS
            ]
        except InputError as err:
            self.error.setText(str(err))
            return
        self.chosen = SegmentCode(concepts[0], concepts[1])
        super().accept()

    @property
    def wants_default(self) -> bool:
        """True when the user chose "Restore Defaults"."""
        return self._default


def edit_code(parent: QWidget | None, editor: LabelEditor, value: int) -> bool:
    """Ask for label ``value``'s DICOM code and set it as one undo step.

    Returns:
        True when the code was changed.
    """
    table = editor.doc.table
    if not 0 < value < table.num_classes:
        return False
    cls = table.classes[value]
    dialog = CodeDialog(parent, cls.name, code_for(cls.name, cls.code), cls.code is None)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return False
    code = None if dialog.wants_default else dialog.chosen
    if code == cls.code:
        return False
    editor.set_code(value, code)
    return True
