"""The training controller of the assist loop: start, follow and finish training runs.

A run snapshots the labels of the volume shown and of every other volume with the same classes
(``training_runs.training_volumes``), optionally with a time budget (the first model is shown
within it: it counts from the click, ``RunRequest.requested_at``, so the child takes the
snapshot's writing and its own start-up out of it). The child's events go to the session
(``TrainingSession.apply``: progress, losses, live preview, held-out check, stage); a finished
run becomes a ``ModelVersion``, shown and ranked by the review controller. Rounds of *Keep
refining* (``app.assist.refining``) start here too and are judged there.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.assist.refining import Refiner
from app.assist.review import ReviewController
from app.assist.run_plan import (
    PendingRun,
    ended_notice,
    finished_text,
    free_run_dir,
    run_request,
    run_spec,
    started_text,
)
from app.jobs.training_supervisor import RunOutcome, TrainingSupervisor
from app.state.model_version import version_from_result
from app.state.refinement import Refinement, RefineSettings, Round
from app.state.training_runs import (
    RunVolume,
    record_finished_run,
    run_hash,
    run_volumes,
    skipped_note,
    training_volumes,
)
from app.state.training_session import TrainingSession, holdout_slice
from app.state.workspace import Workspace
from ugpcl_engine import InputError, Started, claim_runs_root

log = logging.getLogger(__name__)

QUIT_WAIT_S = 2.0  # a quitting user waits at most this long for the child to stop


class TrainingController(QObject):
    """Starts training runs and turns their outcome into model versions.

    Args:
        workspace: the open document and the view (the slice previewed).
        session: the assist loop's state.
        supervisor: the training child.
        review: shows and ranks a finished run's model.
        runs_root: where run folders go (when None: this process's folder under the temporary
            directory, ``ugpcl_engine.training.scratch``: they are scratch, removed at the next
            start once this process is gone; on save the checkpoint of the version in use is
            copied beside the project, see ``app.state.version_store``).
        parent: owning QObject.

    Attributes:
        overrides: extra ``TrainingConfig`` fields for every run (tests, benchmarks).
        pending: the run between Start and its outcome, or None.
        refiner: keep refining (``refiner.refinement`` is its state).

    Signals:
        status(str): the panel's status line.
        busy(str): an indeterminate progress bar with this caption.
        idle(str): a stopped progress bar with this caption.
        note(str): a longer-lived status-bar message.
        error(str, str): a dialog's title and message (what went wrong, what to do).
        result_ready(object): a new ``ModelVersion`` of a run the user started is shown.
        run_failed(str): a run failed (the message went out on ``error`` first).
        round_judged(object, bool): a refinement round's version, and whether it is shown.
        refine_ended(str): refining is over (why) and no round runs any more.
        run_ended(str, str): a run ended: ``"finished"`` or ``"stopped"`` (a run the user
            started shows its model) or ``"failed"`` (any run, said before the error dialog
            opens), and one line saying what happened (for a notification while the window is
            in the background).
        run_started(object): the ``PendingRun`` of a run (or round) whose child was started.
    """

    status = Signal(str)
    busy = Signal(str)
    idle = Signal(str)
    note = Signal(str)
    error = Signal(str, str)
    result_ready = Signal(object)
    run_failed = Signal(str)
    round_judged = Signal(object, bool)
    refine_ended = Signal(str)
    run_ended = Signal(str, str)
    run_started = Signal(object)

    def __init__(
        self,
        workspace: Workspace,
        session: TrainingSession,
        supervisor: TrainingSupervisor,
        review: ReviewController,
        runs_root: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ws, self.session, self.supervisor, self.review = workspace, session, supervisor, review
        self.runs_root = runs_root or claim_runs_root().path  # stale roots swept first
        self.overrides: dict[str, Any] = {}
        self.pending: PendingRun | None = None
        self._user_stopped = False
        self.refiner = Refiner(workspace, session, supervisor, review, self._launch_round, self)
        for mine, theirs in (
            (self.status, self.refiner.status),
            (self.idle, self.refiner.idle),
            (self.round_judged, self.refiner.round_judged),
            (self.refine_ended, self.refiner.refine_ended),
        ):
            theirs.connect(mine)
        supervisor.started.connect(self._started)
        supervisor.reported.connect(session.apply)
        supervisor.finished.connect(self._finished)
        supervisor.failed.connect(self._failed)
        supervisor.cancelled.connect(self._cancelled)
        workspace.view.changed.connect(self._view_changed)

    @property
    def refinement(self) -> Refinement:
        """The keep-refining state (``app.state.refinement.Refinement``)."""
        return self.refiner.refinement

    # -- the user ----------------------------------------------------------------------------
    def start(
        self,
        preset_name: str,
        device: str,
        budget_s: float | None = None,
        refine: bool = False,
    ) -> bool:
        """Snapshot the labels and start a run; return False (with a message) when not possible.

        The run trains on the volume shown and every other volume with the same label classes
        (``training_runs.training_volumes``); the others are named in a ``note``.

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
            self.error.emit("Training", "Open an image and paint a few slices.")
            return False
        if self.supervisor.running:
            return False
        self.refiner.end("A new run was started; refining stopped.")
        choice = training_volumes(doc)
        axis = self.session.axis
        volumes = run_volumes(doc, choice.indices, axis)
        number = self.session.next_number()
        init = self.session.warm_start(preset_name)
        spec = run_spec(preset_name, device, budget_s, doc.table.num_classes, self.overrides)
        here = self.ws.view.slice_index(axis)
        holdout = holdout_slice(volumes[0].snapshot.labeled, number)
        request = run_request(doc, spec, volumes, init, here, holdout, clicked, axis)
        pending = PendingRun(
            number, preset_name, volumes, run_hash(volumes), request, device, refine
        )
        if not self._start(pending):
            return False
        warm = " (warm start from the current model)" if init else ""
        on = f" on {len(volumes)} volumes" if len(volumes) > 1 else ""
        within = f" within {pending.budget_s:.0f} s" if pending.budget_s else ""
        self.status.emit(f"Training v{number}{on}{within}, preset {preset_name}{warm}…")
        note = skipped_note(doc, choice.skipped)
        if note:
            self.note.emit(note)
        return True

    def stop(self) -> None:
        """Stop & keep: the run keeps its model so far; refining ends, the best stays shown."""
        self._user_stopped = True
        self.refiner.end("You stopped refining; the best model so far stays shown.")
        self.supervisor.stop()

    def discard(self) -> None:
        """End the running run now and discard it."""
        self.supervisor.cancel()

    def stop_refining(self, reason: str) -> None:
        """End refining (a running round stops early, keeps its model and is judged)."""
        self.refiner.stop_refining(reason)

    def set_refine(self, on: bool) -> None:
        """Keep refining was switched on or off in the panel."""
        self.refiner.set_refine(on)

    def labels_edited(self) -> None:
        """The labels changed: refining must not go on with the old snapshot."""
        self.refiner.labels_edited()

    def document_replaced(self) -> None:
        """Another document: refining ends, a running run is discarded."""
        self.refiner.end("Another document was opened: refining stopped.")
        self.supervisor.cancel()
        self.refiner.reset()

    def quit_needs_consent(self) -> bool:
        """True when quitting would discard a run the user started (not a background round)."""
        refining = self.pending is not None and self.pending.round > 0
        return self.supervisor.running and not refining

    def shut_down(self) -> None:
        """The window closes: no round starts after this, a running child is stopped."""
        self.refinement.stop("The window was closed.")
        if self.supervisor.running:
            self.refinement.abandon_round()
            self.supervisor.shutdown(QUIT_WAIT_S)

    # -- starting ----------------------------------------------------------------------------
    def _launch_round(self, round_: Round, volumes: list[RunVolume]) -> bool:
        """Start refinement round ``round_`` on ``volumes`` (no live previews: the best model's
        overlay stays on screen); return False when it could not start."""
        doc, settings = self.ws.doc, round_.settings
        assert doc is not None
        number = self.session.next_number()
        budget = settings.budget_s or 0.0
        spec = run_spec(
            settings.preset, settings.device, budget, doc.table.num_classes, self.overrides
        )
        request = run_request(
            doc,
            spec,
            volumes,
            round_.init,
            None,
            settings.holdout_slice,
            time.time(),
            self.session.axis,
        )
        pending = PendingRun(
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
        self.status.emit(
            f"Refining in the background: round {round_.number} of "
            f"{self.refinement.max_rounds} (v{number}, warm start from {shown}); {shown} stays "
            "shown unless it is better. Stop keeps the best model."
        )
        return True

    def _start(self, pending: PendingRun) -> bool:
        """Write the snapshot and start the child; False (with a message) when it cannot."""
        run_dir = free_run_dir(self.runs_root, pending.number)
        try:
            self.supervisor.start(run_dir, [v.snapshot for v in pending.volumes], pending.request)
        except InputError as err:
            log.warning("training run %d did not start: %s", pending.number, err)
            self.error.emit("Training", str(err))
            return False
        log.info(
            "training run %d started in %s (preset %s)", pending.number, run_dir, pending.preset
        )
        self.pending, self._user_stopped = pending, False
        self.session.begin_run(tuple(v.volume for v in pending.volumes))
        self.busy.emit("Starting the training process…")
        self.run_started.emit(pending)
        return True

    # -- following ---------------------------------------------------------------------------
    def _view_changed(self, what: str) -> None:
        """Preview the slice the user looks at (on the volume being trained on)."""
        doc, pending = self.ws.doc, self.pending
        on_training_volume = pending is None or (
            doc is not None and pending.volume_index == doc.current
        )
        if what == "cursor" and doc is not None and on_training_volume:
            axis = self.pending.request.axis if self.pending is not None else self.session.axis
            self.supervisor.set_preview_slice(self.ws.view.slice_index(axis))

    def _started(self, event: Started) -> None:
        self.status.emit(started_text(self.pending, event))

    def _finished(self, outcome: RunOutcome) -> None:
        pending, self.pending = self.pending, None
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
        log.info(
            "training run %d finished: model v%d in %s",
            pending.number,
            version.number,
            outcome.run_dir,
        )
        doc.modified = True  # the run records are saved with the project
        self.session.end_run()
        if pending.round:
            self.refiner.round_finished(version)
            return
        self.session.add_version(version)
        self.review.show_version()
        self.idle.emit(f"v{version.number} ready")
        refine = pending.refine and not self._user_stopped
        self.status.emit(finished_text(version, refine))
        self.run_ended.emit(*ended_notice(version, refine, self._user_stopped))
        self.result_ready.emit(version)
        self.review.rank(version)
        if refine:
            settings = RefineSettings(
                pending.preset,
                pending.device,
                pending.budget_s,
                tuple(v.volume for v in pending.volumes),
                pending.label_hash,
                pending.request.holdout_slice,
            )
            self.refiner.begin(version, settings)

    def _failed(self, message: str) -> None:
        log.warning("training run failed: %s", message)
        self._ended("Training failed. " + message)
        self.run_ended.emit("failed", message)  # before the (modal) error dialog
        self.refiner.round_lost()
        self.error.emit("Training failed", message)
        self.run_failed.emit(message)

    def _cancelled(self) -> None:
        log.info("training run stopped and discarded")
        self._ended("Run discarded; the previous model stays.")
        self.refiner.round_lost()

    def _ended(self, text: str) -> None:
        self.pending = None
        self.session.end_run()
        self.idle.emit("idle")
        self.status.emit(text)
