"""What one training run of the assist loop is asked to do, and what it says (no Qt).

``PendingRun`` is a run between Start and its outcome; ``run_spec`` and ``run_request`` build the
child's ``RunSpec`` and ``RunRequest`` from the open document; ``started_text`` and
``finished_text`` are the panel's status lines at the start and the end of a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.state.document import Document
from app.state.model_version import ModelVersion
from app.state.training_runs import RunVolume
from ugpcl_engine import RunRequest, RunSpec, Started, default_threads, preset

AXIS = "z"  # the default training axis: axial (training and suggestions follow the chosen one)
AXIS_WORDS = {"z": "axial", "y": "coronal", "x": "sagittal"}
PREVIEW_EVERY = {"quick": 10, "standard": 25, "paper": 100}


@dataclass
class PendingRun:
    """A run between Start and its outcome.

    Attributes:
        number: the version number it will get.
        preset: preset name.
        volumes: the snapshot's volumes; the first one is previewed and held out from.
        label_hash: hash of the label snapshot.
        request: what the child was asked.
        device: ``auto``, ``cpu`` or ``cuda``.
        refine: keep refining after this run's model is shown.
        round: refinement round (0: a run the user started).
    """

    number: int
    preset: str
    volumes: list[RunVolume]
    label_hash: str
    request: RunRequest
    device: str = "auto"
    refine: bool = False
    round: int = 0

    @property
    def volume_index(self) -> int:
        """The document volume previewed and held out from."""
        return self.volumes[0].volume

    @property
    def budget_s(self) -> float | None:
        """The run's time budget in seconds from the click (None: the preset's steps)."""
        return self.request.spec.training.time_budget


def run_spec(
    preset_name: str,
    device: str,
    budget_s: float | None,
    num_classes: int,
    overrides: dict[str, Any],
) -> RunSpec:
    """The preset with the run's device, previews and time budget, then ``overrides``.

    Args:
        preset_name: the preset.
        device: ``auto``, ``cpu`` or ``cuda``.
        budget_s: seconds from the click until the first model is shown (None: the preset's
            own budget, 0: none, the preset's steps).
        num_classes: classes of the document's label table.
        overrides: extra ``TrainingConfig`` fields for every run (tests, benchmarks).
    """
    fields: dict[str, Any] = {"device": device, "preview_every": PREVIEW_EVERY.get(preset_name, 20)}
    if budget_s is not None:
        fields["time_budget"] = float(budget_s) if budget_s > 0 else None
    return preset(preset_name, num_classes, **{**fields, **overrides})


def run_request(
    doc: Document,
    spec: RunSpec,
    volumes: list[RunVolume],
    init: Path | None,
    preview: int | None,
    holdout: int | None,
    requested_at: float,
    axis: str = AXIS,
) -> RunRequest:
    """The child's request for a run on ``volumes`` of ``doc``.

    Args:
        doc: the open document.
        spec: ``run_spec``'s result.
        volumes: the snapshot's volumes, the previewed one first.
        init: checkpoint to warm-start from, or None.
        preview: slice (along ``axis``) to preview first (None: no live previews).
        holdout: labeled slice left out for the held-out check, or None.
        requested_at: time of the click (``time.time()``); the budget counts from it.
        axis: the training axis (the marks, the preview and the held-out slice follow it).
    """
    return RunRequest(
        spec,
        doc.table,
        axis,
        doc.item.volume.modality,
        None if init is None else str(init),
        preview,
        holdout,
        default_threads(),
        volume_count=len(volumes),
        modalities=tuple(doc.items[v.volume].volume.modality for v in volumes),
        requested_at=requested_at,
    )


def free_run_dir(runs_root: Path, number: int) -> Path:
    """A run folder for version ``number`` under ``runs_root`` that does not exist yet."""
    attempt = 1
    while (runs_root / f"v{number:03d}-try{attempt}").exists():
        attempt += 1
    return runs_root / f"v{number:03d}-try{attempt}"


def started_text(pending: PendingRun | None, event: Started) -> str:
    """The status line when the child starts training: steps, device, data, budget plan."""
    plan = ""
    if pending is not None and pending.budget_s:
        plan = f" Planned to fit the {pending.budget_s:.0f} s budget"
        if event.budget_seconds is not None:  # the trainer's plan
            crops = f"{event.crop_size}² crops" if event.crop_size else "whole slices"
            plan += f": {crops}, prediction ≈ {event.predict_seconds or 0:.0f} s"
        plan += "."
    if pending is not None and pending.round:
        what = (
            f"Refining in the background (round {pending.round}, v{pending.number}): "
            f"{event.total_steps} steps"
        )
    else:
        what = f"Training {event.total_steps} steps"
    return (
        f"{what} on {event.device}: {event.labeled} labeled + {event.unlabeled} unlabeled "
        f"slices at {event.network_size}².{plan}"
    )


def finished_text(version: ModelVersion, refine: bool) -> str:
    """The status line when a run the user started shows its model."""
    stopped = " (stopped early)" if version.stopped_early else ""
    others = len(version.volumes) - 1
    elsewhere = f" Also predicted {others} other volume(s) (View › Volume)." if others else ""
    more = " Refining in the background…" if refine else ""
    return (
        f"Model v{version.number} ready{stopped}: prediction and uncertainty shown. "
        f"Press N for the most uncertain slice.{elsewhere}{more}"
    )


def ended_notice(version: ModelVersion, refine: bool, stopped: bool) -> tuple[str, str]:
    """How a run the user started ended and one line for a notification.

    Args:
        version: its model; refine: refining goes on; stopped: the user pressed Stop (a
            budget that cut the run short is no stop).

    Returns:
        ``"finished"`` or ``"stopped"``, and the line: the model, its held-out Dice when there
        is one, and what comes next.
    """
    outcome = "stopped" if stopped else "finished"
    dice = version.metrics.get("holdout_dice")
    held_out = f" Held-out Dice {dice:.2f}." if dice is not None else ""
    more = " Refining goes on in the background." if refine else ""
    how = "stopped, model kept" if stopped else "ready"
    text = f"Model v{version.number} {how}: prediction and uncertainty shown."
    return outcome, text + held_out + more


def ready_text(labeled: Sequence[bool] | np.ndarray, axis_name: str = "axial") -> str:
    """What the panel says before the first run: what is labeled, and what to do next.

    Args:
        labeled: the current volume's labeled-slice marks along the training axis.
        axis_name: that axis, in words.
    """
    marked = [int(k) for k in np.flatnonzero(np.asarray(labeled, dtype=bool))]
    if not marked:
        return "Paint a few slices, then press Start."
    shown = ", ".join(str(k) for k in marked[:8]) + (", …" if len(marked) > 8 else "")
    what = "slice is" if len(marked) == 1 else "slices are"
    return (
        f"{len(marked)} {axis_name} {what} already labeled ({shown}): press Start training, "
        "or paint more slices first."
    )


def default_axis(doc: Document | None) -> str:
    """The training axis a document starts with: the one with the most slices marked labeled
    over all its volumes (a user who painted coronal slices trains coronally), axial on a tie
    or when nothing is marked."""
    if doc is None:
        return AXIS
    counts = {a: sum(int(item.labeled[a].sum()) for item in doc.items) for a in ("z", "y", "x")}
    best = max(counts.values())
    return AXIS if counts[AXIS] == best else next(a for a in ("y", "x") if counts[a] == best)
