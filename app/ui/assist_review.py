"""Review actions of the assist loop: suggestions, accepting, label check, versions.

A mixin of ``AssistController`` (``app.ui.assist``), kept apart so each module stays small. It
uses the controller's ``ws``, ``window``, ``session``, ``panel`` and ``overlays``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.state.document import Region
from app.state.prediction_edits import AcceptOptions, accept_prediction, label_check, mark_labeled
from app.state.training_session import Suggestion, TrainingSession
from app.ui.training_panel import SCOPES, TrainingPanel
from app.ui.uncertainty_overlay import AssistOverlays

AXIS = "z"  # training and suggestions run along the axial axis
CHECK_THRESHOLD = 0.1  # nats: "confidently" for the label check


class ReviewActions:
    """What the user does with a trained model (mixed into ``AssistController``)."""

    ws: Any
    window: Any
    session: TrainingSession
    panel: TrainingPanel
    overlays: AssistOverlays
    _check_on: bool

    def _redraw(self) -> None:
        raise NotImplementedError

    # -- suggestions -------------------------------------------------------------------------
    def go_to_suggestion(self, row: int) -> None:
        """Move the crosshair to suggestion ``row`` (its most uncertain region)."""
        if self.ws.doc is None or not 0 <= row < len(self.session.suggestions):
            return
        self._jump(self.session.suggestions[row])

    def next_suggestion(self) -> None:
        """Jump to the best unlabeled suggestion after the slice shown (key N)."""
        doc = self.ws.doc
        if doc is None:
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
        self.panel.set_status(
            f"Slice {suggestion.slice_index}: score {suggestion.score:.2f}, uncertain region "
            f"{suggestion.region_nats:.2f} nats."
        )

    # -- accepting ---------------------------------------------------------------------------
    def accept(self, indices: list[int], options: AcceptOptions) -> int:
        """Accept the shown prediction on axial ``indices`` as one undo step; voxels changed."""
        version, editor = self.session.shown_version, self.ws.editor
        if version is None or editor is None:
            self.panel.set_status("Train a model first: there is no prediction to accept.")
            return 0
        result = accept_prediction(
            editor, version.prediction_zyx(), version.uncertainty_zyx(), AXIS, indices, options
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
        doc, version = self.ws.doc, self.session.shown_version
        if not self._check_on or doc is None or version is None:
            self.overlays.set_check(None)
            self.panel.set_check_count("")
            return
        mask = label_check(
            doc.labels_zyx,
            doc.item.labeled[AXIS],
            version.prediction_zyx(),
            version.uncertainty_zyx(),
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
        doc, version, mask = self.ws.doc, self.session.shown_version, self.overlays.check_zyx
        if not self._check_on or doc is None or version is None or mask is None:
            return
        box = region.slices()
        mask[box] = label_check(
            doc.labels_zyx[box],
            doc.item.labeled[AXIS][box[0]],
            version.prediction_zyx()[box],
            version.uncertainty_zyx()[box],
            AXIS,
            CHECK_THRESHOLD,
        )
        for axis in self.window.views:
            if region.meets(axis, self.ws.view.slice_index(axis)):
                self.overlays.redraw_view(axis, self.ws.view.slice_index(axis))

    def _rollback(self, row: int) -> None:
        if 0 <= row < len(self.session.versions):
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
