"""Help › Shortcuts (F1) and docs/SHORTCUTS.md show the same rows, with the other programs'
bindings; the menus' keys are all listed."""

from __future__ import annotations

from pathlib import Path

from app.ui import shortcut_table
from app.ui.dialogs import ShortcutsDialog, shortcuts_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "SHORTCUTS.md"


def test_the_dialog_shows_every_row_and_column_of_the_table(qtbot) -> None:
    dialog = ShortcutsDialog()
    qtbot.addWidget(dialog)
    table = dialog.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert headers == ["Keys", "Action", "3D Slicer", "ITK-SNAP", "napari", "Note"]
    shown = [
        tuple(table.item(r, c).text() for c in range(table.columnCount()))
        for r in range(table.rowCount())
    ]
    assert shown == [shortcut_table.row_cells(row) for row in shortcut_table.SHORTCUTS]


def test_the_shortcuts_file_holds_the_dialog_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert shortcuts_markdown() in text
    assert "| W | Window / level tool" in text
    assert "| Right drag | Zoom about the press point" in text


def test_every_menu_shortcut_is_in_the_list(window) -> None:
    """A key bound in the menus but missing from Help › Shortcuts fails here."""
    listed = " ".join(row.keys for row in shortcut_table.SHORTCUTS)
    names = {"Return": "Return", "Escape": "Esc", "PgUp": "Page Up", "PgDown": "Page Down"}
    unlisted = []
    for action in window.findChildren(type(window.undo_action)):
        for seq in action.shortcuts():
            key = seq.toString()
            if len(key) == 1 and key.isdigit():
                continue  # the label keys: "1 – 9"
            if key in ("Up", "Down", "Left", "Right"):
                continue  # "Up/Right, Down/Left arrows"
            if names.get(key, key) not in listed:
                unlisted.append(key)
    assert not unlisted, unlisted


def test_no_two_actions_share_a_key(window) -> None:
    """An ambiguous shortcut fires neither action: each key is bound once (W included)."""
    keys = [
        seq.toString()
        for action in window.findChildren(type(window.undo_action))
        for seq in action.shortcuts()
    ]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    assert "W" in keys
