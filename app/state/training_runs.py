"""Which volumes a training run uses, and the project records of finished runs (Qt-free).

A run trains on the volume shown plus every other volume of the document whose label table has
the same classes (values and names; colours may differ): their labeled slices are supervised
data, all their other slices unlabeled data. Volumes with other classes are left out, since
their label values mean something else.

Each finished run is recorded in ``Document.records`` (saved in the project file)::

    runs:   {"number", "model_version", "preset", "created", "stopped_early", "axis",
             "label_hash", "labeled_slices", "volumes": [{"volume", "name", "labeled_slices",
             "label_hash"}], "metrics", "config", "warm_start", "run_dir"}
    models: {"version", "path", "sha256", "format": "checkpoint", "run"}            (training)
            {"version", "path", "sha256", "format": "onnx", "run", "checkpoint"}     (export)

A run's model files are its ``models`` entries with the same ``run`` number (``models_of_run``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.state.document import Document
from app.state.model_version import ModelVersion
from ugpcl_engine import (
    LabelTable,
    RunRequest,
    SnapshotVolume,
    combined_hash,
    file_sha256,
    labeled_hash,
)

Records = dict[str, list[dict[str, Any]]]


def same_classes(a: LabelTable, b: LabelTable) -> bool:
    """True when two label tables have the same values and names (colours may differ)."""
    return [(c.value, c.name) for c in a.classes] == [(c.value, c.name) for c in b.classes]


@dataclass(frozen=True)
class VolumeChoice:
    """The document volumes of a run.

    Attributes:
        indices: volumes trained on: the one shown first, then the others in document order.
        skipped: volumes left out because their classes differ from the shown one's.
    """

    indices: tuple[int, ...]
    skipped: tuple[int, ...]


def training_volumes(doc: Document) -> VolumeChoice:
    """Choose the volumes a run trains on (see the module docstring)."""
    table = doc.table
    others = [k for k in range(len(doc.items)) if k != doc.current]
    same = [k for k in others if same_classes(doc.items[k].labels.table, table)]
    skipped = [k for k in others if k not in same]
    return VolumeChoice((doc.current, *same), tuple(skipped))


def skipped_note(doc: Document, skipped: Sequence[int]) -> str:
    """One status line naming the volumes left out of a run ("" when none)."""
    if not skipped:
        return ""
    names = ", ".join(f"{k + 1}. {doc.items[k].volume.name}" for k in skipped)
    return f"Left out of training (other label classes than the volume shown): {names}."


@dataclass(frozen=True)
class RunVolume:
    """What a run took from one document volume (a snapshot, taken when it started).

    Attributes:
        volume: index in ``doc.items``.
        name: the volume's name.
        snapshot: image, labels and labeled marks written into the run folder.
        label_hash: ``run_folder.labeled_hash`` of its labels and marks.
    """

    volume: int
    name: str
    snapshot: SnapshotVolume
    label_hash: str

    @property
    def labeled_slices(self) -> int:
        """Slices marked labeled along the run's axis."""
        return int(self.snapshot.labeled.sum())


def run_volumes(doc: Document, indices: Sequence[int], axis: str) -> list[RunVolume]:
    """Snapshot the marks of the volumes ``indices`` (labels are copied by the run folder).

    Args:
        doc: the open document.
        indices: document volumes, in run-folder order.
        axis: the training axis.

    Returns:
        One ``RunVolume`` per index (marks copied, image and labels shared until written).
    """
    out = []
    for k in indices:
        item = doc.items[k]
        labeled = item.labeled[axis].copy()
        labels = item.labels.labels_zyx
        snapshot = SnapshotVolume(item.volume.image_zyx, labels, labeled)
        out.append(RunVolume(k, item.volume.name, snapshot, labeled_hash(labels, labeled, axis)))
    return out


def run_hash(volumes: Sequence[RunVolume]) -> str:
    """Hash of a run's whole label snapshot (``labeled_hash`` itself for one volume)."""
    return combined_hash([v.label_hash for v in volumes])


def record_run(
    records: Records,
    version: ModelVersion,
    volumes: Sequence[RunVolume],
    model_version: str,
    checkpoint_sha256: str,
    *,
    axis: str = "z",
    config: dict[str, Any] | None = None,
    warm_start: str | None = None,
) -> dict[str, Any]:
    """Append a finished run and its checkpoint to the project records.

    Args:
        records: ``Document.records`` (``"runs"`` and ``"models"`` lists).
        version: the run's model version (number, preset, metrics, run folder).
        volumes: what it trained on, in run-folder order.
        model_version: the checkpoint's id (``result.json``'s ``model_version``).
        checkpoint_sha256: SHA-256 of ``version.checkpoint``.
        axis: the training axis.
        config: the run's ``RunSpec.to_dict()``.
        warm_start: checkpoint it started from, or None.

    Returns:
        The run record appended.
    """
    fields = {
        "number": version.number,
        "model_version": model_version,
        "preset": version.preset,
        "created": version.created,
        "stopped_early": version.stopped_early,
        "axis": axis,
        "label_hash": version.label_hash,
        "labeled_slices": sum(v.labeled_slices for v in volumes),
        "volumes": [
            {
                "volume": v.volume,
                "name": v.name,
                "labeled_slices": v.labeled_slices,
                "label_hash": v.label_hash,
            }
            for v in volumes
        ],
        "metrics": {k: float(m) for k, m in version.metrics.items()},
        "config": dict(config or {}),
        "warm_start": warm_start,
        "run_dir": str(version.run_dir),
    }
    # plain JSON (lists, not tuples), as a project file gives it back
    run: dict[str, Any] = json.loads(json.dumps(fields))
    records["runs"].append(run)
    records["models"].append(
        {
            "version": model_version,
            "path": str(version.checkpoint),
            "sha256": checkpoint_sha256,
            "format": "checkpoint",
            "run": version.number,
        }
    )
    return run


def record_finished_run(
    records: Records, version: ModelVersion, volumes: Sequence[RunVolume], request: RunRequest
) -> dict[str, Any]:
    """Record a run the child finished: ``record_run`` with its ``result.json`` and request.

    The checkpoint's SHA-256 comes from ``result.json`` (the child hashes the file it wrote);
    it is computed here when the child did not say.

    Args:
        records: ``Document.records``.
        version: the finished run.
        volumes: what it trained on, in run-folder order.
        request: what it was asked to do (config, axis, warm start).

    Returns:
        The run record appended.
    """
    result = version.folder.read_result()
    sha256 = str(result.get("model_sha256") or "")
    if not sha256 and version.checkpoint.is_file():
        sha256 = file_sha256(version.checkpoint)
    return record_run(
        records,
        version,
        volumes,
        str(result.get("model_version") or ""),
        sha256,
        axis=request.axis,
        config=request.spec.to_dict(),
        warm_start=request.init,
    )


def record_export(
    records: Records, checkpoint: Path, onnx_path: Path, sha256: str, model_version: str
) -> dict[str, Any]:
    """Append an ONNX export of a checkpoint to the project's model records.

    Args:
        records: ``Document.records``.
        checkpoint: the exported ``model.pt``.
        onnx_path: the written ``.onnx`` file.
        sha256: its SHA-256.
        model_version: the model's id (from the ONNX metadata).

    Returns:
        The model record appended (``run`` is None for a checkpoint no run of this project
        recorded).
    """
    source = next(
        (
            m
            for m in records["models"]
            if m.get("format") == "checkpoint" and m.get("path") == str(checkpoint)
        ),
        None,
    )
    entry = {
        "version": model_version,
        "path": str(onnx_path),
        "sha256": sha256,
        "format": "onnx",
        "run": None if source is None else source.get("run"),
        "checkpoint": str(checkpoint),
    }
    records["models"].append(entry)
    return entry


def models_of_run(records: Records, number: int) -> list[dict[str, Any]]:
    """The model records (checkpoint, exports) of run ``number``."""
    return [m for m in records["models"] if m.get("run") == number]


def next_run_number(records: Records) -> int:
    """The number after every recorded run's (1 for a project without runs)."""
    return 1 + max((int(r.get("number", 0)) for r in records["runs"]), default=0)
