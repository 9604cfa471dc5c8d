"""Model versions kept with the project (Qt-free): saving the one in use, reading them back.

What a saved project holds of the assist loop, and why:

* **Results of the version in use.** On every save the prediction (uint8) and uncertainty of
  the model version in use are stored with each volume it predicted
  (``Document.store_prediction``, keyed by the checkpoint's ``model_version`` id), once per
  version: a version already stored is not stored again, and the arrays of versions stored by
  earlier saves stay. Versions that were never in use at a save are not stored: the project
  keeps what the user looked at, not every experiment (each array costs about a volume of
  uint8 plus half a volume of float16, see ``app.state.files``).
* **Its checkpoint beside the project.** Run folders stay in a temporary folder: they are
  scratch, removed at the next start once the app that made them is gone
  (``ugpcl_engine.training.scratch``). On save, the checkpoint of the version in use is
  copied into ``<project>.runs/<run folder>/`` (``runs_folder_for``; the file name is
  ``RunFolder.model``'s) by the save worker before the project is written, and its ``models``
  record points there, so the recorded path and SHA-256 stay valid after the app quits. The
  copy is made once; a later save finds it by its SHA-256.
* **Which version was in use.** Each run record gets ``"in_use"`` (True for that one), so a
  roll back survives the save.

Reopening (``restore_versions``): every recorded run whose results are stored in the project,
or whose run folder still holds its arrays, becomes a ``ModelVersion`` again (show, compare,
roll back). The one in use is the recorded one, else the newest, provided its checkpoint file
exists and matches the recorded SHA-256; otherwise the newest that does. A version whose
checkpoint is missing or changed is *view only*: it can be shown and compared, not trained
from or rolled back to, and a one-line note says why (``check_checkpoint``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.state.document import Document, SavePlan
from app.state.model_version import ModelVersion
from ugpcl_engine import RunFolder, file_sha256

Records = dict[str, list[dict[str, Any]]]
RUNS_SUFFIX = ".runs"
_PROJECT_SUFFIX = ".ugpcl"


def runs_folder_for(project_path: Path) -> Path:
    """The folder beside a project that keeps its model files: ``lung.ugpcl`` -> ``lung.runs``."""
    name = project_path.name
    if name.lower().endswith(_PROJECT_SUFFIX):
        name = name[: -len(_PROJECT_SUFFIX)]
    return project_path.with_name(name + RUNS_SUFFIX)


def result_key(run: dict[str, Any]) -> str:
    """The key of a run's results in ``VolumeItem.extras``: its model version id."""
    return str(run.get("model_version") or f"run{run.get('number', 0)}")


def run_record(records: Records, number: int) -> dict[str, Any] | None:
    """The record of run ``number``, or None."""
    return next((r for r in records["runs"] if r.get("number") == number), None)


def checkpoint_record(records: Records, number: int) -> dict[str, Any] | None:
    """The checkpoint's model record of run ``number`` (the last one), or None."""
    found = [m for m in records["models"] if m.get("run") == number]
    checkpoints = [m for m in found if m.get("format") == "checkpoint"]
    return checkpoints[-1] if checkpoints else None


# ----------------------------------------------------------------------------- saving


def keep_version_in_use(doc: Document, version: ModelVersion, plan: SavePlan) -> None:
    """Bring the version in use into the project about to be saved (a ``Document.saving`` slot).

    Stores its results (``store_results``), marks its run record ``in_use`` and adds the copy
    of its checkpoint beside the project to ``plan`` (``bundle_checkpoint``). A version no
    run record of the document knows is left alone.

    Args:
        doc: the document being saved.
        version: the model version in use.
        plan: the save's plan (its ``copies`` may grow).
    """
    run = run_record(doc.records, version.number)
    if run is None:
        return
    for other in doc.records["runs"]:
        other["in_use"] = other is run
    store_results(doc, version, result_key(run))
    copy = bundle_checkpoint(doc.records, version, plan.project_path)
    if copy is not None:
        plan.copies.append(copy)


def store_results(doc: Document, version: ModelVersion, key: str) -> list[int]:
    """Store a version's prediction and uncertainty with each volume it predicted, once.

    Args:
        doc: the document.
        version: the version (results read from memory or its run folder).
        key: the model version id to store them under.

    Returns:
        The volumes newly stored (empty when all were stored before, or the run folder is
        gone).
    """
    stored = []
    for k in version.volumes:
        extras = doc.items[k].extras if k < len(doc.items) else None
        if extras is None or all(key in extras.get(kind, {}) for kind in _KINDS):
            continue
        try:
            doc.store_prediction(k, key, version.prediction_zyx(k), version.uncertainty_zyx(k))
        except (OSError, ValueError):  # run folder cleaned up, or files of another grid
            continue
        stored.append(k)
    return stored


def bundle_checkpoint(
    records: Records, version: ModelVersion, project_path: Path
) -> tuple[Path, Path] | None:
    """Point a version's checkpoint record at its copy beside the project.

    Args:
        records: ``Document.records`` (the checkpoint record's ``path`` is updated).
        version: the version whose checkpoint to keep (usable, file present).
        project_path: the project file being written.

    Returns:
        ``(source, destination)`` when the file must be copied; None when the copy is there
        already (the version then uses it) or there is nothing valid to copy.
    """
    model = checkpoint_record(records, version.number)
    source = version.checkpoint
    if model is None or version.view_only or not source.is_file():
        return None
    kept = RunFolder(runs_folder_for(project_path.absolute()) / version.run_dir.name)
    destination = kept.model
    model["path"] = str(destination)
    if source.absolute() == destination:
        return None
    if destination.is_file() and _sha256(destination) == model.get("sha256"):
        version.checkpoint_file = destination  # copied by an earlier save
        return None
    return source, destination


# ----------------------------------------------------------------------------- reopening


@dataclass(frozen=True)
class Restored:
    """Model versions read back from a project.

    Attributes:
        versions: oldest first.
        current: index of the one to use, or None without versions.
        notes: one line per view-only version found, then which version warm starts use.
    """

    versions: list[ModelVersion]
    current: int | None
    notes: list[str]


def restore_versions(doc: Document) -> Restored:
    """Rebuild the model versions of a reopened project (see the module docstring).

    Only the checkpoints needed to choose the version in use are hashed; the others are
    checked when the user rolls back to them.

    Args:
        doc: a document read from a project (``records`` and stored results).

    Returns:
        The versions, the one in use and the notes to show.
    """
    versions = [v for run in doc.records["runs"] if (v := _restored(doc, run)) is not None]
    if not versions:
        return Restored([], None, [])
    in_use = [k for k, v in enumerate(versions) if _was_in_use(doc.records, v)]
    order = in_use + [k for k in reversed(range(len(versions))) if k not in in_use]
    usable = next((k for k in order if not check_checkpoint(versions[k], doc.records)), None)
    notes = [v.view_only for v in versions if v.view_only]
    if usable is not None and notes:
        notes.append(f"Warm starts use v{versions[usable].number}.")
    return Restored(versions, order[0] if usable is None else usable, notes)


def check_checkpoint(version: ModelVersion, records: Records) -> str:
    """Compare a version's model file with its record, once; "" when it is usable.

    Args:
        version: a version (``checked`` False: read back from a project).
        records: ``Document.records`` (the recorded SHA-256).

    Returns:
        ``version.view_only``: "" or a one-line note (the file is missing or differs).
    """
    if version.checked:
        return version.view_only
    version.checked = True
    model = checkpoint_record(records, version.number)
    path = version.checkpoint
    if not path.is_file():
        version.view_only = f"v{version.number} is view only: its model file {path} is missing."
    elif model is None or not model.get("sha256") or _sha256(path) != model["sha256"]:
        version.view_only = (
            f"v{version.number} is view only: its model file {path} is not the one recorded "
            "with the project (SHA-256 differs)."
        )
    return version.view_only


_KINDS = ("predictions", "uncertainty")


def _sha256(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError:
        return ""


def _was_in_use(records: Records, version: ModelVersion) -> bool:
    run = run_record(records, version.number)
    return run is not None and bool(run.get("in_use"))


def _stored(doc: Document, k: int, key: str) -> tuple[np.ndarray, np.ndarray] | None:
    if not 0 <= k < len(doc.items):
        return None
    item = doc.items[k]
    pred = item.extras.get("predictions", {}).get(key)
    entropy = item.extras.get("uncertainty", {}).get(key)
    shape = tuple(item.volume.geometry.shape_zyx)
    if pred is None or entropy is None or pred.shape != shape or entropy.shape != shape:
        return None
    return pred, entropy


def _restored(doc: Document, run: dict[str, Any]) -> ModelVersion | None:
    """A recorded run as a version, or None when neither the project nor its run folder
    holds its results."""
    number, key = int(run.get("number", 0)), result_key(run)
    indices = [int(v.get("volume", 0)) for v in run.get("volumes") or []] or [0]
    results = {k: held for k in indices if (held := _stored(doc, k, key)) is not None}
    run_dir = Path(str(run.get("run_dir") or ""))
    on_disk = bool(run.get("run_dir")) and RunFolder(run_dir).has_results(len(indices))
    if not results and not on_disk:
        return None
    model = checkpoint_record(doc.records, number)
    volumes = tuple(indices) if on_disk else tuple(results)
    return ModelVersion(
        number,
        run_dir,
        str(run.get("preset", "")),
        int(run.get("labeled_slices", 0)),
        str(run.get("label_hash", "")),
        {k: float(m) for k, m in (run.get("metrics") or {}).items()},
        created=str(run.get("created", "")),
        stopped_early=bool(run.get("stopped_early")),
        volume_index=volumes[0],
        volume_indices=volumes,
        results=results,
        checkpoint_file=Path(model["path"]) if model and model.get("path") else None,
        checked=False,
    )
