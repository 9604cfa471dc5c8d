"""The assist loop wired into the main window: ``install_assist(window) -> AssistController``.

Adds the training dock, fills the Model menu (train, stop, accept, next suggestion N, label
check, compare V), hooks the prediction/uncertainty/label-check layers into the slice views and
colours the slice strips by uncertainty. Training runs in a spawned child (never torch here);
results are memory-mapped from the run folder; label edits go through the ``LabelEditor``.

A run may have a time budget (the first model is shown within it, ``app.ui.assist_runs``) and
may keep refining in the background afterwards (``app.ui.assist_refine``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMessageBox

from app.jobs.tasks import TaskRunner
from app.jobs.training_supervisor import ChildTarget, TrainingSupervisor
from app.state.refinement import Refinement
from app.state.training_runs import next_run_number
from app.state.training_session import ModelVersion, TrainingSession, max_entropy
from app.ui.assist_refine import RefineActions
from app.ui.assist_review import AXIS, ReviewActions
from app.ui.assist_runs import RunActions
from app.ui.training_panel import TrainingPanel
from app.ui.uncertainty_overlay import AssistOverlays
from ugpcl_engine.training.scratch import claim_runs_root

QUIT_WAIT_S = 2.0  # a quitting user waits at most this long for the child to stop


def ask_stop_training(parent: Any) -> bool:
    """Ask whether to stop the running training and quit."""
    answer = QMessageBox.question(
        parent,
        "Training is running",
        "A model is being trained. Stop it and quit? (The run is discarded; your labels are "
        "not affected.)",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    return answer == QMessageBox.StandardButton.Yes


class AssistController(RunActions, RefineActions, ReviewActions, QObject):
    """Owns the assist loop of one main window.

    Args:
        window: the ``MainWindow`` (uses its ``ws``, ``views``, ``menus``, ``add_side_panel``).
        target: the training child's entry point (tests inject a scripted fake).
        runs_root: where run folders go (when None: this process's folder under the temporary
            directory, ``ugpcl_engine.training.scratch``: they are scratch, removed at the next
            start once this process is gone; on save the checkpoint of the version in use is
            copied beside the project, see ``app.state.version_store``).

    Attributes:
        session: the Qt-free state; supervisor: the child; panel: the dock widget;
        overlays: the view layers; overrides: extra ``TrainingConfig`` fields for every run;
        refinement: the keep-refining state (``app.state.refinement``).

    Signals:
        result_ready(object): a new ``ModelVersion`` of a run the user started is shown.
        run_failed(str): a run failed (the message was shown to the user).
        round_judged(object, bool): a refinement round's version, and whether it is shown.
        refine_ended(str): refining is over (why) and no round runs any more.
    """

    result_ready = Signal(object)
    run_failed = Signal(str)
    round_judged = Signal(object, bool)
    refine_ended = Signal(str)

    def __init__(
        self, window: Any, target: ChildTarget | None = None, runs_root: Path | None = None
    ) -> None:
        super().__init__(window)
        self.window, self.ws = window, window.ws
        self.session = TrainingSession(AXIS)
        kwargs = {} if target is None else {"target": target}
        self.supervisor = TrainingSupervisor(self, **kwargs)
        self.panel = TrainingPanel()
        self.panel.loss_source = lambda: self.session.losses
        self.dock = window.add_side_panel(self.panel, "Training")
        self._place_dock()
        self.overlays = AssistOverlays(window.views)
        self.tasks: TaskRunner = window.tasks  # the window's one task runner
        self.runs_root = runs_root or claim_runs_root().path  # stale roots swept first
        self.overrides: dict[str, Any] = {}
        self.refinement = Refinement()
        self._user_stopped = False
        self._refine_reported = True
        self._pending = None
        self._colours: dict[str, np.ndarray] = {}
        self._ranked_volume: int | None = None
        self._check_on = False
        self._connect()
        self._build_menu()
        window.installEventFilter(self)

    # -- wiring ------------------------------------------------------------------------------
    def _place_dock(self) -> None:
        """Give the training dock its own column beside the tool and label panels."""
        docks = [d for d in self.window.findChildren(QDockWidget) if d is not self.dock]
        if docks:
            self.window.splitDockWidget(docks[0], self.dock, Qt.Orientation.Horizontal)
            # a narrow column: the slice views keep most of the window
            self.window.resizeDocks([docks[0], self.dock], [250, 330], Qt.Orientation.Horizontal)

    def _connect(self) -> None:
        p, s = self.panel, self.supervisor
        p.start_requested.connect(self.start_training)
        p.stop_requested.connect(self.stop_training)
        p.discard_requested.connect(s.cancel)
        p.refine_toggled.connect(self._refine_toggled)
        p.layer_changed.connect(self._layer_changed)
        p.suggestion_chosen.connect(lambda row: self.go_to_suggestion(row))
        p.next_requested.connect(self.next_suggestion)
        p.accept_requested.connect(self._accept_from_panel)
        p.confirm_requested.connect(self.confirm_accepted)
        p.check_toggled.connect(self.set_label_check)
        p.rollback_requested.connect(self._rollback)
        p.rollback_requested.connect(
            lambda _row: self.stop_refining("You chose a version: refining stopped.")
        )
        p.compare_requested.connect(self._compare)
        p.toggle_requested.connect(self.toggle_compare)
        s.started.connect(self._started)
        s.progress.connect(self._progress)
        s.preview.connect(self._preview)
        s.validation.connect(
            lambda v: p.holdout.setText(f"Held-out slice {v.slice_index}: Dice {v.dice:.2f}")
        )
        s.stage.connect(lambda _name: p.show_busy(self._predicting_text()))
        s.finished.connect(self._finished)
        s.failed.connect(self._failed)
        s.cancelled.connect(self._cancelled)
        s.running_changed.connect(p.set_running)
        self.session.changed.connect(self._session_changed)
        self.ws.document_replaced.connect(lambda _: self._document_replaced())
        self.ws.volume_changed.connect(lambda _: self._volume_changed())
        self.ws.view.changed.connect(self._view_changed)

    def _build_menu(self) -> None:
        menu = self.window.menus["Model"]
        menu.clear()
        entries = (
            ("Start training", lambda: self.start_training(*self._panel_choice()), "Ctrl+T"),
            ("Stop and keep model", self.stop_training, "Ctrl+Shift+T"),
            ("Accept prediction on this slice", self.accept_current_slice, "Ctrl+Return"),
            ("Next suggestion", self.next_suggestion, "N"),
            ("Label check on / off", lambda: self._toggle_check_box(), "Ctrl+L"),
            ("Show current / compared version", self.toggle_compare, "V"),
        )
        self.actions: dict[str, QAction] = {}
        for text, slot, key in entries:
            action = QAction(text, self.window)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, f=slot: f())
            menu.addAction(action)
            self.actions[text] = action

    def _panel_choice(self) -> tuple[str, str, float, bool]:
        return self.panel.choice()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        closing = watched is self.window and event.type() == QEvent.Type.Close
        if not closing:
            return False
        # a background refinement round is dropped without asking: the best model is shown
        refining = self._pending is not None and self._pending.round > 0
        if self.supervisor.running and not refining and not ask_stop_training(self.window):
            event.ignore()
            return True
        self.refinement.stop("The window was closed.")  # no round starts after this
        if self.supervisor.running:
            self.refinement.abandon_round()
            self.supervisor.shutdown(QUIT_WAIT_S)
        return False

    # -- state -> screen ---------------------------------------------------------------------
    def _session_changed(self, what: str) -> None:
        s = self.session
        if what == "losses":
            self.panel.mark_losses_dirty()
        elif what == "preview" and s.preview is not None and self._on_training_volume():
            p = s.preview
            self.overlays.set_preview(p.slice_index, p.labels_rc, p.entropy_rc)
            self.overlays.redraw_view(AXIS, self.ws.view.slice_index(AXIS))
        elif what in ("versions", "shown"):
            self._show_version()
            self.panel.set_versions([v.summary() for v in s.versions], s.current, s.compare)
        elif what == "suggestions":
            self.panel.set_suggestions([g.describe() for g in s.suggestions])

    def _on_training_volume(self) -> bool:
        doc, pending = self.ws.doc, self._pending
        return doc is not None and (pending is None or pending.volume_index == doc.current)

    def _view_changed(self, what: str) -> None:
        if what != "cursor" or self.ws.doc is None:
            return
        if self._on_training_volume():
            self.supervisor.set_preview_slice(self.ws.view.slice_index(AXIS))
        self._redraw()
        self._paint_strips()

    def _document_replaced(self) -> None:
        self._end_refining("Another document was opened: refining stopped.")
        self.supervisor.cancel()
        self.refinement, self._refine_reported = Refinement(), True
        self.session.changed.disconnect(self._session_changed)
        doc = self.ws.doc
        # version numbers go on after the runs the project recorded
        self.session = TrainingSession(AXIS, 1 if doc is None else next_run_number(doc.records))
        self.session.changed.connect(self._session_changed)
        self._colours, self._ranked_volume, self._check_on = {}, None, False
        self.overlays.set_result(None, None, np.zeros((256, 4), np.uint8), 1.0)
        self.overlays.set_check(None)
        self.overlays.set_preview(None, np.zeros(0), np.zeros(0))
        self.panel.set_versions([], None, None)
        self.panel.set_suggestions([])
        self.panel.set_accepted_count(0)
        if doc is not None:
            self.panel.set_slice_count(doc.slice_count(AXIS))
            self.panel.legend.set_range(self._max_nats())
            doc.marks_changed.connect(lambda _: self._paint_strips())
            doc.labels_changed.connect(self._labels_changed)
            # refining must not train on a stale snapshot: an edit of the labels ends it
            doc.labels_changed.connect(lambda _: self._labels_edited())
            doc.marks_changed.connect(lambda axis: self._labels_edited() if axis == AXIS else None)
            doc.predictions_changed.connect(self._predictions_changed)
            doc.saving.disconnect(self._saving)  # recovery replaces the same document
            doc.saving.connect(self._saving)
            self._restore_versions()  # a project may bring model versions
            self._show_version()  # and stored results of other models
        self._redraw()

    def _max_nats(self) -> float:
        return max_entropy(self.ws.doc.table.num_classes if self.ws.doc else 2)

    def _layer_changed(self, name: str, visible: bool, opacity: float) -> None:
        self.overlays.set_layer(name, visible, opacity)
        self._redraw()

    @property
    def shown_version(self) -> ModelVersion | None:
        """The version whose prediction is on screen."""
        return self.session.shown_version


def install_assist(window: Any, **kwargs: Any) -> AssistController:
    """Add the assist loop to a ``MainWindow``; keyword arguments go to ``AssistController``."""
    controller = AssistController(window, **kwargs)
    window.assist = controller
    if window.ws.doc is not None:
        controller._document_replaced()
    return controller
