"""File › Open DICOM…: the series browser, folder and single-file opens, the two-series folder,
the header window and the presets offered by modality (pytest-qt, offscreen)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from dicom_tree import SeriesSpec, make_tree, ramp, write_series
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPushButton

from app.state.view_state import AUTO_PRESET, CT_PRESETS
from app.state.window_presets import HEADER_PRESET, MR_PRESETS
from app.ui import dicom_browser
from app.ui.dicom_browser import DicomBrowser
from ugpcl_engine import CancelledError, DicomScan, DicomSeriesEntry, scan_dicom_folder


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree")


@pytest.fixture
def picks(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """Replace the modal browser: the real dialog is built, the series whose description is
    ``picks["pick"]`` is selected and Open is pressed; the scans shown are recorded."""
    record: dict[str, object] = {"pick": None, "scans": []}

    def ask(parent: object, scan: DicomScan) -> DicomSeriesEntry | None:
        record["scans"].append(scan)  # type: ignore[union-attr]
        dialog = DicomBrowser(scan, parent)  # type: ignore[arg-type]
        for entry in scan.series:
            if entry.series_description == record["pick"]:
                dialog.select(entry)
        dialog.accept()
        chosen = dialog.chosen() if dialog.result() == QDialog.DialogCode.Accepted else None
        dialog.deleteLater()
        return chosen

    monkeypatch.setattr(dicom_browser, "ask_series", ask)
    return record


def _wait_open(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.ws.doc is not None, timeout=10000)


def _column(item, column: int) -> list[str]:
    return [item.child(k).text(column) for k in range(item.childCount())]


def test_browser_lists_patients_studies_series_and_opens_on_double_click(qtbot, tree) -> None:
    scan = scan_dicom_folder(tree)
    dialog = DicomBrowser(scan)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    top = [dialog.tree.topLevelItem(k) for k in range(dialog.tree.topLevelItemCount())]
    assert [(p.text(0), p.text(1)) for p in top] == [("Doe Jane", "P1"), ("Roe Richard", "P2")]
    (head,) = [top[0].child(k) for k in range(top[0].childCount())]
    assert (head.text(1), head.text(2)) == ("2024-01-31", "Head")
    assert _column(head, 0) == ["Series 1", "Series 2", "Series 3"]
    assert _column(head, 2) == ["T1", "T2", "FLAIR"]
    assert _column(head, 3) == ["MR", "MR", "MR"]
    assert _column(head, 4) == ["4", "4", "3"]
    assert head.child(2).text(1) == str(Path("study_mr") / "extra")
    assert _column(top[1].child(0), 3) == ["CT"]
    assert "skipped 1 not DICOM, 1 unreadable" in dialog.summary.text()
    # the largest series is preselected; a study row cannot be opened
    assert dialog.chosen() is not None and dialog.chosen().series_description == "T1"
    assert dialog.open_button.isEnabled()
    dialog.tree.setCurrentItem(head)
    assert dialog.chosen() is None and not dialog.open_button.isEnabled()
    t2 = head.child(1)
    dialog.tree.scrollToItem(t2)
    where = dialog.tree.visualItemRect(t2).center()
    viewport = dialog.tree.viewport()
    # QTest's double click alone skips the press that Qt's views expect before it
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, pos=where)
    assert dialog.chosen() == scan.series[1]
    qtbot.mouseDClick(viewport, Qt.MouseButton.LeftButton, pos=where)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert dialog.chosen() == scan.series[1]


def test_open_dicom_scans_and_opens_the_picked_series(qtbot, window, tree, picks) -> None:
    picks["pick"] = "FLAIR"
    window.files.dicom.open_folder(tree, always_ask=True)
    _wait_open(qtbot, window)
    (scan,) = picks["scans"]
    assert len(scan.series) == 4 and scan.unreadable == 1 and scan.not_dicom == 1
    volume = window.ws.doc.item.volume
    assert volume.image_zyx.shape == (3, 8, 8)
    assert np.array_equal(volume.image_zyx[:, 0, 0], [300, 301, 302])
    flair = tree / "study_mr" / "extra" / "img_000.dcm"
    assert window.files.recent.paths()[0] == [str(flair)]
    assert window.ws.doc.origin.paths == (str(flair),)  # recovery reopens this series


def test_cancelled_browser_opens_nothing(qtbot, window, tree, monkeypatch) -> None:
    shown: list[DicomScan] = []

    def cancel(_parent: object, scan: DicomScan) -> None:
        shown.append(scan)  # the user closes the browser with Cancel

    monkeypatch.setattr(dicom_browser, "ask_series", cancel)
    window.files.dicom.open_folder(tree, always_ask=True)
    # the runner's bookkeeping slot may run just after the browser's (queued, one by one)
    qtbot.waitUntil(lambda: bool(shown) and not window.files.tasks.busy(), timeout=10000)
    assert window.ws.doc is None


def test_folder_with_two_series_of_one_grid_offers_the_browser(
    qtbot, window, tmp_path, picks, dialogs_log
) -> None:
    """Before, opening such a folder (dropped, recent, command line) only showed the error
    "2 DICOM series of the same size; choose one by its UID"; now the user picks one."""
    folder = tmp_path / "two"
    write_series(folder, ramp(100), SeriesSpec(description="T1", number=1, prefix="a"))
    write_series(folder, ramp(200), SeriesSpec(description="T2", number=2, prefix="b"))
    picks["pick"] = "T2"
    window.files.open_paths([folder])
    _wait_open(qtbot, window)
    assert dialogs_log["errors"] == []
    assert [s.series_description for s in picks["scans"][0].series] == ["T1", "T2"]
    assert np.array_equal(window.ws.doc.item.volume.image_zyx[:, 0, 0], [200, 201, 202, 203])


def test_folder_with_one_series_opens_without_asking(qtbot, window, tmp_path, picks) -> None:
    files = write_series(tmp_path / "one" / "deeper", ramp(7), SeriesSpec(description="only"))
    window.files.open_paths([tmp_path / "one"])
    _wait_open(qtbot, window)
    assert picks["scans"] == []
    assert window.ws.doc.item.volume.image_zyx.shape == (4, 8, 8)
    assert window.ws.doc.item.source_path == files[0]


def test_folder_without_dicom_says_so(qtbot, window, tmp_path, dialogs_log) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "readme.txt").write_text("x")
    window.files.dicom.open_folder(tmp_path / "plain", always_ask=True)
    qtbot.waitUntil(lambda: bool(dialogs_log["errors"]), timeout=10000)
    assert "No DICOM series found" in dialogs_log["errors"][0]
    assert "1 not DICOM" in dialogs_log["errors"][0]
    assert window.ws.doc is None


def test_scan_shows_files_read_and_cancels(qtbot, window, tree, monkeypatch) -> None:
    from app.jobs import dicom_scan

    def slow_scan(folder, *, progress, is_cancelled):
        progress(3, 10)
        while not is_cancelled():
            threading.Event().wait(0.01)
        raise CancelledError("cancelled")

    monkeypatch.setattr(dicom_scan, "scan_dicom_folder", slow_scan)
    messages: list[str] = []
    window.files.message.connect(messages.append)
    window.files.dicom.open_folder(tree, always_ask=True)
    progress = window.files.dicom.progress
    assert progress is not None
    qtbot.waitUntil(lambda: progress.labelText() == "3 files read of 10", timeout=10000)
    qtbot.mouseClick(progress.findChild(QPushButton), Qt.MouseButton.LeftButton)  # Cancel
    qtbot.waitUntil(lambda: "DICOM scan cancelled." in messages, timeout=10000)
    assert window.files.dicom.progress is None and window.ws.doc is None


def test_one_slice_file_opens_its_series(qtbot, window, tree) -> None:
    window.files.open_paths([tree / "study_mr" / "b_002.dcm"])
    _wait_open(qtbot, window)
    assert np.array_equal(window.ws.doc.item.volume.image_zyx[:, 0, 0], [200, 201, 202, 203])


def _presets(window) -> list[str]:
    combo = window.tool_panel.preset
    return [combo.itemText(k) for k in range(1, combo.count()) if combo.itemText(k)]


def test_header_window_is_the_first_window_and_ct_presets_come_first(qtbot, window, tree) -> None:
    window.files.open_paths([tree / "study_ct" / "img_000.dcm"])
    _wait_open(qtbot, window)
    assert window.ws.view.window == (50.0, 350.0)
    names = _presets(window)
    assert names[0] == HEADER_PRESET
    assert names[1 : 1 + len(CT_PRESETS)] == list(CT_PRESETS)
    assert set(MR_PRESETS) <= set(names) and AUTO_PRESET in names
    window.apply_preset("CT lung")
    assert window.ws.view.window == CT_PRESETS["CT lung"]
    window.apply_preset(HEADER_PRESET)
    assert window.ws.view.window == (50.0, 350.0)


def test_mr_series_gets_mr_presets_first(qtbot, window, tree) -> None:
    window.files.open_paths([tree / "study_mr" / "a_000.dcm"])
    _wait_open(qtbot, window)
    names = _presets(window)
    assert names[: 1 + len(MR_PRESETS)] == [AUTO_PRESET, *MR_PRESETS]
    assert names[-len(CT_PRESETS) :] == list(CT_PRESETS) and HEADER_PRESET not in names
    window.apply_preset("MR wide (0.5–99.9 %)")
    low, high = window.ws.view.levels()
    assert 100 <= low < high <= 103  # within the volume's 100..103 intensities


def test_dicom_seg_export_of_a_series_opened_by_one_file(tmp_path: Path) -> None:
    """The document's source is then a slice file: the export finds the whole series."""
    import pydicom

    from app.state.files import export_labels, load_paths
    from ugpcl_engine import LabelMap, VolumeGeometry
    from ugpcl_engine.io.dicom_series import write_dicom_series

    image = np.arange(4 * 8 * 8, dtype=np.int16).reshape(4, 8, 8)
    files = write_dicom_series(image, VolumeGeometry(image.shape, (2.0, 1.0, 1.0)), tmp_path / "s")
    doc = load_paths([files[2]])
    item = doc.item
    assert item.source_path == files[2] and item.volume.image_zyx.shape == (4, 8, 8)
    labels = np.zeros((4, 8, 8), np.uint8)
    labels[1:3, 2:5, 2:5] = 1
    label_map = LabelMap(labels, item.volume.geometry, item.labels.table)
    out = export_labels(tmp_path / "seg.dcm", label_map, item.source_path, item.volume.geometry)
    seg = pydicom.dcmread(out)
    assert seg.Modality == "SEG"
    referenced = {
        r.ReferencedSOPInstanceUID
        for r in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence
    }
    assert referenced == {str(pydicom.dcmread(f).SOPInstanceUID) for f in files}


def test_a_second_scan_keeps_its_progress_when_the_first_is_replaced(
    qtbot, window, tree, monkeypatch
) -> None:
    from app.jobs import dicom_scan

    def slow_scan(folder, *, progress, is_cancelled):
        progress(3, 10)
        while not is_cancelled():
            threading.Event().wait(0.01)
        raise CancelledError("cancelled")

    monkeypatch.setattr(dicom_scan, "scan_dicom_folder", slow_scan)
    messages: list[str] = []
    window.files.message.connect(messages.append)
    opener = window.files.dicom
    first = opener.open_folder(tree, always_ask=True)
    replaced: list[bool] = []
    first.signals.cancelled.connect(lambda: replaced.append(True))
    opener.open_folder(tree / "study_mr", always_ask=True)  # a folder dropped meanwhile
    second_progress = opener.progress
    # the opener's slots were connected first: they have run when this one runs
    qtbot.waitUntil(lambda: bool(replaced), timeout=10000)
    # the replaced scan neither closed the second's dialog nor said "cancelled"
    assert opener.progress is second_progress and second_progress is not None
    assert "DICOM scan cancelled." not in messages
    qtbot.mouseClick(second_progress.findChild(QPushButton), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "DICOM scan cancelled." in messages, timeout=10000)
    assert opener.progress is None and window.ws.doc is None
