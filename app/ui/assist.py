"""The assist loop's widgets in the main window: ``install_assist(window) -> AssistView``.

Adds the training dock, fills the Model menu (train, stop, accept, next suggestion N, label
check, compare V) and draws the prediction/uncertainty/label-check layers and the uncertainty
strips on the slice views. The loop itself (``app.assist``: training, review and version
controllers on the window's workspace and task runner, and a training supervisor whose child
never imports torch here) holds the state and makes the decisions; this module only renders it
and forwards what the user asks for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QMessageBox

from app.assist.loop import AssistLoop
from app.assist.run_plan import AXIS_WORDS, ready_text
from app.jobs.tasks import TaskRunner
from app.jobs.training_supervisor import ChildTarget, TrainingSupervisor
from app.state.observable import WiredOnce
from app.state.prediction_edits import AcceptOptions
from app.ui import dialogs
from app.ui.fill_between import show_holdout
from app.ui.run_notice import RunNotifier
from app.ui.training_panel import TrainingPanel
from app.ui.uncertainty_overlay import AssistOverlays


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


class AssistView(QObject):
    """The assist loop's dock, menu entries and view layers in one main window.

    Args:
        window: the ``MainWindow`` (uses its ``ws``, ``tasks``, ``views``, ``menus``,
            ``add_side_panel``).
        target: the training child's entry point (tests inject a scripted fake).
        runs_root: where run folders go (``app.assist.training.TrainingController``).

    Attributes:
        loop: the assist loop; training, review, versions: its controllers; session, layers:
        its state; supervisor: the training child; tasks: the window's task runner;
        panel: the dock's widget; overlays: the view layers; actions: Model menu entries;
        notifier: says that a run ended while the window is in the background.
    """

    def __init__(
        self, window: Any, target: ChildTarget | None = None, runs_root: Path | None = None
    ) -> None:
        super().__init__(window)
        self.window, self.ws = window, window.ws
        self.tasks: TaskRunner = window.tasks
        kwargs = {} if target is None else {"target": target}
        self.supervisor = TrainingSupervisor(self, **kwargs)
        self.loop = AssistLoop(window.ws, self.tasks, self.supervisor, runs_root, self)
        self.training, self.review, self.versions = (
            self.loop.training,
            self.loop.review,
            self.loop.versions,
        )
        self.session, self.layers = self.loop.session, self.loop.layers
        self._wired = WiredOnce()
        self.panel = TrainingPanel()
        self.panel.loss_source = lambda: self.session.losses
        self.panel.dice_source = lambda: self.session.holdout_dice
        self.dock = window.add_side_panel(self.panel, "Training")
        self._place_dock()
        self.overlays = AssistOverlays(window.views, self.layers, self.session, self.ws)
        self._forward_intent()
        self._render_state()
        self.notifier = RunNotifier(window, self)  # a run ends while the window is behind
        self.notifier.watch(self.training)
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

    def _forward_intent(self) -> None:
        """The panel's buttons and lists go to the controllers."""
        p, training, review, versions = self.panel, self.training, self.review, self.versions
        p.start_requested.connect(training.start)
        p.stop_requested.connect(training.stop)
        p.discard_requested.connect(training.discard)
        p.refine_toggled.connect(training.set_refine)
        p.layer_changed.connect(review.set_layer)
        p.suggestion_chosen.connect(review.go_to_suggestion)
        p.next_requested.connect(review.next_suggestion)
        p.accept_requested.connect(self._accept_from_panel)
        p.confirm_requested.connect(review.confirm_accepted)
        p.check_toggled.connect(review.set_label_check)
        p.rollback_requested.connect(versions.rollback)
        p.rollback_requested.connect(
            lambda _row: training.stop_refining("You chose a version: refining stopped.")
        )
        p.compare_requested.connect(versions.compare)
        p.toggle_requested.connect(versions.toggle_compare)
        p.axis_chosen.connect(self._choose_axis)

    def _render_state(self) -> None:
        """The controllers' messages and the session's topics go to the panel."""
        p, s, training = self.panel, self.session, self.training
        for source in (training, self.review, self.versions):
            source.status.connect(p.set_status)
        training.busy.connect(p.show_busy)
        training.idle.connect(p.show_idle)
        training.note.connect(lambda text: self.window.statusBar().showMessage(text, 20000))
        training.error.connect(lambda title, text: dialogs.show_error(self.window, title, text))
        self.review.caption.connect(p.set_shown)
        self.review.check_summary.connect(p.set_check_count)
        self.review.jumped.connect(p.suggestions.setCurrentRow)
        self.supervisor.running_changed.connect(self._running_changed)
        s.versions_changed.connect(lambda _: self._list_versions())
        s.shown_changed.connect(lambda _: self._list_versions())
        s.losses_changed.connect(lambda _: p.mark_losses_dirty())
        s.progressed.connect(lambda e: p.show_progress(e.step, e.total, e.eta))
        s.validated.connect(lambda _: p.mark_losses_dirty())  # the held-out Dice curve
        comparison = self.loop.holdout.comparison  # the model's and fill between slices'
        comparison.changed.connect(lambda _: show_holdout(p.holdout, comparison))
        s.stage_changed.connect(lambda _name: p.show_busy(self._predicting_text()))
        s.suggestions_changed.connect(
            lambda _: p.set_suggestions([g.describe() for g in s.suggestions])
        )
        s.accepted_changed.connect(p.set_accepted_count)
        s.axis_changed.connect(lambda _: self._axis_changed())
        self.ws.document_replaced.connect(lambda _: self._document_replaced())
        self.ws.volume_changed.connect(lambda _: self._volume_changed())

    def _build_menu(self) -> None:
        menu = self.window.menus["Model"]
        menu.clear()
        entries = (
            ("Start training", lambda: self.training.start(*self.panel.choice()), "Ctrl+T"),
            ("Stop and keep model", self.training.stop, "Ctrl+Shift+T"),
            ("Accept prediction on this slice", self.accept_current_slice, "Ctrl+Return"),
            ("Next suggestion", self.review.next_suggestion, "N"),
            ("Label check on / off", self._toggle_check_box, "Ctrl+L"),
            ("Show current / compared version", self.versions.toggle_compare, "V"),
        )
        self.actions: dict[str, QAction] = {}
        for text, slot, key in entries:
            action = QAction(text, self.window)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, f=slot: f())
            menu.addAction(action)
            self.actions[text] = action

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        closing = watched is self.window and event.type() == QEvent.Type.Close
        if not closing:
            return False
        if self.training.quit_needs_consent() and not ask_stop_training(self.window):
            event.ignore()
            return True
        self.training.shut_down()
        return False

    # -- intent ------------------------------------------------------------------------------
    def _options(self) -> AcceptOptions:
        p = self.panel
        return AcceptOptions(p.confident.isChecked(), p.threshold.value(), p.overwrite.isChecked())

    def accept_current_slice(self) -> int:
        """Accept on the axial slice shown with the panel's options; voxels changed."""
        voxels = self.review.accept_current_slice(self._options())
        self.window.views[self.session.axis].flush()
        return voxels

    def _accept_from_panel(
        self, scope: str, lo: int, hi: int, confident: bool, threshold: float, overwrite: bool
    ) -> None:
        self.review.accept_scope(scope, lo, hi, AcceptOptions(confident, threshold, overwrite))
        self.window.views[self.session.axis].flush()

    def _toggle_check_box(self) -> None:
        box = self.panel.layer_boxes["check"][0]
        box.setChecked(not box.isChecked())

    # -- state -> widgets --------------------------------------------------------------------
    def _running_changed(self, running: bool) -> None:
        self.panel.set_running(running)
        if running:
            self.panel.holdout.setText("")

    def _list_versions(self) -> None:
        s = self.session
        self.panel.set_versions([v.summary() for v in s.versions], s.current, s.compare)

    def _predicting_text(self) -> str:
        count = max(len(self.session.running_volumes), 1)
        return f"Predicting {count} volumes…" if count > 1 else "Predicting the whole volume…"

    def _document_replaced(self) -> None:
        doc = self.ws.doc
        self._update_can_start()
        if doc is None:
            return
        self._volume_changed()
        if self._wired.first_time(doc):  # a recovery announces the same document again
            doc.marks_changed.connect(lambda _: self.overlays.paint_strips())
            doc.marks_changed.connect(lambda _: self._update_can_start())
            doc.marks_changed.connect(lambda _: self._say_ready())  # before the first run
        self._say_ready()

    def _say_ready(self) -> None:
        doc, axis = self.ws.doc, self.session.axis
        if doc is not None and not self.session.versions and not self.supervisor.running:
            self.panel.set_status(ready_text(doc.item.labeled[axis], AXIS_WORDS[axis]))

    def _choose_axis(self, axis: str) -> None:
        if not self.loop.set_training_axis(axis):
            self.panel.set_axis(self.session.axis)  # refused (a run is going): show the real one

    def _axis_changed(self) -> None:
        """Training and suggestions follow another axis: the panel, the strips, the texts."""
        self.panel.set_axis(self.session.axis)
        self._update_can_start()
        self._volume_changed()
        self._say_ready()

    def _update_can_start(self) -> None:
        doc, words = self.ws.doc, AXIS_WORDS[self.session.axis]
        if doc is None:
            self.panel.set_can_start(f"Open an image, then paint at least one {words} slice.")
        elif not any(item.labeled[self.session.axis].any() for item in doc.items):
            self.panel.set_can_start(
                f"Paint at least one {words} slice (or mark one with M) first: training learns "
                "from the slices labeled along the training axis (Train along)."
            )
        else:
            self.panel.set_can_start(None)

    def _volume_changed(self) -> None:
        doc = self.ws.doc
        if doc is None:
            return
        self.panel.set_slice_count(doc.slice_count(self.session.axis))
        self.panel.legend.set_range(self.review.max_nats())
        self.overlays.paint_strips()


def install_assist(window: Any, **kwargs: Any) -> AssistView:
    """Add the assist loop to a ``MainWindow``; keyword arguments go to ``AssistView``."""
    view = AssistView(window, **kwargs)
    window.assist = view
    if window.ws.doc is not None:
        view.loop.document_replaced()
    view._document_replaced()  # with no document, Start waits for one
    return view
