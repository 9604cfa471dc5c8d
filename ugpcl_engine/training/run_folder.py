"""A training run folder shared by the GUI and its training child (numpy only, never torch).

The GUI writes a *snapshot* (images, labels, labeled-slice masks, request) into a new folder
and starts the child with ``launch_child``; the child (``ugpcl_engine.training.child``, imported
by module name so that the GUI process never imports torch) reads it, trains, and writes its
results beside it::

    run-0003/
        image.npy         raw intensities (Z, Y, X), any numeric dtype   (snapshot)
        labels.npy        uint8 labels (Z, Y, X)                          (snapshot)
        labeled.npy       bool (N,), True for labeled slices along axis   (snapshot)
        request.json      RunRequest (``volume_count``, ``modalities``)    (snapshot)
        model.pt          checkpoint                                       (child)
        prediction.npy    uint8 labels (Z, Y, X)                           (child)
        uncertainty.npy   float32 entropy in nats (Z, Y, X)                (child)
        result.json       metrics of the run, model version and sha256    (child)
        error.log         traceback when the child crashed                 (child)

The snapshot's volume copies are deleted when the run ends (``scratch``); ``request.json``
stays (``read_request``).

A run on several volumes (``RunRequest.volume_count`` > 1) adds, for volume ``k`` >= 1, the
same files with a ``-k`` suffix: ``image-1.npy``, ``labels-1.npy``, ``labeled-1.npy`` (snapshot),
``prediction-1.npy``, ``uncertainty-1.npy`` (child). Volume 0 keeps the plain names, so a
one-volume folder is what it always was; volume 0 is the one previewed and held out from.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
from collections.abc import Sequence
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
SNAPSHOT_FILES = ("image.npy", "labels.npy", "labeled.npy")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


HANDBACK_SECONDS = 1.5
"""Seconds of a budget kept for the GUI to load the prediction and draw it (1 mm brain)."""


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
        volume_count: volumes in the snapshot (the first one is previewed and held out from).
        modalities: modality of every volume when they differ (empty: each is ``modality``).
        requested_at: wall-clock time (``time.time()``) the user asked for the run: a time
            budget in ``spec`` counts from then, so the child's start-up and the snapshot's
            writing come out of it (``budget_left``). ``None``: from the trainer's start.

    Raises:
        ValueError: ``volume_count`` < 1, or ``modalities`` of another length.
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
    volume_count: int = 1
    modalities: tuple[str, ...] = ()
    requested_at: float | None = None

    def __post_init__(self) -> None:
        if self.volume_count < 1:
            raise ValueError(f"a run needs at least one volume, got {self.volume_count}")
        if self.modalities and len(self.modalities) != self.volume_count:
            raise ValueError(
                f"{len(self.modalities)} modalities given for {self.volume_count} volumes"
            )

    def modality_of(self, index: int) -> str:
        """Modality of volume ``index`` of the snapshot."""
        return self.modalities[index] if self.modalities else self.modality

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
            "volume_count": self.volume_count,
            "modalities": list(self.modalities),
            "requested_at": self.requested_at,
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
            int(data.get("volume_count", 1)),  # folders written before several volumes: one
            tuple(str(m) for m in data.get("modalities", ())),
            _optional_float(data.get("requested_at")),
        )

    def budget_left(self, now: float, reserve: float = HANDBACK_SECONDS) -> float | None:
        """The trainer's share of the time budget at wall-clock ``now``.

        Args:
            now: ``time.time()`` in the child, just before training.
            reserve: seconds kept for handing the result back and drawing it.

        Returns:
            ``None`` without a budget; else what is left of it (at least 1 s, so that a late
            start still trains a little and shows a model).
        """
        budget = self.spec.training.time_budget
        if budget is None:
            return None
        spent = 0.0 if self.requested_at is None else max(0.0, now - self.requested_at)
        return max(1.0, budget - spent - reserve)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


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


@dataclass(frozen=True)
class SnapshotVolume:
    """One volume of a training snapshot.

    Attributes:
        image_zyx: raw intensities (Z, Y, X), any numeric dtype.
        labels_zyx: uint8 labels (Z, Y, X) on the image grid (read only on labeled slices).
        labeled: bool (N,) labeled-slice marks along the run's axis; all False for a volume
            that gives unlabeled slices only.
    """

    image_zyx: np.ndarray
    labels_zyx: np.ndarray
    labeled: np.ndarray


def volume_file(name: str, index: int) -> str:
    """File name of volume ``index``: ``image.npy`` for 0, ``image-2.npy`` for 2.

    Args:
        name: the volume-0 name, e.g. ``PREDICTION_FILE``.
        index: position of the volume in the snapshot.
    """
    if index == 0:
        return name
    stem, dot, suffix = name.partition(".")
    return f"{stem}-{index}{dot}{suffix}"


def snapshot_hash(volumes: Sequence[SnapshotVolume], axis: str = "z") -> str:
    """Short hash of what a run learns from (``labeled_hash`` of every volume, in order).

    Args:
        volumes: the snapshot's volumes.
        axis: slicing axis.

    Returns:
        12 hex digits; for one volume exactly ``labeled_hash`` of it.
    """
    return combined_hash([labeled_hash(v.labels_zyx, v.labeled, axis) for v in volumes])


def combined_hash(hashes: Sequence[str]) -> str:
    """One hash for several volumes' ``labeled_hash`` values (the value itself for one)."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256(" ".join(hashes).encode()).hexdigest()[:12]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex), read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_snapshot(
    run_dir: str | Path,
    image_zyx: np.ndarray,
    labels_zyx: np.ndarray,
    labeled: np.ndarray,
    request: RunRequest,
) -> Path:
    """Write the child's input for one volume into a new run folder.

    Args:
        run_dir: folder to create (must not hold a snapshot already).
        image_zyx: raw intensities (Z, Y, X).
        labels_zyx: uint8 labels (Z, Y, X) on the image grid.
        labeled: bool (N,) labeled-slice mask along ``request.axis``.
        request: what to do (``volume_count`` 1).

    Returns:
        The run folder.

    Raises:
        InputError: no labeled slice, or shapes that disagree.
    """
    return write_volumes_snapshot(
        run_dir, [SnapshotVolume(image_zyx, labels_zyx, labeled)], request
    )


def write_volumes_snapshot(
    run_dir: str | Path, volumes: Sequence[SnapshotVolume], request: RunRequest
) -> Path:
    """Write the child's input for one or more volumes into a new run folder.

    Nothing is written when a check fails.

    Args:
        run_dir: folder to create (must not hold a snapshot already).
        volumes: the volumes, the one previewed and held out from first.
        request: what to do; ``request.volume_count`` must be ``len(volumes)``.

    Returns:
        The run folder.

    Raises:
        InputError: no labeled slice in any volume, or shapes that disagree.
        ValueError: ``request.volume_count`` is not the number of volumes.
    """
    if request.volume_count != len(volumes):
        raise ValueError(f"the request says {request.volume_count} volumes, {len(volumes)} given")
    marks = [np.asarray(v.labeled, bool) for v in volumes]
    for k, (volume, labeled) in enumerate(zip(volumes, marks, strict=True)):
        which = f" of volume {k + 1}" if len(volumes) > 1 else ""
        if volume.labels_zyx.shape != volume.image_zyx.shape:
            raise InputError(f"The labels and the image{which} differ in shape; reopen the labels.")
        if labeled.shape != (volume.image_zyx.shape[axis_index(request.axis)],):
            raise InputError(
                f"The labeled-slice marks{which} do not match the image; reopen the image."
            )
    if not any(labeled.any() for labeled in marks):
        raise InputError(
            "No slice is marked labeled: paint a few slices (or mark them with M) first."
        )
    folder = Path(run_dir)
    folder.mkdir(parents=True, exist_ok=False)
    for k, (volume, labeled) in enumerate(zip(volumes, marks, strict=True)):
        image_name, labels_name, labeled_name = (volume_file(n, k) for n in SNAPSHOT_FILES)
        np.save(folder / image_name, np.ascontiguousarray(volume.image_zyx))
        np.save(folder / labels_name, np.ascontiguousarray(volume.labels_zyx, dtype=np.uint8))
        np.save(folder / labeled_name, labeled)
    (folder / "request.json").write_text(json.dumps(request.to_dict(), indent=1))
    return folder


def read_snapshot(run_dir: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, RunRequest]:
    """Read the first volume of what ``write_snapshot`` wrote: image, labels, labeled, request."""
    volumes, request = read_volumes_snapshot(run_dir, first_only=True)
    return volumes[0].image_zyx, volumes[0].labels_zyx, volumes[0].labeled, request


def read_volumes_snapshot(
    run_dir: str | Path, first_only: bool = False
) -> tuple[list[SnapshotVolume], RunRequest]:
    """Read every volume of a snapshot (``write_volumes_snapshot``) and the request.

    Args:
        run_dir: the run folder.
        first_only: read volume 0 only.

    Returns:
        ``request.volume_count`` volumes in snapshot order (1 with ``first_only``), and the
        request.
    """
    folder = Path(run_dir)
    request = read_request(folder)
    volumes = []
    for k in range(1 if first_only else request.volume_count):
        image, labels, labeled = (np.load(folder / volume_file(n, k)) for n in SNAPSHOT_FILES)
        volumes.append(SnapshotVolume(image, labels, labeled))
    return volumes, request


def read_request(run_dir: str | Path) -> RunRequest:
    """The request of a run folder (it stays when the run ends; the volume copies do not)."""
    return RunRequest.from_dict(json.loads((Path(run_dir) / "request.json").read_text()))


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
        queue: where the events go (``put(event)``: a ``channel.EventSender``).
        flag: stop flag (``is_set()``: a ``channel.SharedFlag``); set means stop and keep the
            model.
        preview_index: shared int (``.value``) with the slice the user looks at, or None.
    """
    request = json.loads((Path(run_dir) / "request.json").read_text())
    threads = int(request.get("threads") or default_threads())
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if hasattr(os, "nice") and int(request.get("nice", 0)) > 0:
        os.nice(int(request["nice"]))
    child = importlib.import_module(CHILD_MODULE)
    child.run_child(run_dir, queue, flag, preview_index)
