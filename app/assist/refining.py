"""Keep refining: continuation runs after a time-budgeted run (part of the training controller).

The decisions live in ``app.state.refinement.Refinement`` (Qt-free); ``Refiner`` carries them
out. After the first model of a run with *Keep refining* on is shown, the next round is started
from the event loop (never blocking it): same preset, device, budget, volumes and held-out
slice, warm-started from the best model so far, without live previews (the best model's overlay
stays on screen). A finished round is listed in Versions; it becomes the model in use (and is
shown) only when it is better. Stop, Discard, switching Keep refining off, choosing another
version, editing labels or starting another run end refining.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.assist.review import ReviewController
from app.jobs.training_supervisor import TrainingSupervisor
from app.state.model_version import ModelVersion
from app.state.refinement import Refinement, RefineSettings, Round
from app.state.training_runs import RunVolume, run_hash, run_volumes
from app.state.training_session import TrainingSession
from app.state.workspace import Workspace

LABELS_CHANGED = (
    "Labels changed: refining stopped, so that no round trains on the old labels. Press Start "
    "to train on the new ones."
)
LaunchRound = Callable[[Round, list[RunVolume]], bool]


class Refiner(QObject):
    """Runs the rounds of keep refining.

    Args:
        workspace: the open document (the rounds' volumes).
        session: the versions (a round is listed, and used when better).
        supervisor: the training child (is a round running; stop it).
        review: shows and ranks a round that is better.
        launch: starts a round on its volumes; False when it could not start.
        parent: owning QObject.

    Attributes:
        refinement: the keep-refining state.

    Signals:
        status(str), idle(str): the panel's status line and the caption of its idle bar.
        round_judged(object, bool): a round's ``ModelVersion`` and whether it is now shown.
        refine_ended(str): refining is over and no round runs any more (the reason).
    """

    status = Signal(str)
    idle = Signal(str)
    round_judged = Signal(object, bool)
    refine_ended = Signal(str)

    def __init__(
        self,
        workspace: Workspace,
        session: TrainingSession,
        supervisor: TrainingSupervisor,
        review: ReviewController,
        launch: LaunchRound,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ws, self.session, self.supervisor, self.review = workspace, session, supervisor, review
        self._launch = launch
        self.refinement = Refinement()
        self._reported = True  # refine_ended was emitted for the refinement begun last

    def reset(self) -> None:
        """Forget refining (another document)."""
        self.refinement, self._reported = Refinement(), True

    # -- the user -------------------------------------------------------------------------
    def stop_refining(self, reason: str) -> None:
        """End refining; a running round stops early and keeps its model (it is still judged)."""
        if self.refinement.in_round and self.supervisor.running:
            self.supervisor.stop()
        self.end(reason)

    def set_refine(self, on: bool) -> None:
        """Keep refining was switched on or off."""
        if not on and self.refinement.active:
            self.stop_refining("Keep refining switched off; the best model so far stays shown.")

    def labels_edited(self) -> None:
        """The labels changed: a round must not train on the old snapshot."""
        if self.refinement.active:
            self.stop_refining(LABELS_CHANGED)

    # -- rounds -----------------------------------------------------------------------------
    def begin(self, base: ModelVersion, settings: RefineSettings) -> None:
        """The first model is shown: refine it from the event loop."""
        self.refinement.begin(base, settings)
        self._reported = False
        QTimer.singleShot(0, self, self._next_round)

    def _next_round(self) -> None:
        """Start the next round, unless refining ended or the labels changed meanwhile."""
        doc, settings = self.ws.doc, self.refinement.settings
        if not self.refinement.active or doc is None or settings is None:
            self._over()
            return
        if self.supervisor.running:  # another run took over; it ended refining
            return
        if max(settings.volumes) >= len(doc.items):
            self.end("The volumes changed: refining stopped.")
            return
        volumes = run_volumes(doc, settings.volumes, self.session.axis)
        if run_hash(volumes) != settings.label_hash:  # belt and braces: edits also stop it
            self.end(LABELS_CHANGED)
            return
        round_ = self.refinement.next_round()
        if round_ is None:
            self._over()
            return
        if not self._launch(round_, volumes):
            self.refinement.abandon_round()
            self.end("Refining stopped: the next round could not start.")

    def round_finished(self, version: ModelVersion) -> None:
        """Judge a finished round: list it, use it only when better, then go on or end."""
        before = self.refinement.best
        verdict = self.refinement.judge(version)
        # the user may have chosen another version meanwhile: never override that choice
        use = verdict.improved and self.session.current_version is before
        self.session.add_version(version, make_current=use)
        self.review.show_version()
        text = verdict.text
        if verdict.improved and not use:
            text = f"v{version.number} is better but you chose another version; it is listed."
        self.idle.emit(f"v{version.number} shown" if use else "idle")
        self.status.emit(text)
        if use:
            self.review.rank(version)
        self.round_judged.emit(version, use)
        if verdict.more:
            QTimer.singleShot(0, self, self._next_round)
        else:
            self._over()

    def round_lost(self) -> None:
        """The running round was discarded or failed: refining ends, the best stays shown."""
        if self.refinement.in_round:
            self.refinement.abandon_round()
            self.refinement.stop("Refining stopped; the best model so far stays shown.")
            self._over()

    def end(self, reason: str) -> None:
        """Stop refining for ``reason`` (a running round finishes and is judged)."""
        if not self.refinement.stop(reason):
            return
        if self.refinement.in_round:
            self.status.emit(f"{reason} Finishing the running round…")
        else:
            self.status.emit(reason)
            self._over()

    def _over(self) -> None:
        """Say once that refining is over, when no round runs any more."""
        r = self.refinement
        if r.active or r.in_round or self._reported:
            return
        self._reported = True
        self.refine_ended.emit(r.reason)
