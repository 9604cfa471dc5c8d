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
stays (``RunFolder.read_request``).

A run on several volumes (``RunRequest.volume_count`` > 1) adds, for volume ``k`` >= 1, the
same files with a ``-k`` suffix: ``image-1.npy``, ``labels-1.npy``, ``labeled-1.npy`` (snapshot),
``prediction-1.npy``, ``uncertainty-1.npy`` (child). Volume 0 keeps the plain names, so a
one-volume folder is what it always was; volume 0 is the one previewed and held out from.

``RunFolder`` is the one place that spells these names: the GUI writes the snapshot through
it, the child reads it and writes its results, the scratch cleanup deletes through it, and the
app finds the model and the results with it.
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

from ugpcl_engine.errors import InputError
from ugpcl_engine.training.run_request import RunRequest, default_threads
from ugpcl_engine.volume import axis_index

CHILD_MODULE = "ugpcl_engine.training.child"
PREDICTION_FILE = "prediction.npy"
UNCERTAINTY_FILE = "uncertainty.npy"
RESULT_FILE = "result.json"
MODEL_FILE = "model.pt"
ERROR_FILE = "error.log"
REQUEST_FILE = "request.json"
SNAPSHOT_FILES = ("image.npy", "labels.npy", "labeled.npy")
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


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


@dataclass(frozen=True)
class RunFolder:
    """Where each file of one training run lies (the layout in the module docstring).

    A plain value: naming a file touches nothing; only ``has_results``, ``volume_count`` and
    the ``read_`` methods look at the disk. Volume ``k`` is the position in the snapshot (0:
    the volume previewed and held out from).

    Attributes:
        path: the folder.
    """

    path: Path

    @property
    def request(self) -> Path:
        """``request.json``: the ``RunRequest`` (snapshot; stays when the run ends)."""
        return self.path / REQUEST_FILE

    @property
    def model(self) -> Path:
        """``model.pt``: the checkpoint the trainer writes."""
        return self.path / MODEL_FILE

    @property
    def result(self) -> Path:
        """``result.json``: the run's metrics, model version and the checkpoint's SHA-256."""
        return self.path / RESULT_FILE

    @property
    def error_log(self) -> Path:
        """``error.log``: the traceback of a child that crashed."""
        return self.path / ERROR_FILE

    def snapshot(self, volume: int) -> tuple[Path, Path, Path]:
        """The copies of volume ``volume``: image (Z, Y, X), uint8 labels, bool (N,) marks."""
        image, labels, labeled = (self.path / volume_file(n, volume) for n in SNAPSHOT_FILES)
        return image, labels, labeled

    def prediction(self, volume: int) -> Path:
        """Predicted labels (Z, Y, X) uint8 of volume ``volume`` (written by the child)."""
        return self.path / volume_file(PREDICTION_FILE, volume)

    def uncertainty(self, volume: int) -> Path:
        """Entropy (Z, Y, X) float32 nats of volume ``volume`` (written by the child)."""
        return self.path / volume_file(UNCERTAINTY_FILE, volume)

    def has_results(self, volumes: int) -> bool:
        """True when the prediction and uncertainty of volumes ``0 .. volumes - 1`` are there."""
        paths = [f(k) for k in range(volumes) for f in (self.prediction, self.uncertainty)]
        return all(path.is_file() for path in paths)

    def volume_count(self) -> int:
        """Volumes of the snapshot as ``request.json`` says (1 when it is missing or unreadable)."""
        try:
            request = json.loads(self.request.read_text(encoding="utf-8"))
            return int(request.get("volume_count", 1))
        except (OSError, ValueError, TypeError, AttributeError):  # missing, or not a request
            return 1

    def read_request(self) -> RunRequest:
        """The run's request (it stays when the run ends; the volume copies do not)."""
        return RunRequest.from_dict(json.loads(self.request.read_text(encoding="utf-8")))

    def read_result(self) -> dict[str, Any]:
        """The child's ``result.json`` (empty when missing)."""
        path = self.result
        return dict(json.loads(path.read_text(encoding="utf-8"))) if path.is_file() else {}


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
    folder = RunFolder(Path(run_dir))
    folder.path.mkdir(parents=True, exist_ok=False)
    for k, (volume, labeled) in enumerate(zip(volumes, marks, strict=True)):
        image_path, labels_path, labeled_path = folder.snapshot(k)
        np.save(image_path, np.ascontiguousarray(volume.image_zyx))
        np.save(labels_path, np.ascontiguousarray(volume.labels_zyx, dtype=np.uint8))
        np.save(labeled_path, labeled)
    folder.request.write_text(json.dumps(request.to_dict(), indent=1), encoding="utf-8")
    return folder.path


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
    folder = RunFolder(Path(run_dir))
    request = folder.read_request()
    volumes = []
    for k in range(1 if first_only else request.volume_count):
        image, labels, labeled = (np.load(path) for path in folder.snapshot(k))
        volumes.append(SnapshotVolume(image, labels, labeled))
    return volumes, request


def save_array(path: Path, array: np.ndarray) -> None:
    """Write an ``.npy`` atomically (temp file, then rename), so readers never see half."""
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, array)
    tmp.replace(path)


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
    request = json.loads(RunFolder(Path(run_dir)).request.read_text(encoding="utf-8"))
    threads = int(request.get("threads") or default_threads())
    for name in THREAD_ENV:
        os.environ[name] = str(threads)
    if hasattr(os, "nice") and int(request.get("nice", 0)) > 0:
        os.nice(int(request["nice"]))
    child = importlib.import_module(CHILD_MODULE)
    child.run_child(run_dir, queue, flag, preview_index)
