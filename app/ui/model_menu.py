"""Model › Export ONNX… and Model › Run on a file… (issue 6), on top of the assist controller.

Export runs in a spawned child (``ExportTask``); inference runs with onnxruntime on a pool
thread (``RunModelTask``): the GUI process never imports torch. Results of "Run on a file" are
written beside the chosen output path (segmentation + ``_uncertainty`` volume), on the input
image's grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog

from app.jobs.model_jobs import ExportTask, ModelJobs, ModelRunResult, RunModelTask
from app.ui.dialogs import show_error
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.model_metadata import ExportReport, TrainingGrid
from ugpcl_engine.io.volume_files import read_volume, write_array, write_label_map
from ugpcl_engine.volume import LabelMap, Volume

ONNX_FILTER = "ONNX model (*.onnx)"
IMAGE_FILTER = "Images (*.nii *.nii.gz *.nrrd *.mha *.mhd *.dcm);;All files (*)"


@dataclass(frozen=True)
class RunRequest:
    """One "Run on a file" job: which model, which image, where the segmentation goes."""

    model: Path
    volume: Volume
    out: Path


def uncertainty_path(seg_path: Path) -> Path:
    """``liver_seg.nii.gz`` → ``liver_seg_uncertainty.nii.gz`` (same folder and format)."""
    name = seg_path.name
    for suffix in (".nii.gz", ".seg.nrrd", ".nii", ".nrrd", ".mha", ".mhd"):
        if name.endswith(suffix):
            return seg_path.with_name(name[: -len(suffix)] + "_uncertainty" + suffix)
    return seg_path.with_name(name + "_uncertainty.nii.gz")


class ModelMenu(QObject):
    """Export and run-on-file actions of the Model menu.

    Signals:
        exported: the ``ExportReport`` of a finished export.
        ran: the written segmentation path of a finished run.
        failed: a message (already shown in a dialog unless ``quiet``).
    """

    exported = Signal(object)
    ran = Signal(object)
    failed = Signal(str)

    def __init__(self, window: Any, quiet: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.quiet = quiet
        self.jobs = ModelJobs(self)
        self.last_model: Path | None = None
        menu = window.menus["Model"]
        menu.addSeparator()
        for text, slot in (
            ("Export ONNX…", self._ask_export),
            ("Run model on a file…", self._ask_run),
        ):
            action = QAction(text, window)
            action.triggered.connect(slot)
            menu.addAction(action)

    # -- export ------------------------------------------------------------------------------
    def _ask_export(self) -> None:
        version = self.window.assist.shown_version()
        if version is None:
            self._fail("No trained model yet: press Train first, then export.")
            return
        path, _ = QFileDialog.getSaveFileName(self.window, "Export ONNX", "model.onnx", ONNX_FILTER)
        if path:
            self.export(version.checkpoint, Path(path))

    def export(self, checkpoint: Path, out: Path) -> ExportTask:
        """Export ``checkpoint`` to ``out`` in a child process (with the parity check)."""
        grid = None
        if self.window.ws.doc is not None:
            geometry = self.window.ws.doc.item.volume.geometry
            grid = TrainingGrid(geometry.shape_zyx, geometry.spacing_zyx)
        task = ExportTask(checkpoint, out, training_grid=grid)
        task.signals.finished.connect(self._exported)
        task.signals.failed.connect(self._fail)
        self.jobs.start(task)
        self._status(f"Exporting {out.name}…")
        return task

    def _exported(self, report: ExportReport) -> None:
        self.last_model = Path(report.path)
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

    def run_on_file(self, model: Path, image: Path, out: Path) -> RunModelTask | None:
        """Segment ``image`` with ``model``; write ``out`` and its uncertainty beside it."""
        try:
            volume = read_volume(image)
        except InputError as err:
            self._fail(str(err))
            return None
        request = RunRequest(model, volume, out)
        task = RunModelTask(model, volume.image_zyx, spacing_zyx=volume.geometry.spacing_zyx)
        task.signals.finished.connect(lambda result: self._write(request, result))
        task.signals.failed.connect(self._fail)
        task.signals.warning.connect(self._status)
        task.signals.progress.connect(
            lambda done, total: self._status(f"Segmenting {image.name}: {done}/{total} slices")
        )
        self.jobs.start(task)
        return task

    def _write(self, request: RunRequest, result: ModelRunResult) -> None:
        geometry = request.volume.geometry
        try:
            write_label_map(request.out, LabelMap(result.labels_zyx, geometry, result.label_table))
            write_array(uncertainty_path(request.out), result.entropy_zyx, geometry)
        except InputError as err:
            self._fail(str(err))
            return
        self._status(f"Wrote {request.out.name} ({result.provider}, {result.seconds:.1f} s)")
        self.ran.emit(request.out)

    # -- messages ----------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 10000)

    def _fail(self, message: str) -> None:
        if not self.quiet:
            show_error(self.window, "Model", message)
        self.failed.emit(message)


def install_model_menu(window: Any, quiet: bool = False) -> ModelMenu:
    """Add Export ONNX… and Run model on a file… to the window's Model menu."""
    menu = ModelMenu(window, quiet)
    window.model_menu = menu
    return menu
