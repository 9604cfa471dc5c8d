"""The assist loop's state (Qt-free): model versions, the running job, suggestions.

One ``TrainingSession`` per window, reset for each document. It keeps each finished run as a
``ModelVersion``, which version is current (warm starts and accepting come from it) and which
one is compared, the running job (its volumes, loss curves and latest live preview, fed by
``apply(event)``), the ranked suggestions of where to annotate next with the per-slice scores
the strips are coloured by, and the slices accepted from a prediction but not yet confirmed.
Each topic has its own signal, so a listener hears only what it shows. Label edits made from a
prediction live in ``app.state.prediction_edits``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.state.model_version import ModelVersion
from app.state.observable import Signal
from app.state.suggestions import Suggestion
from ugpcl_engine import Preview, Progress, Stage, Validation

LOSS_KEYS = ("sup", "con", "contrast", "rot")
HOLDOUT_MIN_LABELED = 4  # with fewer labeled slices every one of them is needed for training


@dataclass
class LivePreview:
    """The latest preview from the running job (one slice, current weights).

    Attributes:
        step: training step; slice_index: along the training axis.
        labels_rc: (H, W) uint8; entropy_rc: (H, W) float32 nats.
    """

    step: int
    slice_index: int
    labels_rc: np.ndarray
    entropy_rc: np.ndarray


@dataclass(frozen=True)
class Ranking:
    """Per-slice uncertainty scores of the volume the suggestions belong to (slice strips).

    Attributes:
        volume: the document volume ranked.
        scores: per axis, (N,) mean entropy per slice in nats.
        max_nats: top of the colour scale when it was ranked (ln C).
    """

    volume: int
    scores: dict[str, np.ndarray] = field(default_factory=dict)
    max_nats: float = math.log(2)


class TrainingSession:
    """Everything the assist loop remembers for one document.

    Args:
        axis: the training axis.
        first_number: number of the first version (after the runs a project recorded).

    Attributes:
        versions: finished runs, oldest first.
        current: index into ``versions`` of the model in use, or None.
        compare: index of the version compared with ``current``, or None.
        showing_compare: True while the compared version is the one displayed.
        running_volumes: document volumes of the running job, the previewed one first
            (empty when no job runs).
        losses: per loss name a list of (step, value) of the running job.
        holdout_dice: (step, Dice) of the running job's held-out checks, oldest first: the
            child reports the Dice on the labeled slice left out of training a few times
            while it trains and once more on the final prediction.
        preview: latest live preview of the running job, or None.
        suggestions: ranked slices to annotate next.
        ranking: the scores the suggestions came with (which volume they belong to), or None.
        accepted: slices filled from a prediction and not yet confirmed as labeled.

    Signals (one per topic; state code never knows who listens):
        versions_changed(None): the list, the current or the compared version changed.
        shown_changed(None): which version is displayed (current or compared) changed.
        losses_changed(None): new loss numbers (or none: a new job).
        progressed(Progress): the running job's step, total and time left.
        preview_changed(LivePreview | None): a new live preview, or it was dropped.
        validated(Validation): a held-out check of the running job (already appended to
            ``holdout_dice``).
        stage_changed(str): the running job entered a phase, e.g. ``"predicting"``.
        suggestions_changed(None): new suggestions and ranking.
        accepted_changed(int): the number of accepted, unconfirmed slices.
        axis_changed(str): the training axis changed (suggestions and accepted slices of the
            old axis were dropped).
    """

    def __init__(self, axis: str = "z", first_number: int = 1) -> None:
        self.axis = axis
        self.versions_changed: Signal[None] = Signal()
        self.shown_changed: Signal[None] = Signal()
        self.losses_changed: Signal[None] = Signal()
        self.progressed: Signal[Progress] = Signal()
        self.preview_changed: Signal[LivePreview | None] = Signal()
        self.validated: Signal[Validation] = Signal()
        self.stage_changed: Signal[str] = Signal()
        self.suggestions_changed: Signal[None] = Signal()
        self.accepted_changed: Signal[int] = Signal()
        self.axis_changed: Signal[str] = Signal()
        self._handlers: dict[type, Callable[[Any], None]] = {
            Progress: self._progress,
            Preview: self._preview,
            Validation: self._validation,
            Stage: lambda event: self.stage_changed.emit(event.name),
        }
        self._clear(first_number)

    def _clear(self, first_number: int) -> None:
        self.first_number = first_number
        self.versions: list[ModelVersion] = []
        self.current: int | None = None
        self.compare: int | None = None
        self.showing_compare = False
        self.running_volumes: tuple[int, ...] = ()
        self.losses: dict[str, list[tuple[int, float]]] = {k: [] for k in LOSS_KEYS}
        self.holdout_dice: list[tuple[int, float]] = []
        self.preview: LivePreview | None = None
        self.suggestions: list[Suggestion] = []
        self.ranking: Ranking | None = None
        self.accepted: set[int] = set()
        self._last_jump: int | None = None

    def reset(self, first_number: int = 1) -> None:
        """Forget everything for a new document (version numbers start at ``first_number``)."""
        self._clear(first_number)
        for topic in (self.versions_changed, self.suggestions_changed, self.losses_changed):
            topic.emit(None)
        self.preview_changed.emit(None)
        self.accepted_changed.emit(0)

    def set_axis(self, axis: str) -> bool:
        """Train and suggest along ``axis`` (``"z"``, ``"y"`` or ``"x"``) from now on.

        The suggestions, their ranking and the accepted slices are indices along the old axis,
        so they go; the versions stay (their predictions are volumes, ranked again along the new
        axis by the review). Returns False when ``axis`` was already the training axis.
        """
        if axis not in ("z", "y", "x"):
            raise ValueError(f"unknown axis {axis!r}")
        if axis == self.axis:
            return False
        self.axis = axis
        self.suggestions, self.ranking, self._last_jump = [], None, None
        self.accepted.clear()
        self.axis_changed.emit(axis)
        self.suggestions_changed.emit(None)
        self.accepted_changed.emit(0)
        return True

    # -- versions ----------------------------------------------------------------------------
    @property
    def current_version(self) -> ModelVersion | None:
        """The model in use (warm starts, accepting), or None before the first run."""
        return None if self.current is None else self.versions[self.current]

    @property
    def shown_version(self) -> ModelVersion | None:
        """The version whose prediction is displayed (current, or compared while toggled)."""
        if self.showing_compare and self.compare is not None:
            return self.versions[self.compare]
        return self.current_version

    def add_version(self, version: ModelVersion, make_current: bool = True) -> None:
        """Append a finished run.

        Args:
            version: the run.
            make_current: make it the model in use (the previous one becomes the comparison);
                False keeps the current one and what is shown (a refinement round that was
                not better is listed, not used).
        """
        self.versions.append(version)
        if make_current:
            self.compare = self.current
            self.current = len(self.versions) - 1
            self.showing_compare = False
        self.versions_changed.emit(None)

    def restore(self, versions: list[ModelVersion], current: int | None) -> None:
        """Show the versions read back from a project (``version_store.restore_versions``).

        Args:
            versions: oldest first.
            current: index of the one in use, or None.
        """
        self.versions = list(versions)
        self.current, self.compare, self.showing_compare = current, None, False
        self.versions_changed.emit(None)

    def version_edited(self) -> None:
        """A version's own fields changed (e.g. it became view only): list it again."""
        self.versions_changed.emit(None)

    def next_number(self) -> int:
        """Number the next version will get: ``first_number``, or one after the last one."""
        return max(self.first_number, 1 + max((v.number for v in self.versions), default=0))

    def rollback(self, index: int) -> None:
        """Make version ``index`` current (the one left becomes the comparison).

        Raises:
            IndexError: for an unknown index.
        """
        if not 0 <= index < len(self.versions):
            raise IndexError(f"no model version {index}")
        if index != self.current:
            self.compare, self.current = self.current, index
        self.showing_compare = False
        self.versions_changed.emit(None)

    def set_compare(self, index: int | None) -> None:
        """Choose the version to compare with (None: none)."""
        self.compare = index
        self.showing_compare = self.showing_compare and index is not None
        self.shown_changed.emit(None)

    def toggle_shown(self) -> bool:
        """Flip the display between the current and the compared version; return the new flag."""
        self.showing_compare = self.compare is not None and not self.showing_compare
        self.shown_changed.emit(None)
        return self.showing_compare

    def warm_start(self, preset: str) -> Path | None:
        """Checkpoint to warm-start a run of ``preset`` from (same preset, not view only), or
        None."""
        version = self.current_version
        if version is None or version.preset != preset or version.view_only:
            return None
        if not version.checkpoint.is_file():  # a temporary run folder was cleaned up
            return None
        return version.checkpoint

    # -- the running job ---------------------------------------------------------------------
    def begin_run(self, volumes: tuple[int, ...] = (0,)) -> None:
        """A job on ``volumes`` (the previewed one first) starts: forget the previous curves
        and preview."""
        self.running_volumes = tuple(volumes)
        self.losses = {k: [] for k in LOSS_KEYS}
        self.holdout_dice = []
        self.preview = None
        self.losses_changed.emit(None)
        self.preview_changed.emit(None)

    def end_run(self) -> None:
        """The job ended (with a model or without): its live preview goes."""
        self.running_volumes = ()
        self.clear_preview()

    def clear_preview(self) -> None:
        """Drop the live preview until the next one arrives."""
        self.preview = None
        self.preview_changed.emit(None)

    def apply(self, event: object) -> None:
        """Take one event of the running job: ``Progress`` (losses, step), ``Preview``,
        ``Validation`` or ``Stage``; each goes to its topic's signal. Other events are
        ignored (the supervisor reports the start and the end of a job itself)."""
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _progress(self, event: Progress) -> None:
        self.record_losses(event.step, event.losses)
        self.progressed.emit(event)

    def _validation(self, event: Validation) -> None:
        self.record_holdout(event.step, event.dice)
        self.validated.emit(event)

    def record_holdout(self, step: int, dice: float) -> None:
        """Append one held-out Dice (0–1) at ``step``; a value that is not a number between 0
        and 1 is not kept. A check at the step of the previous one (the final prediction's
        after the last check during training) replaces it: one point per step."""
        if not (math.isfinite(dice) and 0.0 <= dice <= 1.0):
            return
        if self.holdout_dice and self.holdout_dice[-1][0] == step:
            self.holdout_dice[-1] = (step, float(dice))
        else:
            self.holdout_dice.append((step, float(dice)))

    def _preview(self, event: Preview) -> None:
        self.preview = LivePreview(event.step, event.slice_index, event.labels_hw, event.entropy_hw)
        self.preview_changed.emit(self.preview)

    def record_losses(self, step: int, losses: dict[str, float]) -> None:
        """Append one ``Progress`` event's losses (finite values only)."""
        for key in LOSS_KEYS:
            value = losses.get(key)
            if value is not None and math.isfinite(value):
                self.losses[key].append((step, float(value)))
        self.losses_changed.emit(None)

    # -- suggestions and accepted slices -----------------------------------------------------
    def set_suggestions(
        self, suggestions: list[Suggestion], ranking: Ranking | None = None
    ) -> None:
        """Replace the ranked suggestions (and the scores they came with)."""
        self.suggestions, self.ranking = suggestions, ranking
        self._last_jump = None
        self.suggestions_changed.emit(None)

    def next_suggestion(self, here: int, labeled: np.ndarray) -> Suggestion | None:
        """The next suggestion to visit (key N).

        From the slice the previous call returned, the next one in rank order; from anywhere
        else, the best one. Slices labeled since the ranking are skipped.

        Args:
            here: slice shown now.
            labeled: bool (N,) current marks along the axis.

        Returns:
            A suggestion, or None when every suggested slice is labeled by now.
        """
        open_ = [s for s in self.suggestions if not labeled[s.slice_index]]
        if not open_:
            return None
        indices = [s.slice_index for s in open_]
        pick = open_[0]
        if here == self._last_jump and here in indices:
            pick = open_[(indices.index(here) + 1) % len(open_)]
        self._last_jump = pick.slice_index
        return pick

    def add_accepted(self, slices: Iterable[int]) -> None:
        """Slices filled from a prediction, to be confirmed as labeled."""
        self.accepted.update(slices)
        self.accepted_changed.emit(len(self.accepted))

    def clear_accepted(self) -> None:
        """Forget the accepted slices (confirmed, or of a volume no longer shown)."""
        self.accepted.clear()
        self.accepted_changed.emit(0)


def holdout_slice(labeled: np.ndarray, run_number: int) -> int | None:
    """The labeled slice left out for the held-out check, rotating with the run number.

    Only inner labeled slices are held out (never the first or the last): the run still sees
    the whole labeled span, the check measures the model between labeled slices, where it is
    used, and fill between slices can be scored on the same slice from the first run on.

    Args:
        labeled: bool (N,) marks along the axis.
        run_number: 1-based number of the coming run.

    Returns:
        A slice index, or None with fewer than ``HOLDOUT_MIN_LABELED`` labeled slices.
    """
    marked = np.flatnonzero(labeled)
    if len(marked) < HOLDOUT_MIN_LABELED:
        return None
    inner = marked[1:-1]
    return int(inner[(run_number - 1) % len(inner)])


def max_entropy(num_classes: int) -> float:
    """Largest possible entropy of ``num_classes`` classes in nats (ln C)."""
    return float(np.log(max(num_classes, 2)))
