"""File › Open DICOM…: scan a folder tree off the GUI thread, then pick one series to open.

``DicomOpener`` runs the scan (``app.jobs.dicom_scan``) with a progress dialog that counts the
files read and can cancel, then shows ``DicomBrowser``: patients, their studies (date,
description) and series (number, description, modality, slices) in one tree. The chosen
series opens through its first file: the engine reads a DICOM slice file as its whole series
(the files of its SeriesInstanceUID in its folder), so the recent list and crash recovery
reopen exactly that series.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QProgressDialog,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.jobs.dicom_scan import DicomScanTask
from app.jobs.tasks import TaskRunner
from ugpcl_engine import DicomScan, DicomSeriesEntry

COLUMNS = ("Patient / study / series", "ID / date / folder", "Description", "Modality", "Slices")
_ENTRY = Qt.ItemDataRole.UserRole


def _person(name: str) -> str:
    return name.replace("^", " ").strip() or "(no name)"


class DicomBrowser(QDialog):
    """The series of a scan as a patient › study › series tree; Open (or a double click on a
    series) accepts the selected series.

    Args:
        scan: what the scan found (its series already sorted).
        parent: dialog parent.
    """

    def __init__(self, scan: DicomScan, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scan = scan
        self.setWindowTitle(f"Open DICOM series — {scan.folder.name or scan.folder}")
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.series_items: list[QTreeWidgetItem] = []
        self._fill()
        self.tree.expandAll()
        for column in range(len(COLUMNS)):
            self.tree.resizeColumnToContents(column)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.tree.itemSelectionChanged.connect(self._selection_changed)
        self.summary = QLabel(f"{scan.folder}: {scan.summary()}.")
        self.summary.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.open_button = buttons.button(QDialogButtonBox.StandardButton.Open)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addWidget(self.summary)
        layout.addWidget(buttons)
        self.resize(760, 420)
        if scan.series:
            self.select(default_series(scan))
        self._selection_changed()

    def _fill(self) -> None:
        patients: dict[tuple[str, str], QTreeWidgetItem] = {}
        studies: dict[tuple[str, str, str], QTreeWidgetItem] = {}
        for entry in self.scan.series:
            key = (entry.patient_name, entry.patient_id)
            if key not in patients:
                patients[key] = QTreeWidgetItem(
                    self.tree, [_person(entry.patient_name), entry.patient_id]
                )
            study_key = (*key, entry.study_uid)
            if study_key not in studies:
                text = ["Study", entry.study_date_text or "(no date)", entry.study_description]
                studies[study_key] = QTreeWidgetItem(patients[key], text)
            number = "?" if entry.series_number is None else str(entry.series_number)
            where = (
                entry.folder.relative_to(self.scan.folder)
                if entry.folder.is_relative_to(self.scan.folder)
                else entry.folder
            )
            item = QTreeWidgetItem(
                studies[study_key],
                [
                    f"Series {number}",
                    str(where) if str(where) != "." else "",
                    entry.series_description or "(no description)",
                    entry.modality or "?",
                    str(entry.slices),
                ],
            )
            item.setData(0, _ENTRY, len(self.series_items))
            item.setToolTip(0, entry.series_uid)
            self.series_items.append(item)

    def _entry(self, item: QTreeWidgetItem | None) -> DicomSeriesEntry | None:
        index = None if item is None else item.data(0, _ENTRY)
        return None if index is None else self.scan.series[int(index)]

    def chosen(self) -> DicomSeriesEntry | None:
        """The selected series, or None when a patient or study row (or nothing) is selected."""
        return self._entry(self.tree.currentItem())

    def select(self, entry: DicomSeriesEntry) -> None:
        """Select the row of ``entry``."""
        for item in self.series_items:
            if self._entry(item) == entry:
                self.tree.setCurrentItem(item)

    def _selection_changed(self) -> None:
        self.open_button.setEnabled(self.chosen() is not None)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        if self._entry(item) is not None:
            self.tree.setCurrentItem(item)
            self.accept()

    def accept(self) -> None:
        """Close with the selected series (ignored while no series row is selected)."""
        if self.chosen() is not None:
            super().accept()


def default_series(scan: DicomScan) -> DicomSeriesEntry:
    """The series preselected: the largest (the main acquisition rather than a scout), the
    first of the sorted list among equals. The scan must hold a series."""
    return max(scan.series, key=lambda entry: entry.slices)


def ask_series_unattended(_parent: QWidget | None, scan: DicomScan) -> DicomSeriesEntry:
    """``ask_series`` for unattended runs (``--screenshot``): the preselected series."""
    return default_series(scan)


def ask_series(parent: QWidget | None, scan: DicomScan) -> DicomSeriesEntry | None:
    """Show the browser modally; the series chosen, or None when cancelled."""
    dialog = DicomBrowser(scan, parent)
    try:
        return dialog.chosen() if dialog.exec() == QDialog.DialogCode.Accepted else None
    finally:
        dialog.deleteLater()


class DicomOpener(QObject):
    """Scan a folder for DICOM series in the background and open the series the user picks.

    Args:
        window: dialog parent.
        tasks: the window's task runner.
        open_files: opens paths as a document (``FileActions.open_files``): (paths, remember).
        message: status-bar text.
        failed: shows an error: (title, message).
    """

    def __init__(
        self,
        window: QWidget,
        tasks: TaskRunner,
        open_files: Callable[[list[str], bool], None],
        message: Callable[[str], None],
        failed: Callable[[str, str], None],
    ) -> None:
        super().__init__(window)
        self.window, self.tasks = window, tasks
        self._open_files, self._message, self._failed = open_files, message, failed
        self.progress: QProgressDialog | None = None

    def open_folder(
        self, folder: Path, *, always_ask: bool, remember: bool = True
    ) -> DicomScanTask:
        """Scan ``folder`` and open a series of it.

        Args:
            folder: the folder (scanned recursively, headers only).
            always_ask: show the browser even for a single series (File › Open DICOM…); when
                False (a folder dropped, given on the command line or reopened) a dataset
                folder opens as a dataset, a single series opens at once and the browser
                comes only when there is a choice to make.
            remember: add what is opened to the recent list.

        Returns:
            The scan task started.
        """
        task = DicomScanTask(folder, datasets_too=not always_ask)
        self._show_progress(task)
        signals = task.signals

        def fresh() -> bool:  # a scan replaced by a newer one must not touch the newer's dialog
            return self.tasks.current(task.kind) is task

        signals.progress.connect(lambda done, total: fresh() and self._progressed(done, total))
        signals.finished.connect(
            lambda scan: fresh() and self._scanned(folder, scan, always_ask, remember)
        )
        signals.failed.connect(
            lambda msg: fresh() and (self._done() or self._failed("Cannot scan folder", msg))
        )
        signals.cancelled.connect(
            lambda: fresh() and (self._done() or self._message("DICOM scan cancelled."))
        )
        self._message(f"Reading DICOM headers under {folder}…")
        self.tasks.start(task)
        return task

    def _show_progress(self, task: DicomScanTask) -> None:
        self._done()
        dialog = QProgressDialog("Reading DICOM headers…", "Cancel", 0, 0, self.window)
        dialog.setWindowTitle("Open DICOM")
        dialog.setMinimumDuration(500)  # a quick scan shows no dialog at all
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.canceled.connect(task.cancel)
        self.progress = dialog

    def _progressed(self, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress.setMaximum(total)
            self.progress.setValue(done)
            self.progress.setLabelText(f"{done} files read of {total}")

    def _done(self) -> None:
        if self.progress is not None:
            self.progress.canceled.disconnect()
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None

    def _scanned(
        self, folder: Path, scan: DicomScan | None, always_ask: bool, remember: bool
    ) -> None:
        self._done()
        if scan is None:  # a dataset folder
            self._open_files([str(folder)], remember)
            return
        if not scan.series:
            self._failed(
                "No DICOM series",
                f"No DICOM series found under {folder} ({scan.summary()}). Choose the folder "
                "that holds the .dcm files, or open a NIfTI/NRRD/MHA file instead.",
            )
            return
        self._message(f"Found {scan.summary()}.")
        chosen = scan.series[0] if len(scan.series) == 1 and not always_ask else None
        if chosen is None:
            chosen = ask_series(self.window, scan)
        if chosen is not None:
            self._open_files([str(chosen.files[0])], remember)
