"""File › Open / Save / Export / Recent, the unsaved-changes guard and crash recovery.

Loading and saving run on the window's task runner (``app.jobs.tasks``); the workspace changes
only when a task has fully succeeded, so a failed open or save leaves the document as it was.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, QStandardPaths, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.jobs.tasks import Task, TaskRunner
from app.state.autosave import (
    PendingRecovery,
    discard_pending,
    find_autosaves,
    pending_for_project,
)
from app.state.document import Document, VolumeItem
from app.state.files import (
    PROJECT_SUFFIX,
    export_labels,
    load_added_volumes,
    load_dataset,
    load_origin,
    load_paths,
    load_sample,
    project_file,
    save_snapshot,
    snapshot,
)
from app.state.recent import RecentFiles
from app.state.workspace import SavePoint, Workspace
from app.ui import dataset_dialog, dialogs
from app.ui.dicom_browser import DicomOpener
from app.ui.segmentation_menu import SegmentationOpener
from app.ui.settings import SETTINGS_DIR_ENV, dialog_folder, remember_folder
from ugpcl_engine import InputError, LabelMap, dataset_summary

IMAGE_FILTER = (
    "Images and projects (*.nii *.nii.gz *.nrrd *.mha *.mhd *.dcm *.ugpcl);;"
    "Projects (*.ugpcl);;All files (*)"
)
EXPORT_FILTER = "Segmentation (*.seg.nrrd *.nii.gz *.nii *.nrrd *.mha);;DICOM-SEG (*.dcm)"

SAVE_WAIT_S = 60.0  # how long a synchronous save waits for a background one to end

log = logging.getLogger(__name__)


def recent_store() -> RecentFiles:
    """The recent-files list in the user's settings folder (``UGPCL_STUDIO_SETTINGS_DIR``
    when set, as the settings file: tests and screenshot runs never touch the user's)."""
    chosen = os.environ.get(SETTINGS_DIR_ENV)
    if chosen:
        return RecentFiles(Path(chosen) / "recent.json")
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppConfigLocation)
    return RecentFiles(Path(folder or Path.home() / ".config" / "ugpcl-studio") / "recent.json")


def _is_folder(path: Path) -> bool:
    """True for a folder; False also when the system will not say (a recent file behind a
    folder the user may no longer enter: the read then says what is wrong)."""
    try:
        return path.is_dir()
    except OSError:
        return False


class FileActions(QObject):
    """Open, save and export for one main window.

    Args:
        workspace: the state to fill.
        parent: the main window (dialog parent).
        tasks: the window's task runner (reads and writes run there).

    Signals:
        opened(): a document was set on the workspace.
        saved(str): the project was written to that path.
        recent_changed(): the recent list changed.
        message(str): status-bar text.
    """

    opened = Signal()
    saved = Signal(str)
    recent_changed = Signal()
    message = Signal(str)

    def __init__(self, workspace: Workspace, parent: QWidget, tasks: TaskRunner) -> None:
        super().__init__(parent)
        self.ws = workspace
        self.window = parent
        self.tasks = tasks
        self.recent = recent_store()
        self._saving: Path | None = None  # the file of the last save started
        self.dicom = DicomOpener(parent, tasks, self.open_files, self.message.emit, self._failed)
        self.segmentations = SegmentationOpener(workspace, parent, tasks, self.message.emit)

    # -- opening -----------------------------------------------------------------------------
    def open_paths(self, paths: Sequence[str | Path], remember: bool = True) -> None:
        """Open files (or one project) in the background, replacing the document on success.

        One folder is scanned first (``DicomOpener``): a dataset opens as a dataset, a single
        DICOM series opens, several offer the series browser.
        """
        if len(paths) == 1 and _is_folder(Path(paths[0])):
            self.dicom.open_folder(Path(paths[0]).absolute(), always_ask=False, remember=remember)
            return
        self.open_files(paths, remember)

    def open_files(self, paths: Sequence[str | Path], remember: bool = True) -> None:
        """Open files, a DICOM folder or one project in the background, as they are."""
        entry = [str(Path(p).absolute()) for p in paths]
        self._load(
            lambda task: load_paths(entry, task.report_progress, task.is_cancelled),
            entry if remember else None,
            f"Opening {Path(entry[0]).name if entry else ''}…",
        )

    def open_sample(self) -> None:
        """Open the bundled chest CT with labels on three axial slices."""
        self._load(lambda _task: load_sample(), None, "Opening the sample chest CT…")

    def _load(
        self,
        work: Callable[[Task], Document],
        entry: list[str] | None,
        text: str,
        recovery: PendingRecovery | None = None,
    ) -> None:
        answer = self._answer_unsaved()
        if answer is None:
            return
        # Discard drops the edits only once the new document replaces them: a failed or
        # cancelled open leaves the old one on screen, still modified and still journaled
        discard = answer == "discard"
        self.message.emit(text)
        log.info("%s%s", text, f" {entry}" if entry else "")
        kept = " The unsaved edits are kept for the next start." if recovery else ""
        self.tasks.submit_read(  # Cancel stops between files or drops the result
            "open",
            work,
            lambda doc: self._opened(doc, entry, recovery, discard),
            lambda msg: self._failed("Cannot open", msg + kept),
            lambda: self._note("Opening cancelled; nothing was changed."),
        )

    def _opened(
        self,
        doc: Document,
        entry: list[str] | None,
        recovery: PendingRecovery | None,
        discard: bool = False,
    ) -> None:
        try:  # Discard (asked before the read): the old edits go once the new one is shown
            self.ws.set_document(doc, recovery, discard_previous=discard)
        except InputError as err:  # e.g. the journal beside the project cannot be created
            self._failed("Cannot open", str(err))
            return
        if entry:
            self.recent.add(entry)
            self.recent_changed.emit()
        if recovery is not None:  # the user chose Recover before it was opened
            self._decide(dialogs.RECOVER)
        elif self.ws.pending is not None:
            self._decide(dialogs.ask_recover(self.window, self.ws.pending.describe()))
        self.message.emit(f"Opened {doc.title}")
        log.info("opened %s", doc.title)
        self.opened.emit()

    def reopen_crashed_project(self) -> bool:
        """At start: offer each journal a session left unsaved (autosaves of unsaved documents
        and the last project's journal), newest first: Recover opens it and replays the
        edits, Discard deletes them, Later keeps them for the next start.

        Returns:
            True when a document is being opened to recover its edits.
        """
        for pending in self._left_behind():
            choice = dialogs.ask_recover(self.window, pending.describe())
            if choice == dialogs.RECOVER:
                self._load(
                    lambda _task, p=pending: load_origin(p.origin),
                    None,
                    f"Recovering {pending.title}…",
                    pending,
                )
                return True
            if choice == dialogs.DISCARD:
                try:
                    discard_pending(pending)
                except InputError as err:
                    self._failed("Cannot discard", str(err))
        return False

    def _left_behind(self) -> list[PendingRecovery]:
        found = find_autosaves()
        for entry in self.recent.paths()[:1]:
            path = Path(entry[0])
            if len(entry) == 1 and path.name.endswith(PROJECT_SUFFIX):
                pending = pending_for_project(path)
                found += [pending] if pending is not None else []
        return found

    def _decide(self, choice: str) -> None:
        """Carry out the user's answer about the open document's pending journal."""
        try:
            if choice == dialogs.RECOVER:
                count = self.ws.recover()
                self.message.emit(f"Recovered {count} edits; save to keep them.")
            elif choice == dialogs.DISCARD:
                self.ws.discard_recovery()
            else:
                self.ws.postpone_recovery()
        except InputError as err:
            self.ws.postpone_recovery()
            self._failed("Cannot recover", f"{err} The journal was kept.")

    def _failed(self, title: str, message: str) -> None:
        log.warning("%s: %s", title, message)
        self.message.emit(message)
        dialogs.show_error(self.window, title, message)

    def _note(self, message: str) -> None:
        log.info("%s", message)
        self.message.emit(message)

    # -- adding volumes ----------------------------------------------------------------------
    def add_volume_paths(self, paths: Sequence[str | Path]) -> None:
        """Read images in the background and add them to the open document, showing the first.

        Without an open document this opens them instead. A file that cannot be read shows
        an error and leaves the document as it was.
        """
        doc = self.ws.doc
        if doc is None:
            self.open_paths(paths)
            return
        entry = [str(Path(p).absolute()) for p in paths]
        table = doc.table
        self.message.emit(f"Adding {Path(entry[0]).name if entry else ''}…")
        self.tasks.submit_read(
            "add",
            lambda task: load_added_volumes(entry, table, task.report_progress, task.is_cancelled),
            lambda items: self._added(doc, items),
            lambda msg: self._failed("Cannot add volume", msg),
            lambda: self._note("Adding cancelled; the project is unchanged."),
        )

    def _added(self, doc: Document, items: list[VolumeItem]) -> None:
        if self.ws.doc is not doc:  # another document was opened while the files were read
            self.message.emit("Another document was opened meanwhile; nothing was added.")
            return
        self.ws.add_volumes(items)
        self.message.emit(
            f"Added {len(items)} volume(s); showing {doc.item.volume.name}. Save the project "
            "to keep them."
        )

    def ask_add_volume(self) -> None:
        """File › Add volume to project…: images (each optionally with labels) or a project."""
        files, _ = QFileDialog.getOpenFileNames(
            self.window, "Add volume to project", dialog_folder(), IMAGE_FILTER
        )
        if files:
            remember_folder(files[0])
            self.add_volume_paths(files)

    def ask_open(self) -> None:
        """File › Open: images, a DICOM file or a project."""
        files, _ = QFileDialog.getOpenFileNames(self.window, "Open", dialog_folder(), IMAGE_FILTER)
        if files:
            remember_folder(files[0])
            self.open_paths(files)

    def ask_open_folder(self) -> None:
        """File › Open DICOM…: pick a folder, scan it, choose a series in the browser."""
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open DICOM: choose a folder", dialog_folder()
        )
        if folder:
            remember_folder(folder)
            self.dicom.open_folder(Path(folder), always_ask=True)

    def ask_open_dataset(self) -> None:
        """File › Open dataset folder…: an MSD / nnU-Net or SSL4MIS folder's training cases."""
        folder = QFileDialog.getExistingDirectory(
            self.window, "Open dataset folder", dialog_folder()
        )
        if folder:
            remember_folder(folder)
            self.open_dataset(Path(folder))

    def open_dataset(self, root: Path) -> None:
        """Ask which training cases are labeled, then open the dataset's cases."""
        try:
            summary = dataset_summary(root)
        except InputError as err:
            self._failed("Cannot open", str(err))
            return
        opened, labeled = dataset_dialog.ask_labeled(self.window, summary)
        if not opened:
            return
        if labeled is None:  # the dataset's own labels: the folder alone reopens it so
            self.open_files([root])
            return
        self._load(
            lambda task: load_dataset(root, labeled, task.report_progress, task.is_cancelled),
            None,  # the recent entry would reopen it with the label files' cases
            f"Opening {root.name} with {labeled} labeled…",
        )

    # -- saving ------------------------------------------------------------------------------
    def save(self, path: Path | None = None) -> None:
        """Save the project (asking for a path when it has none)."""
        doc = self.ws.doc
        if doc is None:
            return
        path = path or doc.project_path or self._ask_path()
        if path is None:
            return
        running = self._saving
        target = project_file(path).absolute()
        if self.tasks.busy("save") and running is not None and running != target:
            # a newer save replaces a running one of the same file; one of another file
            # (File › Save as…) would be cancelled without a word, its file never written
            self._failed(
                "Cannot save yet",
                f"{running.name} is still being saved. Wait until that save has finished (the "
                "status bar shows it), then save again.",
            )
            return
        self._saving = target
        snap = snapshot(doc, path)
        point = self.ws.save_point()  # edits made while the file is written stay unsaved
        self.message.emit(f"Saving {path.name}…")
        log.info("saving %s", path)
        self.tasks.submit_checked(  # Cancel stops before the new file replaces the old one
            "save",
            lambda task: save_snapshot(path, snap, task.is_cancelled),
            lambda written: self._saved(doc, written, point),
            lambda msg: self._failed("Cannot save", msg),
            lambda: self._note(f"Saving cancelled; {path.name} was not changed."),
        )

    def save_as(self) -> None:
        """File › Save project as."""
        path = self._ask_path()
        if path is not None:
            self.save(path)

    def _ask_path(self) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(
            self.window, "Save project", dialog_folder(), f"Projects (*{PROJECT_SUFFIX})"
        )
        if name:
            remember_folder(name)
        return Path(name) if name else None

    def _saved(self, doc: Document, path: Path, point: SavePoint) -> None:
        try:
            if self.ws.doc is doc:  # not a document opened while this one was written
                self.ws.saved(path, point)
        except InputError as err:
            self._failed("Autosave journal", str(err))
        self.recent.add([str(path.absolute())])
        self.recent_changed.emit()
        self.message.emit(f"Saved {path}")
        log.info("saved %s", path)
        self.saved.emit(str(path))

    def export(self, path: Path | None = None) -> None:
        """File › Export segmentation (labels of the shown volume, with names and colours)."""
        doc = self.ws.doc
        if doc is None:
            return
        if path is None:
            name, _ = QFileDialog.getSaveFileName(
                self.window,
                "Export segmentation",
                str(Path(dialog_folder()) / f"{doc.item.volume.name}.seg.nrrd"),
                EXPORT_FILTER,
            )
            if not name:
                return
            remember_folder(name)
            path = Path(name)
        item = doc.item
        labels = LabelMap(item.labels.labels_zyx.copy(), item.labels.geometry, item.labels.table)
        target, source, grid = path, item.source_path, item.volume.geometry
        log.info("exporting the segmentation to %s", target)
        self.tasks.submit_checked(  # Cancel stops it before it starts writing
            "export-labels",
            lambda task: export_labels(target, labels, source, grid, task.is_cancelled),
            lambda p: self._note(f"Exported {p}"),
            lambda msg: self._failed("Cannot export", msg),
            lambda: self._note("Export cancelled; nothing was written."),
        )

    # -- guard -------------------------------------------------------------------------------
    def confirm_discard(self) -> bool:
        """Before replacing or closing a modified document: Save, Discard or Cancel.

        Returns:
            True when it is fine to go on (saved synchronously, discarded or not modified).
        """
        answer = self._answer_unsaved()
        if answer == "discard":
            self._drop_edits()
        return answer is not None

    def _answer_unsaved(self) -> str | None:
        """Ask Save, Discard or Cancel about a modified document (saving synchronously on
        Save). Returns None to stop, ``"discard"`` when the user drops the edits (the caller
        drops them), ``"go"`` otherwise (saved, or nothing to save)."""
        doc = self.ws.doc
        if doc is None or not doc.modified:
            return "go"
        answer = dialogs.ask_unsaved(self.window, doc.title)
        if answer == QMessageBox.StandardButton.Cancel:
            return None
        if answer == QMessageBox.StandardButton.Save:
            path = doc.project_path or self._ask_path()
            if path is None or not self._no_save_running():
                return None
            try:
                self.ws.saved(save_snapshot(path, snapshot(doc, path)))
            except InputError as err:
                self._failed("Cannot save", str(err))
                return None
            return "go"
        return "discard" if answer == QMessageBox.StandardButton.Discard else "go"

    def _no_save_running(self) -> bool:
        """Let a background save (Ctrl+S) end before a synchronous one: finishing later, it
        would replace the newer file with its older snapshot. False (after a message) when it
        is still writing after ``SAVE_WAIT_S``."""
        running = self.tasks.current("save")
        if running is None or running.wait_done(SAVE_WAIT_S):
            return True
        self._failed(
            "Cannot save",
            "The project is still being saved in the background. Wait until that save has "
            "finished (or cancel it in the status bar), then try again.",
        )
        return False

    def _drop_edits(self) -> None:
        try:
            self.ws.discard_edits()
        except InputError as err:
            self._failed("Autosave journal", str(err))
