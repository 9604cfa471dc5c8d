"""An open that fails at the last step (the journal beside the project cannot be written, e.g.
a project on a read-only share) leaves the document on screen exactly as it was."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_volume_switching import two_volumes

from app.state import files
from ugpcl_engine import journal_has_records


@pytest.mark.parametrize("answer", ["Discard", "no question"])
def test_a_project_whose_journal_cannot_be_written_leaves_the_shown_document_whole(
    qtbot, window, tmp_path: Path, monkeypatch, dialogs_log, answer: str
) -> None:
    project = tmp_path / "elsewhere.ugpcl"
    other = two_volumes()
    files.save_snapshot(project, files.snapshot(other, project))
    # the journal beside it cannot be written: its temporary name is taken by a folder
    (tmp_path / "elsewhere.ugpcl.journal.part").mkdir()
    window.ws.set_document(two_volumes())
    with qtbot.waitSignal(window.files.saved, timeout=20000):
        window.files.save(tmp_path / "mine.ugpcl")
    doc, editor, history = window.ws.doc, window.ws.editor, window.ws.undo
    window.ws.editor.set_mark("z", 4, True)
    if answer == "no question":
        doc.modified = False  # as if saved: no question before the open
    journal = window.ws.keeper.journal
    assert journal is not None and journal_has_records(journal.path)
    window.files.open_paths([project])
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert "journal" in dialogs_log["errors"][0]
    # the workspace still holds the document shown, its editor and its undo history (it held
    # the new document with the old editor and an emptied history: Save wrote the document
    # not shown, and the edits on screen were not journaled)
    assert window.ws.doc is doc and window.ws.editor is editor and editor.doc is doc
    assert window.ws.undo is history and window.ws.undo.can_undo()
    assert window.ws.keeper.journal is journal
    # nothing was discarded: Discard drops the edits only once the new document is shown
    assert journal_has_records(journal.path)
    window.ws.editor.set_mark("z", 1, True)  # editing goes on, journaled
    assert doc.item.labeled["z"][1] and journal_has_records(journal.path)
    assert doc.modified
