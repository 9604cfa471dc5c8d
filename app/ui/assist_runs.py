"""Training runs of the assist loop: start, follow and finish one (a mixin of ``AssistController``).

A run snapshots the labels of the volume shown and of every other volume with the same classes
(``training_runs.training_volumes``), optionally with a time budget (the first model is shown
within it: it counts from the click, ``RunRequest.requested_at``, so the child takes the
snapshot's writing and its own start-up out of it). The child's events become the
panel's status, progress and live preview; a finished run becomes a ``ModelVersion``. Rounds of
*Keep refining* (``app.ui.assist_refine``) start here too and are judged there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from app.jobs.training_supervisor import RunOutcome
from app.state.refinement import Refinement, RefineSettings, Round
from app.state.training_runs import (
    RunVolume,
    record_finished_run,
    run_hash,
    run_volumes,
    skipped_note,
    training_volumes,
)
from app.state.training_session import (
    LivePreview,
    ModelVersion,
    TrainingSession,
    holdout_slice,
    version_from_result,
)
from app.ui import dialogs
from app.ui.assist_review import AXIS
from app.ui.training_panel import TrainingPanel
from app.ui.uncertainty_overlay import AssistOverlays
from ugpcl_engine.config import RunSpec, preset
from ugpcl_engine.errors import InputError
from ugpcl_engine.training.run_folder import RunRequest, default_threads

PREVIEW_EVERY = {"quick": 10, "standard": 25, "paper": 100}


@dataclass
class _Pending:
    number: int
    preset: str
    volumes: list[RunVolume]  # the first one is previewed and held out from
    label_hash: str
    request: RunRequest
    device: str = "auto"
    refine: bool = False  # keep refining after this run's model is shown
    round: int = 0  # refinement round (0: a run the user started)

    @property
    def volume_index(self) -> int:
        return self.volumes[0].volume

    @property
    def budget_s(self) -> float | None:
        """The run's time budget in seconds from the click (None: the preset's steps)."""
        return self.request.spec.training.time_budget


class RunActions:
    """Starting and following training runs (mixed into ``AssistController``)."""

    ws: Any
    window: Any
    session: TrainingSession
    panel: TrainingPanel
    overlays: AssistOverlays
    supervisor: Any
    overrides: dict[str, Any]
    runs_root: Path
    refinement: Refinement
    result_ready: Any
    run_failed: Any
    _pending: _Pending | None
    _user_stopped: bool

    if TYPE_CHECKING:  # provided by the other mixins of AssistController

        def _end_refining(self, reason: str) -> None: ...

        def _begin_refining(self, base: ModelVersion, settings: RefineSettings) -> None: ...

        def _round_finished(self, version: ModelVersion) -> None: ...

        def _round_lost(self) -> None: ...

        def _rank(self, version: ModelVersion) -> None: ...

        def _redraw(self) -> None: ...

    # -- training ----------------------------------------------------------------------------
    def start_training(
        self,
        preset_name: str,
        device: str,
        budget_s: float | None = None,
        refine: bool = False,
    ) -> bool:
        """Snapshot the labels and start a run; return False (with a message) when not possible.

        The run trains on the volume shown and every other volume with the same label classes
        (``training_runs.training_volumes``); the others are named in the status bar.

        Args:
            preset_name: the preset.
            device: ``auto``, ``cpu`` or ``cuda``.
            budget_s: seconds from now until the first model is shown (0: no budget, the
                preset's steps; None: the preset's own budget).
            refine: keep refining in the background once the model is shown.
        """
        clicked = time.time()  # the budget counts from here: the snapshot's writing included
        doc = self.ws.doc
        if doc is None:
            dialogs.show_error(self.window, "Training", "Open an image and paint a few slices.")
            return False
        if self.supervisor.running:
            return False
        self._end_refining("A new run was started; refining stopped.")
        choice = training_volumes(doc)
        volumes = run_volumes(doc, choice.indices, AXIS)
        number = self.session.next_number()
        init = self.session.warm_start(preset_name)
        request = self._request(
            self._spec(preset_name, device, budget_s),
            volumes,
            init,
            self.ws.view.slice_index(AXIS),
            holdout_slice(volumes[0].snapshot.labeled, number),
            clicked,
        )
        pending = _Pending(number, preset_name, volumes, run_hash(volumes), request, device, refine)
        if not self._start(pending):
            return False
        warm = " (warm start from the current model)" if init else ""
        on = f" on {len(volumes)} volumes" if len(volumes) > 1 else ""
        within = f" within {pending.budget_s:.0f} s" if pending.budget_s else ""
        self.panel.set_status(f"Training v{number}{on}{within}, preset {preset_name}{warm}…")
        note = skipped_note(doc, choice.skipped)
        if note:
            self.window.statusBar().showMessage(note, 20000)
        return True

    def _launch_round(self, round_: Round, volumes: list[RunVolume]) -> bool:
        """Start refinement round ``round_`` on ``volumes`` (no live previews: the best model's
        overlay stays on screen); return False when it could not start."""
        settings = round_.settings
        number = self.session.next_number()
        spec = self._spec(settings.preset, settings.device, settings.budget_s or 0.0)
        request = self._request(
            spec, volumes, round_.init, None, settings.holdout_slice, time.time()
        )
        pending = _Pending(
            number,
            settings.preset,
            volumes,
            settings.label_hash,
            request,
            settings.device,
            round=round_.number,
        )
        if not self._start(pending):
            return False
        best = self.refinement.best
        shown = f"v{best.number}" if best is not None else "the best model"
        self.panel.set_status(
            f"Refining in the background: round {round_.number} of "
            f"{self.refinement.max_rounds} (v{number}, warm start from {shown}); {shown} stays "
            "shown unless it is better. Stop keeps the best model."
        )
        return True

    def _spec(self, preset_name: str, device: str, budget_s: float | None) -> RunSpec:
        """The preset with the run's device, previews and time budget (None: the preset's own,
        0: none), then ``overrides``."""
        overrides: dict[str, Any] = {
            "device": device,
            "preview_every": PREVIEW_EVERY.get(preset_name, 20),
        }
        if budget_s is not None:
            overrides["time_budget"] = float(budget_s) if budget_s > 0 else None
        num_classes = self.ws.doc.table.num_classes
        return preset(preset_name, num_classes, **{**overrides, **self.overrides})

    def _request(
        self,
        spec: RunSpec,
        volumes: list[RunVolume],
        init: Path | None,
        preview: int | None,
        holdout: int | None,
        requested_at: float,
    ) -> RunRequest:
        doc = self.ws.doc
        return RunRequest(
            spec,
            doc.table,
            AXIS,
            doc.item.volume.modality,
            None if init is None else str(init),
            preview,
            holdout,
            default_threads(),
            volume_count=len(volumes),
            modalities=tuple(doc.items[v.volume].volume.modality for v in volumes),
            requested_at=requested_at,
        )

    def _start(self, pending: _Pending) -> bool:
        """Write the snapshot and start the child; False (with a message) when it cannot."""
        run_dir = self._free_run_dir(pending.number)
        try:
            self.supervisor.start(run_dir, [v.snapshot for v in pending.volumes], pending.request)
        except InputError as err:
            dialogs.show_error(self.window, "Training", str(err))
            return False
        self._pending, self._user_stopped = pending, False
        self.session.begin_run()
        self.panel.holdout.setText("")
        self.panel.show_busy("Starting the training process…")
        return True

    def _free_run_dir(self, number: int) -> Path:
        attempt = 1
        while (self.runs_root / f"v{number:03d}-try{attempt}").exists():
            attempt += 1
        return self.runs_root / f"v{number:03d}-try{attempt}"

    def _started(self, event: Any) -> None:
        pending = self._pending
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
        self.panel.set_status(
            f"{what} on {event.device}: {event.labeled} labeled + {event.unlabeled} unlabeled "
            f"slices at {event.network_size}².{plan}"
        )

    def _progress(self, event: Any) -> None:
        self.panel.show_progress(event.step, event.total, event.eta)
        self.session.record_losses(event.step, event.losses)

    def _preview(self, event: Any) -> None:
        preview = LivePreview(event.step, event.slice_index, event.labels_hw, event.entropy_hw)
        self.session.set_preview(preview)

    def _predicting_text(self) -> str:
        count = 1 if self._pending is None else len(self._pending.volumes)
        return f"Predicting {count} volumes…" if count > 1 else "Predicting the whole volume…"

    def _finished(self, outcome: RunOutcome) -> None:
        pending, self._pending = self._pending, None
        doc = self.ws.doc
        if pending is None or doc is None:
            return
        version = version_from_result(
            pending.number,
            outcome.run_dir,
            pending.preset,
            np.concatenate([v.snapshot.labeled for v in pending.volumes]),
            pending.label_hash,
            outcome.finished,
            pending.volume_index,
            tuple(v.volume for v in pending.volumes),
        )
        record_finished_run(doc.records, version, pending.volumes, pending.request)
        doc.modified = True  # the run records are saved with the project
        self.session.preview = None
        self.overlays.set_preview(None, np.zeros(0), np.zeros(0))
        if pending.round:
            self._round_finished(version)
            return
        self.session.add_version(version)
        self.panel.show_idle(f"v{version.number} ready")
        stopped = " (stopped early)" if version.stopped_early else ""
        others = len(version.volumes) - 1
        elsewhere = f" Also predicted {others} other volume(s) (View › Volume)." if others else ""
        refine = pending.refine and not self._user_stopped
        more = " Refining in the background…" if refine else ""
        self.panel.set_status(
            f"Model v{version.number} ready{stopped}: prediction and uncertainty shown. "
            f"Press N for the most uncertain slice.{elsewhere}{more}"
        )
        self.result_ready.emit(version)
        self._rank(version)
        if refine:
            settings = RefineSettings(
                pending.preset,
                pending.device,
                pending.budget_s,
                tuple(v.volume for v in pending.volumes),
                pending.label_hash,
                pending.request.holdout_slice,
            )
            self._begin_refining(version, settings)

    def _failed(self, message: str) -> None:
        self._pending = None
        self._ended("Training failed. " + message)
        self._round_lost()
        dialogs.show_error(self.window, "Training failed", message)
        self.run_failed.emit(message)

    def _cancelled(self) -> None:
        self._ended("Run discarded; the previous model stays.")
        self._round_lost()

    def _ended(self, text: str) -> None:
        self._pending = None
        self.session.preview = None
        self.overlays.set_preview(None, np.zeros(0), np.zeros(0))
        self.panel.show_idle("idle")
        self.panel.set_status(text)
        self._redraw()
