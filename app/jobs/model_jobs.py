"""Model tasks for the GUI (QtCore only, never torch): ONNX export and running a model.

``ExportTask`` exports a checkpoint in a spawned child process (torch is loaded there, never
here); ``RunModelTask`` segments a volume with onnxruntime on a pool thread. Both report through
``signals`` (queued to the GUI thread):

- ``progress(int done, int total)``: slices segmented (RunModelTask, throttled to ~10 Hz);
- ``warning(str)``: a non-fatal message to show (very different grid, non-strict runs);
- ``finished(object)``: ``ExportReport`` (export) or ``ModelRunResult`` (run);
- ``failed(str)``: a user-facing message for a dialog;
- ``cancelled()``: the task stopped on ``cancel()``.

Exactly one of ``finished``, ``failed`` or ``cancelled`` is emitted per task. ``ModelJobs`` runs
one task per kind: starting a new export (or run) cancels the stale one.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.jobs.tasks import unexpected_failure
from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.inference.commands import export_in_subprocess
from ugpcl_engine.inference.model_metadata import ParityError, TrainingGrid
from ugpcl_engine.inference.ort_segmenter import OrtSegmenter
from ugpcl_engine.training.run_folder import file_sha256
from ugpcl_engine.volume import LabelTable

PROGRESS_INTERVAL_S = 0.1


class TaskSignals(QObject):
    """Signals of one model task (see the module docstring)."""

    progress = Signal(int, int)
    warning = Signal(str)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()


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
    """

    labels_zyx: np.ndarray
    entropy_zyx: np.ndarray
    label_table: LabelTable
    model_version: str
    provider: str
    seconds: float


class _ModelTask(QRunnable):
    kind = "model"

    def __init__(self) -> None:
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps the Python object (and its signals)
        self.signals = TaskSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the task to stop (checked between slice batches / every 0.1 s)."""
        self._cancel.set()

    def is_cancelled(self) -> bool:
        """True once ``cancel()`` was called."""
        return self._cancel.is_set()

    def run(self) -> None:
        """Run the work on the pool thread and emit exactly one final signal."""
        try:
            if self._cancel.is_set():
                raise CancelledError("cancelled before start")
            result = self.work()
        except CancelledError:
            self.signals.cancelled.emit()
        except (InputError, ParityError) as err:
            self.signals.failed.emit(str(err))
        except Exception as err:  # every failure must reach the user as a dialog
            self.signals.failed.emit(
                unexpected_failure(self.kind, err, "Your labels are unchanged; please report this.")
            )
        else:
            self.signals.finished.emit(result)

    def work(self) -> Any:
        raise NotImplementedError


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
    """Segment a volume with an exported model (Model › Run on…).

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
        self._last_emit = 0.0

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - self._last_emit >= PROGRESS_INTERVAL_S:
            self._last_emit = now
            self.signals.progress.emit(done, total)

    def work(self) -> Any:
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
        message = seg.check_grid(tuple(self.image_zyx.shape), self.spacing_zyx)
        if message is not None and not self.strict:
            self.signals.warning.emit(message)
        labels, entropy = seg.segment(
            self.image_zyx,
            self._progress,
            self.is_cancelled,
            spacing_zyx=self.spacing_zyx,
            strict=self.strict,
        )
        return ModelRunResult(
            labels,
            entropy,
            seg.metadata.label_table,
            seg.metadata.model_version,
            seg.provider,
            time.perf_counter() - start,
        )


class ModelJobs(QObject):
    """Runs model tasks on a small pool, one per kind: a new task cancels the stale one.

    Args:
        parent: owning QObject.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(2)
        self._current: dict[str, _ModelTask] = {}

    def start(self, task: ExportTask | RunModelTask) -> None:
        """Cancel the running task of the same kind (if any) and start ``task``."""
        stale = self._current.get(task.kind)
        if stale is not None:
            stale.cancel()
        self._current[task.kind] = task
        self._pool.start(task)

    def current(self, kind: str) -> ExportTask | RunModelTask | None:
        """The last task started of ``kind`` (``"export"`` or ``"run"``)."""
        task = self._current.get(kind)
        return task if isinstance(task, ExportTask | RunModelTask) else None

    def cancel_all(self) -> None:
        """Cancel every task (e.g. on closing the window)."""
        for task in self._current.values():
            task.cancel()

    def wait(self, msecs: int = 30000) -> bool:
        """Block until the pool is idle (tests, shutdown); True when it is."""
        return bool(self._pool.waitForDone(msecs))
