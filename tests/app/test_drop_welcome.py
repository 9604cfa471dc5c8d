"""Dropping files on the main window opens them; the welcome panel shows while nothing is open."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from app.ui.drop import dropped_paths


def mime_for(*paths: Path | str) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) if isinstance(p, Path) else QUrl(p) for p in paths])
    return mime


def drop_on(window, mime: QMimeData) -> tuple[bool, bool]:
    """Drag ``mime`` over the window and drop it; returns (enter accepted, drop accepted)."""
    pos = QPoint(window.width() // 2, window.height() // 2)
    copy = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0))
    QApplication.sendEvent(window, enter)
    drop = QDropEvent(QPointF(pos), copy, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0))
    QApplication.sendEvent(window, drop)
    return enter.isAccepted(), drop.isAccepted()


def write_labels(path: Path, like: Path) -> Path:
    from ugpcl_engine.io.volume_files import read_volume, write_array

    volume = read_volume(like)
    labels = np.zeros(volume.image_zyx.shape, np.uint8)
    labels[5, 12:20, 12:20] = 1
    write_array(path, labels, volume.geometry)
    return path


def test_dropped_image_and_labels_open_as_on_the_command_line(
    qtbot, window, small_image: Path, tmp_path: Path
) -> None:
    labels = write_labels(tmp_path / "small_label.nii.gz", small_image)
    assert window.centre.stack.currentWidget() is window.centre.panel
    entered, dropped = drop_on(window, mime_for(small_image, labels))
    assert entered and dropped
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)
    doc = window.ws.doc
    assert len(doc.items) == 1  # the second file became the first one's labels
    assert doc.labels_zyx[5, 15, 15] == 1
    assert window.centre.stack.currentWidget() is window.centre.views  # the panel gave way
    assert str(small_image.absolute()) in window.files.recent.paths()[0]


def test_dropping_asks_about_unsaved_changes_first(
    qtbot, window, small_image: Path, dialogs_log
) -> None:
    window.files.open_paths([small_image])
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)
    first = window.ws.doc
    first.modified = True
    drop_on(window, mime_for(small_image))
    assert dialogs_log["unsaved"] == [first.title]  # (the recorder answers Discard)
    qtbot.waitUntil(lambda: window.ws.doc is not first, timeout=10000)


def test_a_dropped_unsupported_file_gives_the_usual_message(
    qtbot, window, tmp_path: Path, dialogs_log
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    drop_on(window, mime_for(notes))
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert "notes.txt" in dialogs_log["errors"][0]
    assert window.ws.doc is None
    assert window.centre.stack.currentWidget() is window.centre.panel


def test_web_links_are_refused_and_open_nothing(window, dialogs_log) -> None:
    entered, dropped = drop_on(window, mime_for("https://example.org/ct.nii.gz"))
    assert not entered and not dropped
    assert window.files.tasks.busy() is False
    assert window.ws.doc is None and not dialogs_log["errors"]


def test_dropped_paths_keep_the_drag_order(tmp_path: Path) -> None:
    a, b = tmp_path / "z_image.nii.gz", tmp_path / "a_label.nii.gz"
    assert dropped_paths(mime_for(a, b)) == [a, b]
    assert dropped_paths(QMimeData()) == []


def test_welcome_panel_buttons_and_recent_files(
    qtbot, window, small_image: Path, monkeypatch
) -> None:
    panel = window.centre.panel
    assert panel.isVisible()
    assert set(panel.buttons) == {"Open volume…", "Open DICOM folder…", "Open sample"}
    assert not panel.recent.isVisible()  # no recent files yet
    asked = []
    monkeypatch.setattr(window.files, "ask_open", lambda: asked.append("open"))
    monkeypatch.setattr(window.files, "ask_open_folder", lambda: asked.append("folder"))
    panel.buttons["Open volume…"].click()
    panel.buttons["Open DICOM folder…"].click()
    assert asked == ["open", "folder"]
    panel.buttons["Open sample"].click()
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)
    assert not panel.isVisible()
    # a file opened once is listed; clicking it opens it again
    window.files.open_paths([small_image])
    qtbot.waitUntil(lambda: window.ws.doc.title.startswith("small"), timeout=10000)
    assert panel.recent.count() == 1
    assert panel.recent.item(0).text() == "small.nii.gz"
    sample = window.ws.doc
    window.files.open_sample()
    qtbot.waitUntil(lambda: window.ws.doc is not sample, timeout=10000)
    opened = window.ws.doc
    item = panel.recent.item(0)
    panel.recent.itemClicked.emit(item)
    qtbot.waitUntil(lambda: window.ws.doc is not opened, timeout=10000)
    assert window.ws.doc.title.startswith("small")


def test_file_close_asks_then_brings_the_welcome_panel_back(
    qtbot, window, small_image: Path, dialogs_log, monkeypatch
) -> None:
    """File › Close (Ctrl+W): Cancel keeps the document; Discard drops its edits and their
    autosave, and the start panel takes the views' place; opening again works."""
    from PySide6.QtWidgets import QMessageBox

    from app.ui import dialogs

    window.files.open_paths([small_image])
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)
    assert not window.centre.panel.isVisible() and window.views["z"].isVisible()
    window.ws.editor.dab("z", 3, (12.0, 12.0))
    journal = window.ws.journal.path
    close = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}["Close"]
    assert close.shortcut().toString() == "Ctrl+W"
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *_: QMessageBox.StandardButton.Cancel)
    close.trigger()
    assert window.ws.doc is not None and window.ws.doc.modified and journal.exists()
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *_: QMessageBox.StandardButton.Discard)
    close.trigger()
    assert window.ws.doc is None and window.ws.editor is None and not journal.exists()
    assert window.centre.panel.isVisible() and not window.views["z"].isVisible()
    assert window.windowTitle() == "ugpcl-studio" and len(window.ws.undo) == 0
    close.trigger()  # nothing open: nothing asked, nothing happens
    window.files.open_paths([small_image])
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)
    assert not window.centre.panel.isVisible() and window.ws.editor is not None
