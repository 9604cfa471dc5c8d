"""The review controller of the assist loop: the result shown, suggestions, accepting, label check.

Which result belongs to the volume shown (``shown_result``): the session's shown version on
every volume it was trained on and predicted (its run folder holds one prediction per volume);
on any other volume the newest result stored with that volume
(Model › Run model on project volume…, or read from the project file). The overlay layers,
accepting and the label check all use that result, so nothing of one volume is ever drawn on
or written into another. Ranking a version's slices (suggestions and strip scores) runs on the
task runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.jobs.tasks import TaskRunner
from app.state.document import Region
from app.state.model_version import ModelVersion
from app.state.overlay_layers import ALL_AXES, OverlayLayers
from app.state.prediction_edits import AcceptOptions, accept_prediction, label_check, mark_labeled
from app.state.suggestions import Suggestion, slice_scores, suggest_slices
from app.state.training_session import Ranking, TrainingSession, max_entropy
from app.state.workspace import Workspace
from ugpcl_engine import axis_index

CHECK_THRESHOLD = 0.1  # nats: "confidently" for the label check
SCOPES = ("Current slice", "Slice range", "Whole volume")


@dataclass(frozen=True)
class ShownResult:
    """A model result on the grid of the volume shown.

    Attributes:
        prediction_zyx: (Z, Y, X) uint8 predicted labels.
        uncertainty_zyx: (Z, Y, X) float entropy in nats.
        caption: what is shown, for the panel.
    """

    prediction_zyx: np.ndarray
    uncertainty_zyx: np.ndarray
    caption: str


class ReviewController(QObject):
    """What the user does with a model's result on the volume shown.

    Args:
        workspace: the document, editor and view state.
        session: the assist loop's state.
        tasks: the task runner (ranking).
        layers: the overlay layers this controller fills.
        parent: owning QObject.

    Signals:
        status(str): a one-line status for the panel.
        caption(str): which result the overlays show ("" for none).
        check_summary(str): the label check's count ("" when off).
        jumped(int): the row of the suggestion the crosshair moved to.
    """

    status = Signal(str)
    caption = Signal(str)
    check_summary = Signal(str)
    jumped = Signal(int)

    def __init__(
        self,
        workspace: Workspace,
        session: TrainingSession,
        tasks: TaskRunner,
        layers: OverlayLayers,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ws, self.session, self.tasks, self.layers = workspace, session, tasks, layers
        # the training axis's marks the label check on the layers was computed with
        self._check_marks: np.ndarray | None = None

    def max_nats(self) -> float:
        """Top of the uncertainty scale for the open document (ln C)."""
        return max_entropy(self.ws.doc.table.num_classes if self.ws.doc else 2)

    # -- the result shown ---------------------------------------------------------------------
    def shown_result(self) -> ShownResult | None:
        """The prediction and uncertainty of the volume shown (see the module docstring)."""
        doc, version = self.ws.doc, self.session.shown_version
        if doc is None:
            return None
        if version is not None and version.predicts(doc.current):
            which = "compared" if self.session.showing_compare else "current"
            return ShownResult(
                version.prediction_zyx(doc.current),
                version.uncertainty_zyx(doc.current),
                f"Showing v{version.number} ({which}).",
            )
        stored = doc.item.latest_prediction()
        if stored is None:
            return None
        model_version, prediction, uncertainty = stored
        return ShownResult(
            prediction, uncertainty, f"Showing model {model_version}'s result on this volume."
        )

    def show_version(self) -> None:
        """Put the result of the volume shown (``shown_result``) on the overlay layers."""
        doc, shown = self.ws.doc, self.shown_result()
        if doc is None:
            return
        if shown is None:
            self.layers.set_result(None, None, doc.table, doc.hidden, self.max_nats())
            self.caption.emit("")
        else:
            self.layers.set_result(
                shown.prediction_zyx, shown.uncertainty_zyx, doc.table, doc.hidden, self.max_nats()
            )
            self.caption.emit(shown.caption)
        self.refresh_check()
        self.layers.notify()

    def document_replaced(self) -> None:
        """Another document: no result, no label check on the layers."""
        self.layers.set_result(None, None, None, frozenset(), 1.0)
        self.layers.set_check(None)
        self._check_marks = None

    def volume_changed(self) -> None:
        """Another volume is shown: its result and label check.

        The live preview (of the training volume) is dropped until the next one arrives, and
        the accepted-but-unconfirmed slices are forgotten: they are slice numbers of the volume
        left (the accepted labels stay, and stay undoable there).
        """
        if self.ws.doc is None:
            return
        self.session.clear_preview()
        self.session.clear_accepted()
        self.show_version()

    def predictions_changed(self, index: int) -> None:
        """A result was stored with volume ``index`` (``Document.predictions_changed``)."""
        if self.ws.doc is not None and index == self.ws.doc.current:
            self.show_version()

    # -- suggestions -------------------------------------------------------------------------
    def _suggestions_here(self) -> bool:
        doc, ranking = self.ws.doc, self.session.ranking
        if doc is None:
            return False
        if ranking is not None and ranking.volume != doc.current:
            self.status.emit(
                f"The suggestions are for volume {ranking.volume + 1}; switch to it in "
                "View › Volume, or train on this volume."
            )
            return False
        return True

    def go_to_suggestion(self, row: int) -> None:
        """Move the crosshair to suggestion ``row`` (its most uncertain region)."""
        if not self._suggestions_here() or not 0 <= row < len(self.session.suggestions):
            return
        self._jump(self.session.suggestions[row])

    def next_suggestion(self) -> None:
        """Jump to the best unlabeled suggestion after the slice shown (key N)."""
        doc = self.ws.doc
        if doc is None or not self._suggestions_here():
            return
        here = self.ws.view.slice_index(self.session.axis)
        suggestion = self.session.next_suggestion(here, doc.item.labeled[self.session.axis])
        if suggestion is None:
            self.status.emit("No suggestion left: train again to get new ones.")
            return
        self._jump(suggestion)

    def _jump(self, suggestion: Suggestion) -> None:
        doc = self.ws.doc
        assert doc is not None
        axis = self.session.axis
        cursor = list(self.ws.view.cursor_zyx)
        cursor[axis_index(axis)] = suggestion.slice_index
        if suggestion.regions_rc:  # (row, column) in the slice: the two other axes in order
            in_plane = [d for d in range(3) if d != axis_index(axis)]
            for d, value in zip(in_plane, suggestion.regions_rc[0], strict=True):
                cursor[d] = value
        shape = doc.item.volume.geometry.shape_zyx
        self.ws.view.set_cursor((cursor[0], cursor[1], cursor[2]), shape)
        rows = [i for i, s in enumerate(self.session.suggestions) if s is suggestion]
        if rows:  # the list shows where N went
            self.jumped.emit(rows[0])
        self.status.emit(
            f"Slice {suggestion.slice_index}: score {suggestion.score:.2f}, uncertain region "
            f"{suggestion.region_nats:.2f} nats."
        )

    def rank(self, version: ModelVersion) -> None:
        """Rank slices of the version's first volume on the task runner (suggestions, strips)."""
        doc = self.ws.doc
        if doc is None or version.volume_index >= len(doc.items):
            return
        entropy, pred = version.uncertainty_zyx(), version.prediction_zyx()
        volume = version.volume_index
        axis = self.session.axis
        labeled = doc.items[volume].labeled[axis].copy()
        self.tasks.submit(
            "rank",
            lambda: (suggest_slices(entropy, pred, labeled, axis), _scores(entropy)),
            lambda result: self._ranked(result, volume, axis),
            self.status.emit,
        )

    def _ranked(self, result: Any, volume_index: int, axis: str) -> None:
        if axis != self.session.axis:  # ranked along an axis given up meanwhile
            return
        suggestions, scores = result
        self.session.set_suggestions(suggestions, Ranking(volume_index, scores, self.max_nats()))

    # -- accepting ---------------------------------------------------------------------------
    def accept(self, indices: list[int], options: AcceptOptions) -> int:
        """Accept the shown prediction on ``indices`` (slices along the training axis) as one
        undo step; returns the voxels changed."""
        shown, editor = self.shown_result(), self.ws.editor
        if shown is None or editor is None:
            self.status.emit(
                "There is no prediction on this volume: train a model, or run one on it "
                "(Model › Run model on project volume…)."
            )
            return 0
        result = accept_prediction(
            editor, shown.prediction_zyx, shown.uncertainty_zyx, self.session.axis, indices, options
        )
        if result is None:
            self.status.emit("Nothing to accept there with these settings.")
            return 0
        self.session.add_accepted(result.slices)
        self.status.emit(
            f"Accepted {result.voxels} voxels on {len(result.slices)} slice(s); Ctrl+Z undoes. "
            "Mark them labeled once you have checked them."
        )
        return result.voxels

    def accept_current_slice(self, options: AcceptOptions) -> int:
        """Accept on the axial slice shown; voxels changed."""
        return self.accept([self.ws.view.slice_index(self.session.axis)], options)

    def accept_scope(self, scope: str, lo: int, hi: int, options: AcceptOptions) -> int:
        """Accept on the slice shown, slices ``lo``..``hi`` or the whole volume (``SCOPES``)."""
        doc = self.ws.doc
        if doc is None:
            return 0
        if scope == SCOPES[0]:
            indices = [self.ws.view.slice_index(self.session.axis)]
        elif scope == SCOPES[1]:
            indices = list(range(min(lo, hi), max(lo, hi) + 1))
        else:
            indices = list(range(doc.slice_count(self.session.axis)))
        return self.accept(indices, options)

    def confirm_accepted(self) -> None:
        """Mark the accepted slices labeled (one undo step)."""
        if self.ws.editor is not None and self.session.accepted:
            mark_labeled(self.ws.editor, self.session.axis, sorted(self.session.accepted))
            self.session.clear_accepted()

    # -- layers and the label check --------------------------------------------------------
    def set_layer(self, name: str, visible: bool, opacity: float) -> None:
        """Show/hide and fade one overlay layer."""
        self.layers.set_layer(name, visible, opacity)
        self.layers.notify()

    def set_label_check(self, on: bool) -> None:
        """Show (or hide) voxels where the model confidently disagrees with the user's paint."""
        self.layers.set_layer("check", visible=on)
        self.refresh_check()
        self.layers.notify()

    def refresh_check(self) -> None:
        """Compute the label check of the result shown (when it is on)."""
        doc, shown = self.ws.doc, self.shown_result()
        if not self.layers.visible["check"] or doc is None or shown is None:
            self._check_marks = None
            self.layers.set_check(None)
            self.check_summary.emit("")
            return
        marks = doc.item.labeled[self.session.axis]
        mask = label_check(
            doc.labels_zyx,
            marks,
            shown.prediction_zyx,
            shown.uncertainty_zyx,
            self.session.axis,
            CHECK_THRESHOLD,
        )
        self._check_marks = marks.copy()
        self.layers.set_check(mask)
        self._summarize_check(mask)
        self.layers.notify()

    def _summarize_check(self, mask: np.ndarray) -> None:
        others = tuple(d for d in range(3) if d != axis_index(self.session.axis))
        slices = np.flatnonzero(mask.any(axis=others))
        self.check_summary.emit(
            f"{int(mask.sum())} voxels on {len(slices)} slice(s) disagree confidently"
            + (f": {', '.join(str(i) for i in slices[:8])}" if len(slices) else "")
        )

    def marks_changed(self, axis: str) -> None:
        """Keep the label check current when slices along the training axis are marked or
        unmarked (``Document.marks_changed``): every voxel of a marked slice is the user's
        paint. Only the slices whose mark differs from the marks the check was computed with
        are checked again; the summary line follows."""
        doc, mask, before = self.ws.doc, self.layers.check_zyx, self._check_marks
        if axis != self.session.axis or doc is None or mask is None:
            return
        shown = self.shown_result() if self.layers.visible["check"] else None
        if shown is None:
            return
        marks = doc.item.labeled[axis]
        if before is None or before.shape != marks.shape:
            self.refresh_check()
            return
        changed = np.flatnonzero(before != marks)
        if not changed.size:
            return
        a = axis_index(axis)
        for index in changed:
            box = tuple(
                slice(int(index), int(index) + 1) if d == a else slice(None) for d in range(3)
            )
            mask[box] = label_check(
                doc.labels_zyx[box],
                marks[int(index) : int(index) + 1],
                shown.prediction_zyx[box],
                shown.uncertainty_zyx[box],
                axis,
                CHECK_THRESHOLD,
            )
        self._check_marks = marks.copy()
        self._summarize_check(mask)
        self.layers.notify()

    def labels_changed(self, region: Region) -> None:
        """Keep the label check current where the user painted (only that box)."""
        doc, mask = self.ws.doc, self.layers.check_zyx
        shown = self.shown_result() if self.layers.visible["check"] else None
        if doc is None or shown is None or mask is None:
            return
        box = region.slices()
        mask[box] = label_check(
            doc.labels_zyx[box],
            doc.item.labeled[self.session.axis][box[axis_index(self.session.axis)]],
            shown.prediction_zyx[box],
            shown.uncertainty_zyx[box],
            self.session.axis,
            CHECK_THRESHOLD,
        )
        met = tuple(a for a in ALL_AXES if region.meets(a, self.ws.view.slice_index(a)))
        if met:
            self.layers.notify(met)


def _scores(entropy_zyx: np.ndarray) -> dict[str, np.ndarray]:
    return {axis: slice_scores(entropy_zyx, axis) for axis in ALL_AXES}
