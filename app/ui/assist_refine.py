"""Keep refining: continuation runs after a time-budgeted run (a mixin of ``AssistController``).

The decisions live in ``app.state.refinement.Refinement`` (Qt-free); this module wires them to
the supervisor's signals. After the first model of a run with *Keep refining* on is shown, the
next round is started from the event loop (never blocking it): same preset, device, budget,
volumes and held-out slice, warm-started from the best model so far, without live previews (the
best model's overlay stays on screen). A finished round is listed in Versions; it becomes the
model in use (and is shown) only when it is better. Stop, Discard, switching Keep refining off,
choosing another version, editing labels or starting another run end refining.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal

from app.state.refinement import Refinement, RefineSettings, Round
from app.state.training_runs import RunVolume, run_hash, run_volumes
from app.state.training_session import ModelVersion, TrainingSession
from app.ui.assist_review import AXIS
from app.ui.training_panel import TrainingPanel

LABELS_CHANGED = (
    "Labels changed: refining stopped, so that no round trains on the old labels. Press Start "
    "to train on the new ones."
)


class RefineActions:
    """Keep-refining wiring (mixed into ``AssistController``, a ``QObject``).

    Signals (declared on the controller):
        round_judged(object, bool): a round's ``ModelVersion`` and whether it is now shown.
        refine_ended(str): refining is over and no round runs any more (the reason).
    """

    ws: Any
    session: TrainingSession
    panel: TrainingPanel
    supervisor: Any
    refinement: Refinement
    round_judged: Signal
    refine_ended: Signal
    _user_stopped: bool
    _refine_reported: bool  # refine_ended was emitted for the refinement begun last

    if TYPE_CHECKING:  # provided by the other mixins of AssistController

        def _launch_round(self, round_: Round, volumes: list[RunVolume]) -> bool: ...

        def _rank(self, version: ModelVersion) -> None: ...

    # -- the user -------------------------------------------------------------------------
    def stop_training(self) -> None:
        """Stop & keep: the run keeps its model so far; refining ends, the best stays shown."""
        self._user_stopped = True
        self._end_refining("You stopped refining; the best model so far stays shown.")
        self.supervisor.stop()

    def stop_refining(self, reason: str) -> None:
        """End refining; a running round stops early and keeps its model (it is still judged)."""
        if self.refinement.in_round and self.supervisor.running:
            self.supervisor.stop()
        self._end_refining(reason)

    def _refine_toggled(self, on: bool) -> None:
        if not on and self.refinement.active:
            self.stop_refining("Keep refining switched off; the best model so far stays shown.")

    def _labels_edited(self) -> None:
        if self.refinement.active:
            self.stop_refining(LABELS_CHANGED)

    # -- rounds -----------------------------------------------------------------------------
    def _begin_refining(self, base: ModelVersion, settings: RefineSettings) -> None:
        """The first model is shown: refine it from the event loop."""
        self.refinement.begin(base, settings)
        self._refine_reported = False
        QTimer.singleShot(0, self, self._next_round)

    def _next_round(self) -> None:
        """Start the next round, unless refining ended or the labels changed meanwhile."""
        doc, settings = self.ws.doc, self.refinement.settings
        if not self.refinement.active or doc is None or settings is None:
            self._refine_over()
            return
        if self.supervisor.running:  # another run took over; it ended refining
            return
        if max(settings.volumes) >= len(doc.items):
            self._end_refining("The volumes changed: refining stopped.")
            return
        volumes = run_volumes(doc, settings.volumes, AXIS)
        if run_hash(volumes) != settings.label_hash:  # belt and braces: edits also stop it
            self._end_refining(LABELS_CHANGED)
            return
        round_ = self.refinement.next_round()
        if round_ is None:
            self._refine_over()
            return
        if not self._launch_round(round_, volumes):
            self.refinement.abandon_round()
            self._end_refining("Refining stopped: the next round could not start.")

    def _round_finished(self, version: ModelVersion) -> None:
        """Judge a finished round: list it, use it only when better, then go on or end."""
        before = self.refinement.best
        verdict = self.refinement.judge(version)
        # the user may have chosen another version meanwhile: never override that choice
        use = verdict.improved and self.session.current_version is before
        self.session.add_version(version, make_current=use)
        text = verdict.text
        if verdict.improved and not use:
            text = f"v{version.number} is better but you chose another version; it is listed."
        self.panel.show_idle(f"v{version.number} shown" if use else "idle")
        self.panel.set_status(text)
        if use:
            self._rank(version)
        self.round_judged.emit(version, use)
        if verdict.more:
            QTimer.singleShot(0, self, self._next_round)
        else:
            self._refine_over()

    def _round_lost(self) -> None:
        """The running round was discarded or failed: refining ends, the best stays shown."""
        if self.refinement.in_round:
            self.refinement.abandon_round()
            self.refinement.stop("Refining stopped; the best model so far stays shown.")
            self._refine_over()

    def _end_refining(self, reason: str) -> None:
        if not self.refinement.stop(reason):
            return
        if self.refinement.in_round:
            self.panel.set_status(f"{reason} Finishing the running round…")
        else:
            self.panel.set_status(reason)
            self._refine_over()

    def _refine_over(self) -> None:
        """Say once that refining is over, when no round runs any more."""
        r = self.refinement
        if r.active or r.in_round or self._refine_reported:
            return
        self._refine_reported = True
        self.refine_ended.emit(r.reason)
