"""The version controller of the assist loop: use, compare and keep model versions.

Model versions of a saved project: on save the version in use is brought into the project
(``version_store.keep_version_in_use``: results stored once, checkpoint copied beside it); on
reopening the Versions list is rebuilt from the records (``version_store.restore_versions``)
and the version in use is shown and ranked again.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.assist.review import ReviewController
from app.state.document import SavePlan
from app.state.training_session import TrainingSession
from app.state.version_store import check_checkpoint, keep_version_in_use, restore_versions
from app.state.workspace import Workspace


class VersionController(QObject):
    """Which model version is in use, which one is compared, and which ones a project keeps.

    Args:
        workspace: the open document.
        session: the assist loop's state (the versions).
        review: shows the version in use (and ranks a restored one).
        parent: owning QObject.

    Signals:
        status(str): a one-line status for the panel.
    """

    status = Signal(str)

    def __init__(
        self,
        workspace: Workspace,
        session: TrainingSession,
        review: ReviewController,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ws, self.session, self.review = workspace, session, review

    def rollback(self, row: int) -> None:
        """Use version ``row`` (its model file must be the one recorded; else compare only)."""
        if not 0 <= row < len(self.session.versions):
            return
        doc = self.ws.doc
        note = "" if doc is None else check_checkpoint(self.session.versions[row], doc.records)
        if note:
            self.status.emit(note + " Compare it instead (V shows it).")
            self.session.version_edited()  # the list now says "view only"
            return
        self.session.rollback(row)
        self.review.show_version()

    def compare(self, row: int) -> None:
        """Compare the version in use with version ``row``."""
        if 0 <= row < len(self.session.versions):
            self.session.set_compare(row)
            self.review.show_version()

    def toggle_compare(self) -> None:
        """Flip the overlays between the current and the compared version (key V)."""
        if self.session.compare is None:
            self.status.emit("Choose a version to compare with in the Versions tab.")
            return
        self.session.toggle_shown()
        self.review.show_version()

    def saving(self, plan: SavePlan) -> None:
        """Before a save: keep the version in use with the project (``Document.saving``)."""
        doc, version = self.ws.doc, self.session.current_version
        if doc is not None and version is not None:
            keep_version_in_use(doc, version, plan)

    def restore(self) -> None:
        """After opening a project: list its model versions and use the one it recorded."""
        doc = self.ws.doc
        restored = None if doc is None else restore_versions(doc)
        if restored is None or restored.current is None:
            return
        self.session.restore(restored.versions, restored.current)
        version = restored.versions[restored.current]
        self.status.emit(
            " ".join(
                [
                    f"{len(restored.versions)} model version(s) from the project; v{version.number}"
                    " in use.",
                    *restored.notes,
                ]
            )
        )
        self.review.rank(version)
