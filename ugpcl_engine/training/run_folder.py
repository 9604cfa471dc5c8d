"""A training run folder shared by the GUI and its training child (numpy only, never torch).

The GUI writes a *snapshot* (image, labels, labeled-slice mask, request) into a new folder and
starts the child with ``launch_child``; the child (``ugpcl_engine.training.child``, imported by
module name so that the GUI process never imports torch) reads it, trains, and writes its
results beside it::

    run-0003/
        image.npy         raw intensities (Z, Y, X), any numeric dtype   (snapshot)
        labels.npy        uint8 labels (Z, Y, X)                          (snapshot)
        labeled.npy       bool (N,), True for labeled slices along axis   (snapshot)
        request.json      RunRequest                                       (snapshot)
        model.pt          checkpoint                                       (child)
        prediction.npy    uint8 labels (Z, Y, X)                           (child)
        uncertainty.npy   float32 entropy in nats (Z, Y, X)                (child)
        result.json       metrics of the run                               (child)
        error.log         traceback when the child crashed                 (child)
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.config import RunSpec
from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import LabelClass, LabelTable, axis_index

CHILD_MODULE = "ugpcl_engine.training.child"
PREDICTION_FILE = "prediction.npy"
UNCERTAINTY_FILE = "uncertainty.npy"
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
ERROR_FILE = "error.log"
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


@dataclass(frozen=True)
class RunRequest:
    """What one training run should do, besides the arrays.

    Attributes:
        spec: model and training configuration.
        label_table: the classes of the labels.
        axis: slicing axis.
        modality: ``"CT"``, ``"MR"`` or ``"unknown"``.
        init: checkpoint to warm-start from, or None.
        preview_slice: slice (along ``axis``) previewed first; the GUI may move it while the
            run goes on (see ``launch_child``).
        holdout_slice: a labeled slice left out of training and scored at the end, or None.
        threads: torch CPU threads of the child (None = all but one core).
        nice: niceness increment of the child, so the GUI wins the CPU when both want it.
    """

    spec: RunSpec
    label_table: LabelTable
    axis: str = "z"
    modality: str = "unknown"
    init: str | None = None
    preview_slice: int | None = None
    holdout_slice: int | None = None
    threads: int | None = None
    nice: int = 5

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "spec": self.spec.to_dict(),
            "label_table": [
                {"value": c.value, "name": c.name, "color_rgb": list(c.color_rgb)}
                for c in self.label_table.classes
            ],
            "axis": self.axis,
            "modality": self.modality,
            "init": self.init,
            "preview_slice": self.preview_slice,
            "holdout_slice": self.holdout_slice,
            "threads": self.threads,
            "nice": self.nice,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRequest:
        """Inverse of ``to_dict``."""
        table = LabelTable(
            tuple(
                LabelClass(int(c["value"]), str(c["name"]), tuple(c["color_rgb"]))
                for c in data["label_table"]
            )
        )
        return cls(
            RunSpec.from_dict(data["spec"]),
            table,
            str(data["axis"]),
            str(data["modality"]),
            data.get("init"),
            data.get("preview_slice"),
            data.get("holdout_slice"),
            data.get("threads"),
            int(data.get("nice", 5)),
        )


@dataclass(frozen=True)
class Stage:
    """A phase change the child announces (picklable), e.g. ``"predicting"`` after training."""

    name: str


def default_threads() -> int:
    """Torch threads for the child: every core.

    ARCHITECTURE.md leaves one core to the GUI; measured on 2 cores, the niced child (see
    ``RunRequest.nice``) with both threads keeps the GUI's event-loop p99 at 7 ms (4 ms with one
    thread; target 50 ms) and brings the first model from 114 s to 80 s.
    """
    return max(1, os.cpu_count() or 1)


def labeled_hash(labels_zyx: np.ndarray, labeled: np.ndarray, axis: str = "z") -> str:
    """Short hash of what training learns from: the marks and the labels on marked slices.

    Args:
        labels_zyx: uint8 labels (Z, Y, X).
        labeled: bool (N,) marks along ``axis``.
        axis: slicing axis.

    Returns:
        12 hex digits; equal for equal marks and labels on the marked slices.
    """
    digest = hashlib.sha256(np.asarray(labeled, bool).tobytes())
    stack = np.moveaxis(labels_zyx, axis_index(axis), 0)
    for index in np.flatnonzero(labeled):
        digest.update(np.ascontiguousarray(stack[index]).tobytes())
    return digest.hexdigest()[:12]


def write_snapshot(
    run_dir: str | Path,
    image_zyx: np.ndarray,
    labels_zyx: np.ndarray,
    labeled: np.ndarray,
    request: RunRequest,
) -> Path:
    """Write the child's input into a new run folder.

    Args:
        run_dir: folder to create (must not hold a snapshot already).
        image_zyx: raw intensities (Z, Y, X).
        labels_zyx: uint8 labels (Z, Y, X) on the image grid.
        labeled: bool (N,) labeled-slice mask along ``request.axis``.
        request: what to do.

    Returns:
        The run folder.

    Raises:
        InputError: no labeled slice, or shapes that disagree.
    """
    labeled = np.asarray(labeled, bool)
    if labels_zyx.shape != image_zyx.shape:
        raise InputError("The labels and the image differ in shape; reopen the labels.")
    if labeled.shape != (image_zyx.shape[axis_index(request.axis)],):
        raise InputError("The labeled-slice marks do not match the image; reopen the image.")
    if not labeled.any():
        raise InputError(
            "No slice is marked labeled: paint a few slices (or mark them with M) first."
        )
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=False)
    np.save(folder / "image.npy", np.ascontiguousarray(image_zyx))
    np.save(folder / "labels.npy", np.ascontiguousarray(labels_zyx, dtype=np.uint8))
    np.save(folder / "labeled.npy", labeled)
    (folder / "request.json").write_text(json.dumps(request.to_dict(), indent=1))
    return folder


def read_snapshot(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, RunRequest]:
    """Read what ``write_snapshot`` wrote: image, labels, labeled mask and request."""
    folder = Path(run_dir)
    request = RunRequest.from_dict(json.loads((folder / "request.json").read_text()))
    return (
        np.load(folder / "image.npy"),
        np.load(folder / "labels.npy"),
        np.load(folder / "labeled.npy"),
        request,
    )


def save_array(path: Path, array: np.ndarray) -> None:
    """Write an ``.npy`` atomically (temp file, then rename), so readers never see half."""
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


def read_result(run_dir: str | Path) -> dict[str, Any]:
    """The child's ``result.json`` (empty when missing)."""
    path = Path(run_dir) / RESULT_FILE
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def launch_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Entry point of the spawned training process (picklable by name, torch-free here).

    Limits the math libraries' threads and lowers the priority *before* torch is imported,
    then imports the child module by name and runs it.

    Args:
        run_dir: the run folder holding the snapshot.
        queue: multiprocessing queue the events go to.
        flag: multiprocessing event; set means stop and keep the model.
        preview_index: multiprocessing ``Value('i')`` with the slice the user looks at, or None.
    """
    request = json.loads((Path(run_dir) / "request.json").read_text())
    threads = int(request.get("threads") or default_threads())
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if hasattr(os, "nice") and int(request.get("nice", 0)) > 0:
        os.nice(int(request["nice"]))
    child = importlib.import_module(CHILD_MODULE)
    child.run_child(run_dir, queue, flag, preview_index)
