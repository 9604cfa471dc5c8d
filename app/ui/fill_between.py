"""Tools › Fill between slices (I) and the held-out comparison's text.

*Fill between slices* interpolates the unlabeled slices between the slices marked labeled along
the active view's axis (``app.state.slice_fill``; ITK in a child process on the window's task
runner, with a progress dialog whose Cancel kills the child) and writes them as one undo step.
*Fill between slices: active label only* narrows it to the active label (default off: every
label, as Slicer's). The filled slices stay unmarked; the status bar says so.

``show_holdout`` writes "Held-out slice 17: model 0.91 · fill-between-slices 0.84" into the
training panel's held-out label (``app.state.holdout_comparison``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QProgressDialog

from app.jobs.fill_jobs import FILL_KIND, InterpolationTask
from app.state.holdout_comparison import NOT_BETWEEN, HoldoutComparison
from app.state.slice_fill import (
    FillPlan,
    FillResult,
    Interpolator,
    apply_fill,
    axis_name,
    compute_fill,
    plan_fill,
)
from app.ui import dialogs
from ugpcl_engine import InputError, axis_index, interpolate_labels

FILL_KEY = "I"
FILL_TEXT = "Fill between slices"
ONLY_TEXT = "Fill between slices: active label only"
TITLE = "Fill between slices"


class FillBetween(QObject):
    """The Fill between slices action of one main window.

    Args:
        window: the ``MainWindow`` (its ``ws``, ``tasks``, ``menus``, ``controller``,
            ``views``, ``label_panel``, status bar).
        interpolate: the interpolation (tests may give a stand-in for ITK).

    Attributes:
        action, only_action: the Tools menu entries.
        progress: the dialog of the running fill, or None.

    Signals:
        filled(object): the ``FillResult`` of a fill that was applied.
        failed(str): a message (already shown in a dialog).
    """

    filled = Signal(object)
    failed = Signal(str)

    def __init__(self, window: Any, interpolate: Interpolator = interpolate_labels) -> None:
        super().__init__(window)
        self.window, self.ws, self.interpolate = window, window.ws, interpolate
        self.progress: QProgressDialog | None = None
        menu = window.menus["Tools"]
        menu.addSeparator()
        self.action = QAction(FILL_TEXT, window)
        self.action.setShortcut(QKeySequence(FILL_KEY))
        self.action.setToolTip(
            "Interpolate the unlabeled slices between the slices marked labeled, along the "
            "view under the mouse (one undo step; the filled slices stay unmarked)"
        )
        self.action.triggered.connect(lambda _=False: self.fill())
        self.only_action = QAction(ONLY_TEXT, window)
        self.only_action.setCheckable(True)
        self.only_action.toggled.connect(
            lambda on: self.ws.tools.update(fill_active_label_only=bool(on))
        )
        self.ws.tools.changed.connect(lambda _: self._sync())
        menu.addAction(self.action)
        menu.addAction(self.only_action)
        window.label_panel.fill_button.setText(f"{FILL_TEXT} ({FILL_KEY})")
        window.label_panel.fill_requested.connect(self.fill)

    def _sync(self) -> None:
        self.only_action.blockSignals(True)
        self.only_action.setChecked(self.ws.tools.fill_active_label_only)
        self.only_action.blockSignals(False)

    # -- intent ------------------------------------------------------------------------------
    def fill(self) -> InterpolationTask | None:
        """Fill between the labeled slices of the active view's axis; the task, or None."""
        editor = self.ws.editor
        if editor is None:
            self._fail("Open an image and paint two slices first, then fill between them.")
            return None
        if self.window.tasks.busy(FILL_KIND):
            self._status("Fill between slices is running already.")
            return None
        tools = self.ws.tools
        axis = self.window.controller.active_axis
        try:
            plan = plan_fill(editor, axis, tools.label if tools.fill_active_label_only else None)
        except InputError as err:
            self._fail(str(err))
            return None
        interpolate = self.interpolate
        task = InterpolationTask(FILL_KIND, lambda c: compute_fill(plan, c, interpolate))
        task.signals.finished.connect(lambda filled: self._apply(task, plan, filled))
        task.signals.failed.connect(lambda message: self._ended(task) and self._fail(message))
        task.signals.cancelled.connect(
            lambda: (
                self._ended(task)
                and self._status("Fill between slices cancelled; your labels are unchanged.")
            )
        )
        self._show_progress(task, plan)
        self.window.tasks.start(task)
        return task

    def _show_progress(self, task: InterpolationTask, plan: FillPlan) -> None:
        lo = plan.box.origin_zyx[axis_index(plan.axis)]
        marked = (lo + plan.marked[0], lo + plan.marked[-1])
        dialog = QProgressDialog(
            f"Filling {plan.slice_count} unlabeled {axis_name(plan.axis)} slices between "
            f"slices {marked[0]} and {marked[1]}…",
            "Cancel",
            0,
            0,
            self.window,
        )
        dialog.setWindowTitle(TITLE)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)  # no edits while it runs
        dialog.setMinimumDuration(500)  # a quick fill never flashes a dialog
        dialog.setAutoReset(False)
        dialog.setAutoClose(False)
        dialog.canceled.connect(task.cancel)
        self.progress = dialog
        self._status(dialog.labelText())

    def _ended(self, task: InterpolationTask) -> bool:
        """Close the progress dialog; True when ``task`` is the fill still wanted."""
        if self.progress is not None:
            self.progress.canceled.disconnect()
            self.progress.close()
            self.progress.deleteLater()
            self.progress = None
        return self.window.tasks.current(FILL_KIND) is task

    def _apply(self, task: InterpolationTask, plan: FillPlan, filled: np.ndarray) -> None:
        if not self._ended(task) or self.ws.editor is None:
            return
        try:
            result = apply_fill(self.ws.editor, plan, filled)
        except InputError as err:
            self._fail(str(err))
            return
        for view in self.window.views.values():
            view.flush()
        self._status(done_text(result, plan))
        self.filled.emit(result)

    # -- messages ----------------------------------------------------------------------------
    def _status(self, text: str) -> None:
        self.window.statusBar().showMessage(text, 20000)

    def _fail(self, message: str) -> None:
        dialogs.show_error(self.window, TITLE, message)
        self.failed.emit(message)


def done_text(result: FillResult, plan: FillPlan) -> str:
    """The status line after a fill."""
    name = axis_name(result.axis)
    if result.delta is None:
        return (
            f"Fill between slices changed nothing: the unlabeled {name} slices already match "
            "the interpolation, or Paint over / locks protect them."
        )
    count = len(result.slices)
    return (
        f"Filled {count} unlabeled {name} slice{'s' if count != 1 else ''} between the "
        f"labeled ones ({result.voxels} voxels; Undo takes it back). They are NOT marked "
        "labeled: check each and mark it (M) to train on it."
    )


def install_fill_between(window: Any) -> FillBetween:
    """Add Fill between slices to a ``MainWindow``'s Tools menu and label panel."""
    return FillBetween(window)


def holdout_text(comparison: HoldoutComparison) -> tuple[str, str]:
    """The held-out label's text and tooltip ("" until the model's Dice is in)."""
    if comparison.slice_index is None or comparison.model_dice is None:
        return "", ""
    head = f"Held-out slice {comparison.slice_index}: model {comparison.model_dice:.2f}"
    tip = (
        "One labeled slice is left out of training, so the model never sees its labels. Dice "
        "(0 to 1, higher is better) is the overlap with your labels there: the model's, and "
        "fill between slices' (interpolated from the labeled slices on either side, as "
        "Tools › Fill between slices)."
    )
    if comparison.fill_dice is not None:
        return f"{head} · fill-between-slices {comparison.fill_dice:.2f}", tip
    if comparison.fill_note == NOT_BETWEEN:
        return f"{head} · fill-between-slices — ({NOT_BETWEEN})", tip
    if comparison.fill_note is not None:
        return f"{head} · fill-between-slices unavailable", comparison.fill_note
    return f"{head} · fill-between-slices …", tip


def show_holdout(label: QLabel, comparison: HoldoutComparison) -> None:
    """Write ``holdout_text`` into the training panel's held-out label."""
    text, tip = holdout_text(comparison)
    label.setText(text)
    label.setToolTip(tip)
