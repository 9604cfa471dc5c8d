"""Review actions of the assist loop: suggestions, accepting, label check, versions.

A mixin of ``AssistController`` (``app.ui.assist``), kept apart so each module stays small. It
uses the controller's ``ws``, ``window``, ``session``, ``panel`` and ``overlays``.

Model versions of a saved project: on save the version in use is brought into the project
(``version_store.keep_version_in_use``: results stored once, checkpoint copied beside it); on
reopening the Versions list is rebuilt from the records (``version_store.restore_versions``).

Which result belongs to the volume shown (``shown_result``): the session's shown version on
every volume it was trained on and predicted (its run folder holds one prediction per volume);
on any other volume the newest result stored with that volume
(Model › Run model on project volume…, or read from the project file). Overlays, accepting and
the label check all use that result, so nothing of one volume is ever drawn on or written into
another.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from app.jobs.tasks import TaskRunner
from app.state.document import Region, SavePlan
from app.state.prediction_edits import AcceptOptions, accept_prediction, label_check, mark_labeled
from app.state.training_session import (
    ModelVersion,
    Suggestion,
    TrainingSession,
    slice_scores,
    suggest_slices,
)
from app.state.version_store import check_checkpoint, keep_version_in_use, restore_versions
from app.ui.overlay import label_lut
from app.ui.training_panel import SCOPES, TrainingPanel
from app.ui.uncertainty_overlay import AssistOverlays, strip_colours

AXIS = "z"  # training and suggestions run along the axial axis
CHECK_THRESHOLD = 0.1  # nats: "confidently" for the label check


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


class ReviewActions:
    """What the user does with a trained model (mixed into ``AssistController``)."""

    ws: Any
    window: Any
    session: TrainingSession
    panel: TrainingPanel
    overlays: AssistOverlays
    tasks: TaskRunner
    _check_on: bool
    _ranked_volume: int | None  # the volume the suggestions and strip colours belong to

    _colours: dict[str, np.ndarray]  # strip colours per axis (of ``_ranked_volume``)

    def _max_nats(self) -> float:
        raise NotImplementedError

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

    # -- the volume shown ---------------------------------------------------------------------
    def _show_version(self) -> None:
        """Put the result of the volume shown (``shown_result``) on the overlays."""
        doc, shown = self.ws.doc, self.shown_result()
        if doc is None:
            return
        lut = label_lut(doc.table, doc.hidden, 1.0)
        if shown is None:
            self.overlays.set_result(None, None, lut, self._max_nats())
            self.panel.set_shown("")
        else:
            self.overlays.set_result(
                shown.prediction_zyx, shown.uncertainty_zyx, lut, self._max_nats()
            )
            self.panel.set_shown(shown.caption)
        self._refresh_check()
        self._redraw()

    def _volume_changed(self) -> None:
        """Another volume is shown: its result, label check, strips and slice range.

        The live preview (of the training volume) is dropped until the next one arrives, and
        the accepted-but-unconfirmed slices are forgotten: they are slice numbers of the volume
        left (the accepted labels stay, and stay undoable there).
        """
        doc = self.ws.doc
        if doc is None:
            return
        self.overlays.set_preview(None, np.zeros(0), np.zeros(0))
        self.session.accepted.clear()
        self.panel.set_accepted_count(0)
        self.panel.set_slice_count(doc.slice_count(AXIS))
        self.panel.legend.set_range(self._max_nats())
        self._show_version()
        self._paint_strips()

    def _predictions_changed(self, index: int) -> None:
        if self.ws.doc is not None and index == self.ws.doc.current:
            self._show_version()

    def _redraw(self) -> None:
        if self.ws.doc is not None:
            self.overlays.redraw({a: self.ws.view.slice_index(a) for a in self.window.views})

    def _paint_strips(self) -> None:
        doc = self.ws.doc
        if doc is None or not self._colours or self._ranked_volume != doc.current:
            return
        for axis, view in self.window.views.items():
            view.set_marks(doc.item.labeled[axis], self._colours.get(axis))

    def _suggestions_here(self) -> bool:
        doc = self.ws.doc
        if doc is None:
            return False
        if self._ranked_volume is not None and self._ranked_volume != doc.current:
            self.panel.set_status(
                f"The suggestions are for volume {self._ranked_volume + 1}; switch to it in "
                "View › Volume, or train on this volume."
            )
            return False
        return True

    # -- suggestions -------------------------------------------------------------------------
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
        here = self.ws.view.slice_index(AXIS)
        suggestion = self.session.next_suggestion(here, doc.item.labeled[AXIS])
        if suggestion is None:
            self.panel.set_status("No suggestion left: train again to get new ones.")
            return
        self._jump(suggestion)

    def _jump(self, suggestion: Suggestion) -> None:
        doc = self.ws.doc
        assert doc is not None
        _, y, x = self.ws.view.cursor_zyx
        if suggestion.regions_rc:
            y, x = suggestion.regions_rc[0]
        shape = doc.item.volume.geometry.shape_zyx
        self.ws.view.set_cursor((suggestion.slice_index, y, x), shape)
        rows = [i for i, s in enumerate(self.session.suggestions) if s is suggestion]
        if rows:  # the list shows where N went
            self.panel.suggestions.setCurrentRow(rows[0])
        self.panel.set_status(
            f"Slice {suggestion.slice_index}: score {suggestion.score:.2f}, uncertain region "
            f"{suggestion.region_nats:.2f} nats."
        )

    # -- accepting ---------------------------------------------------------------------------
    def accept(self, indices: list[int], options: AcceptOptions) -> int:
        """Accept the shown prediction on axial ``indices`` as one undo step; voxels changed."""
        shown, editor = self.shown_result(), self.ws.editor
        if shown is None or editor is None:
            self.panel.set_status(
                "There is no prediction on this volume: train a model, or run one on it "
                "(Model › Run model on project volume…)."
            )
            return 0
        result = accept_prediction(
            editor, shown.prediction_zyx, shown.uncertainty_zyx, AXIS, indices, options
        )
        if result is None:
            self.panel.set_status("Nothing to accept there with these settings.")
            return 0
        self.session.accepted.update(result.slices)
        self.panel.set_accepted_count(len(self.session.accepted))
        self.panel.set_status(
            f"Accepted {result.voxels} voxels on {len(result.slices)} slice(s); Ctrl+Z undoes. "
            "Mark them labeled once you have checked them."
        )
        self.window.views[AXIS].flush()
        return result.voxels

    def accept_current_slice(self) -> int:
        """Accept on the axial slice shown with the panel's options."""
        return self.accept([self.ws.view.slice_index(AXIS)], self._options())

    def _options(self) -> AcceptOptions:
        p = self.panel
        return AcceptOptions(p.confident.isChecked(), p.threshold.value(), p.overwrite.isChecked())

    def _accept_from_panel(
        self, scope: str, lo: int, hi: int, confident: bool, threshold: float, overwrite: bool
    ) -> None:
        doc = self.ws.doc
        if doc is None:
            return
        if scope == SCOPES[0]:
            indices = [self.ws.view.slice_index(AXIS)]
        elif scope == SCOPES[1]:
            indices = list(range(min(lo, hi), max(lo, hi) + 1))
        else:
            indices = list(range(doc.slice_count(AXIS)))
        self.accept(indices, AcceptOptions(confident, threshold, overwrite))

    def confirm_accepted(self) -> None:
        """Mark the accepted slices labeled (one undo step)."""
        if self.ws.editor is not None and self.session.accepted:
            mark_labeled(self.ws.editor, AXIS, sorted(self.session.accepted))
            self.session.accepted.clear()
            self.panel.set_accepted_count(0)

    # -- label check and versions ------------------------------------------------------------
    def set_label_check(self, on: bool) -> None:
        """Show (or hide) voxels where the model confidently disagrees with the user's paint."""
        self._check_on = on
        self.overlays.set_layer("check", visible=on)
        self._refresh_check()
        self._redraw()

    def _toggle_check_box(self) -> None:
        box = self.panel.layer_boxes["check"][0]
        box.setChecked(not box.isChecked())

    def _refresh_check(self) -> None:
        doc, shown = self.ws.doc, self.shown_result()
        if not self._check_on or doc is None or shown is None:
            self.overlays.set_check(None)
            self.panel.set_check_count("")
            return
        mask = label_check(
            doc.labels_zyx,
            doc.item.labeled[AXIS],
            shown.prediction_zyx,
            shown.uncertainty_zyx,
            AXIS,
            CHECK_THRESHOLD,
        )
        self.overlays.set_check(mask)
        slices = np.flatnonzero(mask.any(axis=(1, 2)))
        self.panel.set_check_count(
            f"{int(mask.sum())} voxels on {len(slices)} slice(s) disagree confidently"
            + (f": {', '.join(str(i) for i in slices[:8])}" if len(slices) else "")
        )
        if self.ws.doc is not None:
            self._redraw()

    def _labels_changed(self, region: Region) -> None:
        """Keep the label check current where the user painted (only that box)."""
        doc, mask = self.ws.doc, self.overlays.check_zyx
        shown = self.shown_result() if self._check_on else None
        if doc is None or shown is None or mask is None:
            return
        box = region.slices()
        mask[box] = label_check(
            doc.labels_zyx[box],
            doc.item.labeled[AXIS][box[0]],
            shown.prediction_zyx[box],
            shown.uncertainty_zyx[box],
            AXIS,
            CHECK_THRESHOLD,
        )
        for axis in self.window.views:
            if region.meets(axis, self.ws.view.slice_index(axis)):
                self.overlays.redraw_view(axis, self.ws.view.slice_index(axis))

    def _rollback(self, row: int) -> None:
        if not 0 <= row < len(self.session.versions):
            return
        doc = self.ws.doc
        note = "" if doc is None else check_checkpoint(self.session.versions[row], doc.records)
        if note:
            self.panel.set_status(note + " Compare it instead (V shows it).")
            self.session.changed.emit("versions")  # the list now says "view only"
            return
        self.session.rollback(row)

    def _compare(self, row: int) -> None:
        if 0 <= row < len(self.session.versions):
            self.session.set_compare(row)

    def toggle_compare(self) -> None:
        """Flip the overlays between the current and the compared version (key V)."""
        if self.session.compare is None:
            self.panel.set_status("Choose a version to compare with in the Versions tab.")
            return
        self.session.toggle_shown()

    # -- suggestions of a version, versions of a project ----------------------------------
    def _rank(self, version: ModelVersion) -> None:
        """Rank slices of the version's first volume on a pool thread (suggestions, strips)."""
        doc = self.ws.doc
        if doc is None or version.volume_index >= len(doc.items):
            return
        entropy, pred = version.uncertainty_zyx(), version.prediction_zyx()
        volume = version.volume_index
        labeled = doc.items[volume].labeled[AXIS].copy()
        self.tasks.submit(
            "rank",
            lambda: (suggest_slices(entropy, pred, labeled, AXIS), _scores(entropy)),
            lambda result: self._ranked(result, volume),
            lambda msg: self.panel.set_status(msg),
        )

    def _ranked(self, result: Any, volume_index: int) -> None:
        suggestions, scores = result
        self._colours = {axis: strip_colours(s, self._max_nats()) for axis, s in scores.items()}
        self._ranked_volume = volume_index
        self.session.set_suggestions(suggestions)
        self._paint_strips()

    def _saving(self, plan: SavePlan) -> None:
        """Before a save: keep the version in use with the project (``Document.saving``)."""
        doc, version = self.ws.doc, self.session.current_version
        if doc is not None and version is not None:
            keep_version_in_use(doc, version, plan)

    def _restore_versions(self) -> None:
        """After opening a project: list its model versions and use the one it recorded."""
        doc = self.ws.doc
        restored = None if doc is None else restore_versions(doc)
        if restored is None or restored.current is None:
            return
        self.session.restore(restored.versions, restored.current)
        version = restored.versions[restored.current]
        self.panel.set_status(
            " ".join(
                [
                    f"{len(restored.versions)} model version(s) from the project; v{version.number}"
                    " in use.",
                    *restored.notes,
                ]
            )
        )
        self._rank(version)


def _scores(entropy_zyx: np.ndarray) -> dict[str, np.ndarray]:
    return {axis: slice_scores(entropy_zyx, axis) for axis in ("z", "y", "x")}
