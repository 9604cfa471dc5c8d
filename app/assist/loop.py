"""The assist loop of one window (QtCore only): its state and its three controllers, wired.

``AssistLoop`` owns the ``TrainingSession`` and the ``OverlayLayers`` and builds the training,
review and version controllers on the workspace, the task runner and the training supervisor.
It follows the workspace: another document resets the loop (and brings the project's model
versions back), another volume shows that volume's result, and the open document's label edits,
stored results and saves reach the controller concerned. Widgets (``app.ui.assist``) render
this state and forward the user's intent to the controllers.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject

from app.assist.holdout_baseline import HoldoutBaseline
from app.assist.review import ReviewController
from app.assist.run_plan import AXIS, default_axis
from app.assist.training import TrainingController
from app.assist.versions import VersionController
from app.jobs.tasks import TaskRunner
from app.jobs.training_supervisor import TrainingSupervisor
from app.state.observable import WiredOnce
from app.state.overlay_layers import OverlayLayers
from app.state.training_runs import next_run_number
from app.state.training_session import TrainingSession
from app.state.workspace import Workspace


class AssistLoop(QObject):
    """The assist loop's state and controllers.

    Args:
        workspace: the window's workspace.
        tasks: the window's task runner.
        supervisor: the training child's supervisor.
        runs_root: where run folders go (``TrainingController``).
        parent: owning QObject.

    Attributes:
        session: the assist state (versions, the running job, suggestions).
        layers: what the overlays show.
        review, versions, training: the controllers.
        holdout: fill between slices scored on each run's held-out slice.
    """

    def __init__(
        self,
        workspace: Workspace,
        tasks: TaskRunner,
        supervisor: TrainingSupervisor,
        runs_root: Path | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ws = workspace
        self.session = TrainingSession(AXIS)
        self.layers = OverlayLayers()
        self._wired = WiredOnce()
        self.review = ReviewController(workspace, self.session, tasks, self.layers, self)
        self.versions = VersionController(workspace, self.session, self.review, self)
        self.training = TrainingController(
            workspace, self.session, supervisor, self.review, runs_root, self
        )
        self.holdout = HoldoutBaseline(self.training, self.session, tasks, self)
        workspace.document_replaced.connect(lambda _: self.document_replaced())
        workspace.volume_changed.connect(lambda _: self.review.volume_changed())

    def set_training_axis(self, axis: str) -> bool:
        """Train and suggest along ``axis`` from the next run (refused while a run is going:
        its snapshot, preview and held-out slice are along the old one). The shown version's
        suggestions are ranked again along the new axis, and the label check is checked again."""
        if self.training.supervisor.running or axis == self.session.axis:
            return False
        self.training.refiner.end("The training axis changed: refining stopped.")
        self.session.set_axis(axis)
        version = self.session.shown_version
        if version is not None:
            self.review.rank(version)
        self.review.refresh_check()  # the user's paint is the slices marked along the axis
        return True

    def document_replaced(self) -> None:
        """Another document (or none): start over, with the versions a project brings."""
        self.training.document_replaced()
        doc = self.ws.doc
        # version numbers go on after the runs the project recorded
        self.session.reset(1 if doc is None else next_run_number(doc.records))
        self.session.set_axis(default_axis(doc))  # where the user painted most
        self.holdout.document_replaced()  # its numbers were the document left's
        self.review.document_replaced()
        if doc is not None:
            if self._wired.first_time(doc):  # a recovery announces the same document again
                doc.labels_changed.connect(self.review.labels_changed)
                doc.marks_changed.connect(self.review.marks_changed)  # the check's paint
                # refining must not train on a stale snapshot: an edit of the labels ends it
                doc.labels_changed.connect(lambda _: self.training.labels_edited())
                doc.marks_changed.connect(
                    lambda axis: (
                        self.training.labels_edited() if axis == self.session.axis else None
                    )
                )
                doc.predictions_changed.connect(self.review.predictions_changed)
                doc.saving.connect(self.versions.saving)
            self.versions.restore()  # a project may bring model versions
            self.review.show_version()  # and stored results of other models
        self.layers.notify()
