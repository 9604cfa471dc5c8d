"""Model tasks for the GUI (QtCore only, never torch): ONNX export and running a model.

``ExportTask`` exports a checkpoint in a spawned child process (torch is loaded there, never
here); ``RunModelTask`` segments a volume with onnxruntime and ``RunOnFileTask`` reads an image
file, segments it and writes the results beside the chosen path, all on the runner's pool
thread (``app.jobs.tasks``: signals, one task per kind, cancel). ``progress`` counts segmented
slices; ``warning`` carries the very-different-grid message of non-strict runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.jobs.tasks import Task
from ugpcl_engine import (
    InputError,
    LabelMap,
    LabelTable,
    OrtSegmenter,
    ParityError,
    ProviderReport,
    TrainingGrid,
    export_in_subprocess,
    file_sha256,
    read_volume,
    write_array,
    write_label_map,
)


@dataclass(frozen=True)
class ModelRunResult:
    """A segmented volume.

    Attributes:
        labels_zyx: (Z, Y, X) uint8 predicted labels on the input grid.
        entropy_zyx: (Z, Y, X) float32 uncertainty (nats).
        label_table: the model's classes.
        model_version: id of the training run.
        provider: onnxruntime execution provider used.
        seconds: wall time.
        provider_report: the providers used and why not CUDA (``ProviderReport``).
    """

    labels_zyx: np.ndarray
    entropy_zyx: np.ndarray
    label_table: LabelTable
    model_version: str
    provider: str
    seconds: float
    provider_report: ProviderReport | None = None


@dataclass(frozen=True)
class FileRunResult:
    """A segmented image file (``RunOnFileTask``).

    Attributes:
        out: the segmentation written (its uncertainty lies beside it, ``uncertainty_path``).
        provider: onnxruntime execution provider used.
        seconds: wall time of the segmentation.
        provider_report: the providers used and why not CUDA (``ProviderReport``).
    """

    out: Path
    provider: str
    seconds: float
    provider_report: ProviderReport | None = None


def uncertainty_path(seg_path: Path) -> Path:
    """``liver_seg.nii.gz`` → ``liver_seg_uncertainty.nii.gz`` (same folder and format)."""
    name = seg_path.name
    for suffix in (".nii.gz", ".seg.nrrd", ".nii", ".nrrd", ".mha", ".mhd"):
        if name.endswith(suffix):
            return seg_path.with_name(name[: -len(suffix)] + "_uncertainty" + suffix)
    return seg_path.with_name(name + "_uncertainty.nii.gz")


class _ModelTask(Task):
    kind = "model"
    user_errors = (InputError, ParityError)


class ExportTask(_ModelTask):
    """Export a checkpoint to ONNX in a child process (Model › Export ONNX…).

    Args:
        checkpoint: the run's ``model.pt``.
        out: destination ``.onnx``.
        training_grid: grid of the project volume the model was trained on (stored in the
            model for the very-different-grid check).
        parity_image: volume file for the parity slices (default: bundled chest CT).
        threads: torch threads in the child (default: all cores but one).

    Attributes:
        sha256: SHA-256 of the written ``.onnx`` (hashed on the pool thread), set before
            ``finished`` is emitted.
    """

    kind = "export"

    def __init__(
        self,
        checkpoint: str | Path,
        out: str | Path,
        *,
        training_grid: TrainingGrid | None = None,
        parity_image: str | Path | None = None,
        threads: int | None = None,
    ) -> None:
        super().__init__()
        self.checkpoint, self.out = Path(checkpoint), Path(out)
        self.training_grid, self.parity_image, self.threads = training_grid, parity_image, threads
        self.sha256 = ""

    def work(self) -> Any:
        report = export_in_subprocess(
            self.checkpoint,
            self.out,
            training_grid=self.training_grid,
            parity_image=self.parity_image,
            cancelled=self.is_cancelled,
            threads=self.threads,
        )
        self.sha256 = file_sha256(report.path)  # for the project's model records
        return report


class RunModelTask(_ModelTask):
    """Segment a volume with an exported model (Model › Run model on project volume…).

    Args:
        model_path: the ``.onnx`` file.
        image_zyx: raw volume (Z, Y, X); read only.
        spacing_zyx: its voxel size in mm (for the grid check), or ``None``.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        threads: onnxruntime intra-op threads (default: all cores but one above 2 cores).
        strict: a very different grid fails the task instead of emitting ``warning``.
        batch_size: slices per onnxruntime call.
        max_classes: classes (background included) the result may hold, e.g. the label table
            size of the volume it is stored with; a model predicting more fails the task
            before it segments anything. None: no limit.
    """

    kind = "run"

    def __init__(
        self,
        model_path: str | Path,
        image_zyx: np.ndarray,
        *,
        spacing_zyx: tuple[float, ...] | None = None,
        device: str = "auto",
        threads: int | None = None,
        strict: bool = False,
        batch_size: int = 8,
        max_classes: int | None = None,
    ) -> None:
        super().__init__()
        self.model_path, self.image_zyx, self.spacing_zyx = Path(model_path), image_zyx, spacing_zyx
        self.max_classes = max_classes
        self.device, self.threads, self.strict, self.batch_size = (
            device,
            threads,
            strict,
            batch_size,
        )

    def work(self) -> Any:
        return self.segment(self.image_zyx, self.spacing_zyx)

    def segment(
        self, image_zyx: np.ndarray, spacing_zyx: tuple[float, ...] | None
    ) -> ModelRunResult:
        """Segment ``image_zyx`` (pool thread) with progress, cancel and the grid check."""
        start = time.perf_counter()
        seg = OrtSegmenter(self.model_path, self.device, self.threads, self.batch_size)
        table = seg.metadata.label_table
        if self.max_classes is not None and table.num_classes > self.max_classes:
            raise InputError(
                f"The model {self.model_path.name} predicts {table.num_classes} classes "
                f"({', '.join(table.names)}) but the volume has only {self.max_classes} labels. "
                "Add labels in the Labels panel until every class has one, or choose a model "
                "trained for this project."
            )
        message = seg.check_grid(tuple(image_zyx.shape), spacing_zyx)
        if message is not None and not self.strict:
            self.signals.warning.emit(message)
        labels, entropy = seg.segment(
            image_zyx,
            self.report_progress,
            self.is_cancelled,
            spacing_zyx=spacing_zyx,
            strict=self.strict,
        )
        return ModelRunResult(
            labels,
            entropy,
            seg.metadata.label_table,
            seg.metadata.model_version,
            seg.provider,
            time.perf_counter() - start,
            seg.provider_report,
        )


class RunOnFileTask(RunModelTask):
    """Read an image file, segment it and write the results (Model › Run model on a file…).

    Everything runs on the pool thread: the read, the segmentation and the writes (the
    segmentation at ``out`` and its uncertainty at ``uncertainty_path(out)``, on the image's
    grid). The result is a ``FileRunResult``.

    Args:
        model_path: the ``.onnx`` file.
        image: the image file to segment.
        out: where the segmentation goes.
        **options: as ``RunModelTask`` (device, threads, strict, batch_size).
    """

    def __init__(self, model_path: str | Path, image: str | Path, out: str | Path, **options: Any):
        super().__init__(model_path, np.zeros((0, 0, 0), np.int16), **options)
        self.image, self.out = Path(image), Path(out)

    def work(self) -> Any:
        volume = read_volume(self.image)
        geometry = volume.geometry
        result = self.segment(volume.image_zyx, geometry.spacing_zyx)
        write_label_map(self.out, LabelMap(result.labels_zyx, geometry, result.label_table))
        write_array(uncertainty_path(self.out), result.entropy_zyx, geometry)
        return FileRunResult(self.out, result.provider, result.seconds, result.provider_report)
