"""Fill between slices scored on each run's held-out slice, beside the model (QtCore only).

When a training run (or a refinement round) starts with a held-out slice, the slices between
that slice's labeled neighbours are copied from the run's snapshot and interpolated on the task
runner (``app.jobs.fill_jobs``, ITK in a child process); the Dice lands in the
``HoldoutComparison`` next to the model's, which the run reports at its end. It runs once per
run: a round on the same labels and held-out slice reuses the number.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject

from app.assist.run_plan import PendingRun
from app.assist.training import TrainingController
from app.jobs.fill_jobs import HOLDOUT_KIND, InterpolationTask
from app.jobs.tasks import TaskRunner
from app.state.holdout_comparison import (
    NOT_BETWEEN,
    HoldoutComparison,
    holdout_fill_dice,
    plan_holdout,
)
from app.state.slice_fill import Interpolator
from app.state.training_session import TrainingSession
from ugpcl_engine import Validation, interpolate_labels


class HoldoutBaseline(QObject):
    """Keeps ``comparison`` up to date for the runs of one training controller.

    Args:
        training: the training controller (its ``run_started``).
        session: the assist session (its ``validated``: the model's held-out Dice).
        tasks: the window's task runner.
        parent: owning QObject.
        interpolate: the interpolation (tests give a stand-in for ITK).

    Attributes:
        comparison: both numbers of the latest run.
    """

    def __init__(
        self,
        training: TrainingController,
        session: TrainingSession,
        tasks: TaskRunner,
        parent: QObject | None = None,
        interpolate: Interpolator = interpolate_labels,
    ) -> None:
        super().__init__(parent)
        self.tasks, self.interpolate = tasks, interpolate
        self.comparison = HoldoutComparison()
        self._done: dict[tuple[str, int], tuple[float | None, str | None]] = {}
        training.run_started.connect(self._run_started)
        session.validated.connect(self._validated)

    def document_replaced(self) -> None:
        """Another document (or none): the latest run's numbers go, its fill is stopped."""
        task = self.tasks.current(HOLDOUT_KIND)
        if task is not None:
            task.cancel()
        self.comparison.begin(None)

    def _validated(self, event: Validation) -> None:
        self.comparison.set_model(event.slice_index, event.dice)

    def _run_started(self, pending: PendingRun) -> None:
        holdout = pending.request.holdout_slice
        self.comparison.begin(holdout)
        if holdout is None:
            return
        key = (pending.label_hash, holdout)
        if key in self._done:
            self.comparison.set_fill(holdout, *self._done[key])
            return
        snapshot = pending.volumes[0].snapshot
        plan = plan_holdout(snapshot.labels_zyx, snapshot.labeled, pending.request.axis, holdout)
        if plan is None:
            self._store(key, None, NOT_BETWEEN)
            return
        interpolate = self.interpolate
        task = InterpolationTask(
            HOLDOUT_KIND, lambda cancelled: holdout_fill_dice(plan, cancelled, interpolate)
        )
        task.signals.finished.connect(lambda dice: self._finished(task, key, dice, None))
        task.signals.failed.connect(lambda message: self._finished(task, key, None, message))
        self.tasks.start(task)

    def _finished(
        self, task: InterpolationTask, key: tuple[str, int], dice: Any, message: str | None
    ) -> None:
        if self.tasks.current(HOLDOUT_KIND) is not task:
            return  # a newer run's comparison is on
        if message is None:
            self._store(key, dice, None)
        else:  # not cached: the next run tries again (e.g. after installing ITK)
            self.comparison.set_fill(key[1], None, message)

    def _store(self, key: tuple[str, int], dice: Any, note: str | None) -> None:
        self._done[key] = (dice, note)
        self.comparison.set_fill(key[1], dice, note)
