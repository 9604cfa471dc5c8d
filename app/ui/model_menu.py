"""Model › Export ONNX…, Run model on a file… and Run model on project volume… (issue 6).

All of it runs on the window's one task runner (``app.jobs.tasks``): export in a spawned child
(``ExportTask``), inference with onnxruntime on a pool thread (``RunModelTask``,
``RunOnFileTask``): the GUI process never imports torch. "Run on a file" reads the image,
segments it and writes the results beside the chosen output path (segmentation +
``_uncertainty`` volume, on the input image's grid), all on the pool thread. Results of "Run on
project volume" are stored with that volume (``Document.store_prediction``: saved with the
project, shown as that volume's prediction and uncertainty overlay by the assist loop). Every
export is also added to the open project's model records (path and SHA-256, see
``app.state.training_runs``), so the checkpoint → ONNX link outlives the session.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QLabel, QMessageBox

from app.jobs.model_jobs import (
    ExportTask,
    FileRunResult,
    ModelRunResult,
    RunModelTask,
    RunOnFileTask,
)
from app.jobs.tasks import TaskRunner
from app.state.document import Document, VolumeItem
from app.state.training_runs import record_export
from app.ui import dialogs
from app.ui.volume_menu import volume_names
from ugpcl_engine import ExportReport, ProviderReport, TrainingGrid

ONNX_FILTER = "ONNX model (*.onnx)"
IMAGE_FILTER = "Images (*.nii *.nii.gz *.nrrd *.mha *.mhd *.dcm);;All files (*)"


class ModelMenu(QObject):
    """Export and run actions of the Model menu.

    Attributes:
        last_model: the last ONNX file exported, or None.
        exports: checkpoint → ONNX file, for every export of this session (the default model
            of "Run model on project volume…" is the current version's export).

    Signals:
        exported: the ``ExportReport`` of a finished export.
        ran: the written segmentation path of a finished run on a file.
        ran_on_volume: the index of the volume a finished run stored its result with.
        failed: a message (already shown in a dialog unless ``quiet``).
    """

    exported = Signal(object)
    ran = Signal(object)
    ran_on_volume = Signal(int)
    failed = Signal(str)

    def __init__(self, window: Any, tasks: TaskRunner, quiet: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.quiet = quiet
        self.tasks = tasks
        self.last_model: Path | None = None
        self.exports: dict[Path, Path] = {}
        menu = window.menus["Model"]
        menu.addSeparator()
        for text, slot in (
            ("Export ONNX…", self._ask_export),
            ("Run model on a file…", self._ask_run),
            ("Run model on project volume…", self._ask_run_on_volume),
        ):
            action = QAction(text, window)
            action.triggered.connect(slot)
            menu.addAction(action)
        # which onnxruntime provider the last run used (issue 16): menu line + status-bar label
        self.device_action = QAction("Inference device: no model run yet", window)
        self.device_action.triggered.connect(self._show_device)
        menu.addAction(self.device_action)
        self.device_label = QLabel("")
        window.statusBar().addPermanentWidget(self.device_label)
        self.last_device = ""

    # -- export ------------------------------------------------------------------------------
    def _ask_export(self) -> None:
        assist = getattr(self.window, "assist", None)
        version = None if assist is None else assist.session.shown_version
        if version is None:
            self._fail("No trained model yet: press Train first, then export.")
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export ONNX", "model.onnx", ONNX_FILTER)
        if path:
            self.export(version.checkpoint, Path(path))

    def export(self, checkpoint: Path, out: Path) -> ExportTask:
        """Export ``checkpoint`` to ``out`` in a child process (with the parity check)."""
        grid = None
        doc = self.window.ws.doc
        if doc is not None:
            geometry = doc.item.volume.geometry
            grid = TrainingGrid(geometry.shape_zyx, geometry.spacing_zyx)
        task = ExportTask(checkpoint, out, training_grid=grid)
        task.signals.finished.connect(lambda report: self._exported(checkpoint, report, task, doc))
        task.signals.failed.connect(self._fail)
        self.tasks.start(task)
        self._status(f"Exporting {out.name}…")
        return task

    def _exported(
        self, checkpoint: Path, report: ExportReport, task: ExportTask, doc: Document | None
    ) -> None:
        self.last_model = Path(report.path)
        self.exports[Path(checkpoint)] = self.last_model
        # recorded in the document it was exported from only (not one opened meanwhile)
        if doc is not None and self.window.ws.doc is doc:
            version = report.model_version
            record_export(doc.records, Path(checkpoint), self.last_model, task.sha256, version)
            doc.modified = True
        self._status(report.summary())
        self.exported.emit(report)

    # -- run on a file -----------------------------------------------------------------------
    def _ask_run(self) -> None:
        model = self.last_model
        if model is None:
            chosen, _ = QFileDialog.getOpenFileName(self.window, "ONNX model", "", ONNX_FILTER)
            if not chosen:
                return
            model = Path(chosen)
        image, _ = QFileDialog.getOpenFileName(self.window, "Image to segment", "", IMAGE_FILTER)
        if not image:
            return
        out, _ = QFileDialog.getSaveFileName(
            self.window,
            "Save segmentation as",
            str(Path(image).with_suffix("")) + "_seg.nii.gz",
            "NIfTI (*.nii.gz);;NRRD (*.nrrd);;MHA (*.mha)",
        )
        if out:
            self.run_on_file(model, Path(image), Path(out))

    def run_on_file(self, model: Path, image: Path, out: Path) -> RunOnFileTask:
        """Segment ``image`` with ``model``; write ``out`` and its uncertainty beside it.

        The image is read, segmented and the results written on the runner's pool thread
        (the read used to block the GUI thread); a file that cannot be read reports through
        ``failed``.
        """
        task = RunOnFileTask(model, image, out)
        task.signals.finished.connect(self._written)
        task.signals.failed.connect(self._fail)
        task.signals.warning.connect(self._status)
        task.signals.progress.connect(
            lambda done, total: self._status(f"Segmenting {image.name}: {done}/{total} slices")
        )
        self.tasks.start(task)
        return task

    def _written(self, result: FileRunResult) -> None:
        ran_on = self._ran_on(result.provider, result.provider_report)
        self._status(f"Wrote {result.out.name} ({ran_on}, {result.seconds:.1f} s)")
        self.ran.emit(result.out)

    # -- run on a project volume ---------------------------------------------------------------
    def current_version_model(self) -> Path | None:
        """The exported ONNX file of the assist session's current model version, if any."""
        assist = getattr(self.window, "assist", None)
        version = None if assist is None else assist.session.current_version
        model = None if version is None else self.exports.get(Path(version.checkpoint))
        return model if model is not None and model.is_file() else None

    def _ask_run_on_volume(self) -> None:
        doc = self.window.ws.doc
        if doc is None:
            self._fail("Open an image or a project first, then run the model on its volumes.")
            return
        model = self.current_version_model()
        if model is None:
            chosen, _ = QFileDialog.getOpenFileName(self.window, "ONNX model", "", ONNX_FILTER)
            if not chosen:
                return
            model = Path(chosen)
        index = dialogs.ask_volume(
            self.window, f"Run {model.name} on", volume_names(doc), doc.current
        )
        if index is not None:
            self.run_on_volume(model, index)

    def run_on_volume(self, model: Path, index: int) -> RunModelTask | None:
        """Segment volume ``index`` of the open document with ``model`` and store the result.

        The prediction and uncertainty are kept with the volume (saved with the project and
        shown on it); a model that cannot run on it reports through ``failed`` and changes
        nothing.

        Args:
            model: an exported ``.onnx`` file.
            index: position of the volume in ``doc.items``.

        Returns:
            The task started, or None when there is no such volume.
        """
        doc = self.window.ws.doc
        if doc is None or not 0 <= index < len(doc.items):
            self._fail("There is no such volume in the open document; nothing was run.")
            return None
        item = doc.items[index]
        task = RunModelTask(
            model,
            item.volume.image_zyx,
            spacing_zyx=item.volume.geometry.spacing_zyx,
            max_classes=item.labels.table.num_classes,
        )
        task.signals.finished.connect(lambda result: self._store(doc, item, result))
        task.signals.failed.connect(self._fail)
        task.signals.warning.connect(self._status)
        name = item.volume.name
        task.signals.progress.connect(
            lambda done, total: self._status(f"Segmenting {name}: {done}/{total} slices")
        )
        self.tasks.start(task)
        return task

    def _store(self, doc: Document, item: VolumeItem, result: ModelRunResult) -> None:
        if self.window.ws.doc is not doc or not any(i is item for i in doc.items):
            self._fail("The document was closed while the model ran; its result was dropped.")
            return
        index = next(k for k, i in enumerate(doc.items) if i is item)
        doc.store_prediction(index, result.model_version, result.labels_zyx, result.entropy_zyx)
        ran_on = self._ran_on(result.provider, result.provider_report)
        self._status(
            f"Stored the prediction of model {result.model_version} with {item.volume.name} "
            f"({ran_on}, {result.seconds:.1f} s); save the project to keep it."
        )
        self.ran_on_volume.emit(index)

    # -- inference device --------------------------------------------------------------------
    def _ran_on(self, provider: str, report: ProviderReport | None) -> str:
        """Show the provider of the last run (status-bar label, Model menu); return its text."""
        text = f"Ran on {provider}" if report is None or report.uses_cuda else report.summary()
        self.last_device = text
        self.device_label.setText("ONNX: GPU" if report and report.uses_cuda else "ONNX: CPU")
        self.device_label.setToolTip(text)
        short = "CUDA" if report is not None and report.uses_cuda else "CPU"
        self.device_action.setText(f"Inference device: {short} (last run)…")
        return text

    def _show_device(self) -> None:
        text = self.last_device or (
            "No model has run in this session yet. The device a run uses is shown here and in "
            "the status bar once it ran."
        )
        QMessageBox.information(self.window, "Inference device", text)

    # -- messages ----------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)

    def _fail(self, message: str) -> None:
        if not self.quiet:
            dialogs.show_error(self.window, "Model", message)
        self.failed.emit(message)


def install_model_menu(window: Any, quiet: bool = False) -> ModelMenu:
    """Add Export ONNX…, Run model on a file… and on project volume… to the Model menu (its
    tasks run on the window's runner, ``window.tasks``)."""
    menu = ModelMenu(window, window.tasks, quiet)
    window.model_menu = menu
    return menu
