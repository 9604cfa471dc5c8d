"""Fill between slices on the task runner (QtCore only): ITK runs in a child process.

``InterpolationTask`` runs a Qt-free compute function (``app.state.slice_fill.compute_fill``,
``app.state.holdout_comparison.holdout_fill_dice``) on a pool thread and hands it the task's
cancel check, which the engine polls while the ITK child runs (cancel kills the child).
``progress`` says 0 of 1 when it starts and 1 of 1 when done: the interpolation reports no
steps of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.jobs.tasks import Task

FILL_KIND = "fill-between"
HOLDOUT_KIND = "holdout-fill"


class InterpolationTask(Task):
    """A cancellable contour interpolation.

    Args:
        kind: ``FILL_KIND`` (the tool) or ``HOLDOUT_KIND`` (the held-out comparison): one task
            of each kind runs at a time.
        compute: called on the pool thread with the cancel check; its result is ``finished``'s.
    """

    reassurance = "Your labels are unchanged; please report this."

    def __init__(self, kind: str, compute: Callable[[Callable[[], bool]], Any]) -> None:
        super().__init__()
        self.kind, self._compute = kind, compute

    def work(self) -> Any:
        self.report_progress(0, 1)
        result = self._compute(self.is_cancelled)
        self.report_progress(1, 1)
        return result
