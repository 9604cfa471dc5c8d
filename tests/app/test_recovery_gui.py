"""Crash protection through the main window (offscreen): saves racing strokes, recovery of
marks and label tables, autosave of documents never saved, and the Recover / Discard / Later
prompt at start (issue 14, items 2, 3, 4, 6)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from test_workspace_gui import open_and_wait

from app.state import files
from app.ui import dialogs, file_actions


def second_window(qtbot):
    from app.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    return window


def crash(window) -> None:
    """The window goes away as a killed process would: no save, no question, no cleanup
    (the operating system lets go of the live-session lock)."""
    window.ws.keeper.release()
    window.ws.doc.modified = False


def marks_of(doc) -> dict[str, list[int]]:
    return {a: np.flatnonzero(m).tolist() for a, m in doc.item.labeled.items()}


def save_and_wait(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.files.saved, timeout=10000):
        window.files.save(path)


def test_strokes_painted_during_a_background_save_are_kept(
    qtbot, window, small_image: Path, tmp_path: Path, monkeypatch, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "race.ugpcl"
    save_and_wait(qtbot, window, project)
    ws = window.ws
    ws.editor.dab("z", 2, (10.0, 10.0))
    release, started = threading.Event(), threading.Event()

    def slow_writer(path, snap, cancelled=None):
        started.set()
        assert release.wait(10), "the test never let the writer go"
        return files.save_snapshot(path, snap, cancelled)

    monkeypatch.setattr(file_actions, "save_snapshot", slow_writer)
    window.files.save(project)
    assert started.wait(10)
    ws.editor.dab("z", 6, (20.0, 30.0))  # painted while the file is being written
    ws.editor.set_mark("y", 15, True)
    painted, marks = ws.doc.labels_zyx.copy(), marks_of(ws.doc)
    with qtbot.waitSignal(window.files.saved, timeout=10000):
        release.set()
    assert ws.doc.modified, "the document holds edits the file does not"
    assert window.windowTitle().startswith("race.ugpcl *")
    crash(window)

    second = second_window(qtbot)
    open_and_wait(qtbot, second, lambda: second.files.open_paths([project]))
    assert len(dialogs_log["recover"]) == 1
    np.testing.assert_array_equal(second.ws.doc.labels_zyx, painted)
    assert marks_of(second.ws.doc) == marks
    second.ws.doc.modified = False


def test_recovery_restores_slice_marks_and_the_label_table(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "marks.ugpcl"
    save_and_wait(qtbot, window, project)
    editor = window.ws.editor
    editor.dab("z", 4, (20.0, 20.0))
    editor.set_mark("x", 30, True)
    window.label_panel.add_requested.emit()  # a new class, made the active one
    editor.dab("z", 5, (22.0, 22.0))
    window.label_panel.renamed.emit(2, "tumour")
    window.label_panel.recoloured.emit(1, (9, 8, 7))
    doc = window.ws.doc
    painted, marks, classes = doc.labels_zyx.copy(), marks_of(doc), doc.table.classes
    assert marks["z"] == [4, 5] and classes[2].name == "tumour"
    crash(window)

    second = second_window(qtbot)
    open_and_wait(qtbot, second, lambda: second.files.open_paths([project]))
    doc = second.ws.doc
    np.testing.assert_array_equal(doc.labels_zyx, painted)
    assert marks_of(doc) == marks and doc.table.classes == classes
    assert second.label_panel.table.item(1, 1).text() == "tumour"  # row 1: class 2
    doc.modified = False


def test_an_image_never_saved_is_offered_at_the_next_start(
    qtbot, window, small_image: Path, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    window.ws.editor.dab("z", 3, (12.0, 12.0))
    window.mark_slice(True)
    painted, marks = window.ws.doc.labels_zyx.copy(), marks_of(window.ws.doc)
    crash(window)

    second = second_window(qtbot)
    open_and_wait(qtbot, second, second.files.reopen_crashed_project)
    assert len(dialogs_log["recover"]) == 1 and "small" in dialogs_log["recover"][0]
    np.testing.assert_array_equal(second.ws.doc.labels_zyx, painted)
    assert marks_of(second.ws.doc) == marks and second.ws.doc.modified
    assert "small" in second.windowTitle()
    second.ws.doc.modified = False


def test_later_keeps_the_autosave_and_discard_deletes_it(
    qtbot, window, small_image: Path, dialogs_log, autosave_folder: Path
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    window.ws.editor.dab("z", 3, (12.0, 12.0))
    journal = window.ws.journal.path
    crash(window)
    before = journal.read_bytes()

    second = second_window(qtbot)
    dialogs_log["recover_answers"] += [dialogs.LATER]
    assert not second.files.reopen_crashed_project()
    assert second.ws.doc is None and journal.read_bytes() == before
    dialogs_log["recover_answers"] += [dialogs.DISCARD]
    assert not second.files.reopen_crashed_project()
    assert not journal.exists() and list(autosave_folder.glob("*.journal")) == []
    assert len(dialogs_log["recover"]) == 2


def test_later_on_a_project_keeps_its_journal_through_new_edits_and_saves(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log
) -> None:
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "later.ugpcl"
    save_and_wait(qtbot, window, project)
    window.ws.editor.dab("z", 1, (5.0, 5.0))
    journal = window.ws.journal.path
    crash(window)
    before = journal.read_bytes()

    second = second_window(qtbot)
    dialogs_log["recover_answers"] += [dialogs.LATER]
    open_and_wait(qtbot, second, lambda: second.files.open_paths([project]))
    assert not second.ws.doc.labels_zyx.any() and journal.read_bytes() == before
    second.ws.editor.dab("z", 8, (5.0, 5.0))
    save_and_wait(qtbot, second, project)
    assert journal.read_bytes() == before, "the postponed edits are still there"
    assert not second.ws.doc.modified


def test_closing_the_window_deletes_its_autosave_once_a_save_holds_every_edit(
    qtbot, window, small_image: Path, tmp_path: Path, dialogs_log, autosave_folder: Path
) -> None:
    """After Later on a project, the session journals into an autosave of its own; once a save
    holds its edits that autosave is empty, and closing the window must not leave it behind to
    be scanned (and its lock held) until the next start."""
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    project = tmp_path / "later.ugpcl"
    save_and_wait(qtbot, window, project)
    window.ws.editor.dab("z", 1, (5.0, 5.0))
    crash(window)

    second = second_window(qtbot)
    dialogs_log["recover_answers"] += [dialogs.LATER]
    open_and_wait(qtbot, second, lambda: second.files.open_paths([project]))
    second.ws.editor.dab("z", 8, (5.0, 5.0))
    own = second.ws.journal.path
    assert own.parent == autosave_folder
    save_and_wait(qtbot, second, project)
    assert second.close()
    assert not own.exists(), "an empty autosave outlived its window"
    assert second.ws.keeper.journal is None


def test_discard_then_a_failed_open_keeps_the_edits_journaled(
    qtbot, window, small_image: Path, dialogs_log, tmp_path: Path
) -> None:
    """Discard answers "drop my edits for the file I am opening": when that file cannot be
    opened (or the open is cancelled), the document stays on screen with its edits, so its
    crash journal must stay too, and go on recording (it was deleted at the answer)."""
    from ugpcl_engine import journal_has_records

    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    window.ws.editor.dab("z", 3, (12.0, 12.0))
    journal = window.ws.journal.path
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes(b"not an image")
    window.files.open_paths([bad])
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert dialogs_log["unsaved"] and dialogs_log["errors"]  # asked, then could not open
    assert window.ws.doc is not None and window.ws.doc.modified
    assert journal.exists() and journal_has_records(journal)
    size = journal.stat().st_size
    window.ws.editor.dab("z", 4, (12.0, 12.0))  # later strokes are still journaled
    assert journal.stat().st_size > size

    # a successful open after Discard drops the old edits, as asked
    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    assert len(dialogs_log["unsaved"]) == 2
    assert not journal.exists() or not journal_has_records(journal)


def test_recovery_does_not_wire_the_window_to_the_document_twice(
    qtbot, window, small_image: Path, dialogs_log
) -> None:
    """Recovering replays the journal into the document already shown and announces it again:
    the window, the views and the assist loop must not connect their handlers a second time
    (each stroke was handled twice; a failing journal showed two "Autosave stopped" boxes)."""
    from app.ui.assist import install_assist

    open_and_wait(qtbot, window, lambda: window.files.open_paths([small_image]))
    window.ws.editor.dab("z", 3, (12.0, 12.0))
    crash(window)

    def slots(win) -> dict[str, int]:
        doc = win.ws.doc
        signals = ("labels_changed", "marks_changed", "table_changed", "modified_changed")
        counts = {name: len(getattr(doc, name)._slots) for name in signals}
        counts["journal_failed"] = len(win.ws.editor.journal_failed._slots)
        return counts

    plain = second_window(qtbot)
    install_assist(plain, runs_root=Path(small_image).parent / "runs-a")
    open_and_wait(qtbot, plain, lambda: plain.files.open_files([small_image]))
    recovered = second_window(qtbot)
    install_assist(recovered, runs_root=Path(small_image).parent / "runs-b")
    open_and_wait(qtbot, recovered, recovered.files.reopen_crashed_project)
    assert recovered.ws.doc.modified  # the stroke came back
    assert slots(recovered) == slots(plain)
    for win in (plain, recovered):
        win.ws.doc.modified = False
        win.assist.supervisor.shutdown(2)
