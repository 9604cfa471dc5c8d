"""The assist loop's state (Qt-free): model versions, live training numbers, suggestions.

One ``TrainingSession`` per document. It keeps each finished run as a ``ModelVersion`` (its
number of labeled slices, a hash of the label snapshot, metrics and time), which version is
current (warm starts and accepting come from it) and which one is compared, the loss curves of
the running job, the latest live preview and the ranked suggestions of where to annotate next.
Label edits made from a prediction live in ``app.state.prediction_edits``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.state.observable import Signal
from ugpcl_engine import uncertainty
from ugpcl_engine.training.run_folder import PREDICTION_FILE, UNCERTAINTY_FILE, volume_file
from ugpcl_engine.volume import axis_index

LOSS_KEYS = ("sup", "con", "contrast", "rot")
HOLDOUT_MIN_LABELED = 4  # with fewer labeled slices every one of them is needed for training


@dataclass
class ModelVersion:
    """One finished training run.

    Attributes:
        number: 1, 2, … in the order the runs finished.
        run_dir: its run folder (checkpoint, prediction and uncertainty files).
        preset: preset name it was trained with.
        labeled_count: labeled slices it learned from (all its volumes together).
        label_hash: hash of the label snapshot (``run_folder.snapshot_hash``).
        metrics: numbers from the child (steps, seconds, held-out Dice, mean uncertainty).
        created: local time the run finished, ``YYYY-MM-DD HH:MM``.
        stopped_early: the user stopped it and kept the model.
        volume_index: the document volume it was trained on first: the one previewed and held
            out from (its prediction and uncertainty lie on that volume's grid).
        volume_indices: every document volume it was trained on and predicted, in the run
            folder's order (file suffix ``-k`` for position k); empty: ``volume_index`` only.
        results: document volume -> (prediction (Z, Y, X) uint8, entropy (Z, Y, X) float
            nats) held in memory (a version read back from a project); used before the files.
        checkpoint_file: its model file when not ``run_dir/model.pt`` (a copy kept beside
            the project, ``app.state.version_store``).
        view_only: why it cannot be trained from or rolled back to ("" when it can): its
            model file is missing or differs from the one recorded.
        checked: False until the model file of a version read back from a project has been
            compared with its recorded SHA-256 (``version_store.check_checkpoint``).
    """

    number: int
    run_dir: Path
    preset: str
    labeled_count: int
    label_hash: str
    metrics: dict[str, float] = field(default_factory=dict)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M"))
    stopped_early: bool = False
    volume_index: int = 0
    volume_indices: tuple[int, ...] = ()
    results: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    checkpoint_file: Path | None = None
    view_only: str = ""
    checked: bool = True

    @property
    def checkpoint(self) -> Path:
        """The model file of the run."""
        return self.checkpoint_file or self.run_dir / "model.pt"

    @property
    def volumes(self) -> tuple[int, ...]:
        """Document volumes with a prediction of this version, the first one first."""
        return self.volume_indices or (self.volume_index,)

    def predicts(self, volume: int) -> bool:
        """True when the run folder holds a prediction of document volume ``volume``."""
        return volume in self.volumes

    def prediction_zyx(self, volume: int | None = None) -> np.ndarray:
        """Predicted labels (Z, Y, X) uint8 of document volume ``volume`` (default: the first),
        from ``results`` or else memory-mapped read-only from the run folder.

        Raises:
            ValueError: the version has no prediction of that volume.
        """
        return self._array(0, PREDICTION_FILE, volume)

    def uncertainty_zyx(self, volume: int | None = None) -> np.ndarray:
        """Entropy (Z, Y, X) float32 in nats of document volume ``volume`` (default: the
        first), from ``results`` or else memory-mapped read-only from the run folder.

        Raises:
            ValueError: the version has no prediction of that volume.
        """
        return self._array(1, UNCERTAINTY_FILE, volume)

    def _array(self, which: int, name: str, volume: int | None) -> np.ndarray:
        """Item ``which`` of the held ``results`` of ``volume``, else its run-folder file."""
        if self._held(volume) in self.results:
            return self.results[self._held(volume)][which]
        array: np.ndarray = np.load(self._file(name, volume), mmap_mode="r")
        return array

    def _held(self, volume: int | None) -> int:
        return self.volumes[0] if volume is None else volume

    def _file(self, name: str, volume: int | None) -> Path:
        position = 0 if volume is None else self.volumes.index(volume)
        return self.run_dir / volume_file(name, position)

    def summary(self) -> str:
        """One line for the versions list."""
        labeled = f"{self.labeled_count} labeled"
        if len(self.volumes) > 1:
            labeled += f" in {len(self.volumes)} volumes"
        parts = [f"v{self.number}", self.preset, labeled]
        if "holdout_dice" in self.metrics:
            parts.append(f"held-out Dice {self.metrics['holdout_dice']:.2f}")
        if "mean_uncertainty" in self.metrics:
            parts.append(f"mean H {self.metrics['mean_uncertainty']:.3f}")
        parts += [self.created, f"#{self.label_hash[:6]}"]
        if self.view_only:
            parts.append("view only")
        return " · ".join(parts) + (" (stopped early)" if self.stopped_early else "")


@dataclass(frozen=True)
class Suggestion:
    """A slice worth annotating next.

    Attributes:
        slice_index: along the training axis.
        score: uncertainty score in [0, 1] (``ugpcl_engine.uncertainty.slice_scores``).
        regions_rc: centres (row, col) of its uncertain regions, most uncertainty first.
        region_nats: mean entropy of the first region (nats; the slice mean without one).
        from_label: slices to the nearest labeled slice when it was ranked (``None``: none
            labeled). The list is ranked by score and this distance together, so a suggestion
            far from every label can come before a more uncertain one next to a label.
    """

    slice_index: int
    score: float
    regions_rc: tuple[tuple[int, int], ...] = ()
    region_nats: float = 0.0
    from_label: int | None = None

    def describe(self) -> str:
        """One line for the suggestions list: why this slice, and where to look on it."""
        parts = [f"slice {self.slice_index}", f"uncertainty {self.score:.2f}"]
        if self.from_label is not None:
            parts.append(
                f"{self.from_label} slice{'s' if self.from_label != 1 else ''} from a label"
            )
        if self.regions_rc:
            row, col = self.regions_rc[0]
            parts.append(f"unsure region at row {row}, col {col} ({self.region_nats:.2f} nats)")
        return " · ".join(parts)


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
        losses: per loss name a list of (step, value) of the running job.
        preview: latest live preview, or None.
        suggestions: ranked slices to annotate next.
        accepted: slices filled from a prediction and not yet confirmed as labeled.
        changed: emits what changed: ``"versions"``, ``"losses"``, ``"preview"``,
            ``"suggestions"``, ``"accepted"``, ``"shown"``.
    """

    def __init__(self, axis: str = "z", first_number: int = 1) -> None:
        self.axis = axis
        self.first_number = first_number
        self.versions: list[ModelVersion] = []
        self.current: int | None = None
        self.compare: int | None = None
        self.showing_compare = False
        self.losses: dict[str, list[tuple[int, float]]] = {k: [] for k in LOSS_KEYS}
        self.preview: LivePreview | None = None
        self.suggestions: list[Suggestion] = []
        self.accepted: set[int] = set()
        self._last_jump: int | None = None
        self.changed: Signal[str] = Signal()

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
        self.changed.emit("versions")

    def restore(self, versions: list[ModelVersion], current: int | None) -> None:
        """Show the versions read back from a project (``version_store.restore_versions``).

        Args:
            versions: oldest first.
            current: index of the one in use, or None.
        """
        self.versions = list(versions)
        self.current, self.compare, self.showing_compare = current, None, False
        self.changed.emit("versions")

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
        self.changed.emit("versions")

    def set_compare(self, index: int | None) -> None:
        """Choose the version to compare with (None: none)."""
        self.compare = index
        self.showing_compare = self.showing_compare and index is not None
        self.changed.emit("shown")

    def toggle_shown(self) -> bool:
        """Flip the display between the current and the compared version; return the new flag."""
        self.showing_compare = self.compare is not None and not self.showing_compare
        self.changed.emit("shown")
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

    # -- a running job -----------------------------------------------------------------------
    def begin_run(self) -> None:
        """Forget the curves and preview of the previous job."""
        self.losses = {k: [] for k in LOSS_KEYS}
        self.preview = None
        self.changed.emit("losses")

    def record_losses(self, step: int, losses: dict[str, float]) -> None:
        """Append one ``Progress`` event's losses (finite values only)."""
        for key in LOSS_KEYS:
            value = losses.get(key)
            if value is not None and math.isfinite(value):
                self.losses[key].append((step, float(value)))
        self.changed.emit("losses")

    def set_preview(self, preview: LivePreview) -> None:
        """Keep the newest live preview."""
        self.preview = preview
        self.changed.emit("preview")

    def set_suggestions(self, suggestions: list[Suggestion]) -> None:
        """Replace the ranked suggestions."""
        self.suggestions = suggestions
        self._last_jump = None
        self.changed.emit("suggestions")

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


def holdout_slice(labeled: np.ndarray, run_number: int) -> int | None:
    """The labeled slice left out for the held-out check, rotating with the run number.

    Args:
        labeled: bool (N,) marks along the axis.
        run_number: 1-based number of the coming run.

    Returns:
        A slice index, or None with fewer than ``HOLDOUT_MIN_LABELED`` labeled slices.
    """
    marked = np.flatnonzero(labeled)
    if len(marked) < HOLDOUT_MIN_LABELED:
        return None
    return int(marked[(run_number - 1) % len(marked)])


def suggest_slices(
    entropy_zyx: np.ndarray,
    pred_zyx: np.ndarray,
    labeled: np.ndarray,
    axis: str = "z",
    top: int = 10,
    min_gap: int = 2,
) -> list[Suggestion]:
    """Rank slices to annotate next with the engine's ranking, and locate uncertain regions.

    Uses ``ugpcl_engine.uncertainty``: slices scored by foreground uncertainty and uncertain
    area, weighted by their distance to the labeled slices (double beyond the outermost ones,
    where the model extrapolates), spread at least ``min_gap`` slices from each other and from
    labeled slices; regions are connected areas above half the largest entropy.

    Args:
        entropy_zyx: entropy (Z, Y, X) in nats.
        pred_zyx: predicted labels (Z, Y, X).
        labeled: bool (N,) marks along ``axis`` (labeled slices are never suggested).
        axis: slicing axis.
        top: suggestions returned.
        min_gap: least distance in slices between suggestions and labeled slices.

    Returns:
        Up to ``top`` suggestions, best first, each with up to 3 region centres.
    """
    entropy = np.asarray(entropy_zyx)
    marked = np.flatnonzero(labeled)
    ranked = uncertainty.rank_slices(
        entropy, np.asarray(pred_zyx), marked.tolist(), axis, top, min_gap
    )
    threshold = uncertainty.default_threshold(entropy)
    stack = np.moveaxis(entropy, axis_index(axis), 0)
    out = []
    for pick in ranked:
        regions = uncertainty.uncertain_regions(stack[pick.index], threshold)[:3]
        centres = tuple((round(r.centroid[0]), round(r.centroid[1])) for r in regions)
        nats = regions[0].score if regions else float(stack[pick.index].mean())
        gap = int(np.abs(marked - pick.index).min()) if marked.size else None
        out.append(Suggestion(pick.index, pick.score, centres, float(nats), gap))
    return out


def slice_scores(entropy_zyx: np.ndarray, axis: str = "z") -> np.ndarray:
    """Mean entropy of every slice along ``axis`` (N,) float32, for the slice strip."""
    stack = np.moveaxis(np.asarray(entropy_zyx), axis_index(axis), 0)
    return np.asarray(stack.reshape(stack.shape[0], -1).mean(1), np.float32)


def max_entropy(num_classes: int) -> float:
    """Largest possible entropy of ``num_classes`` classes in nats (ln C)."""
    return float(np.log(max(num_classes, 2)))


def version_from_result(
    number: int,
    run_dir: Path,
    preset: str,
    labeled: np.ndarray,
    label_hash: str,
    finished: Any,
    volume_index: int = 0,
    volume_indices: tuple[int, ...] = (),
) -> ModelVersion:
    """Build a version from the child's final ``Finished`` event.

    Args:
        number: version number.
        run_dir: the run folder.
        preset: preset name.
        labeled: bool marks the run trained on (of all its volumes, concatenated or not).
        label_hash: hash of the label snapshot.
        finished: the ``Finished`` event (``metrics``, ``stopped_early``).
        volume_index: the document volume the run trained on first.
        volume_indices: every document volume of the run, in run-folder order.

    Returns:
        The version.
    """
    return ModelVersion(
        number,
        run_dir,
        preset,
        int(np.count_nonzero(labeled)),
        label_hash,
        dict(finished.metrics),
        stopped_early=bool(finished.stopped_early),
        volume_index=volume_index,
        volume_indices=volume_indices,
    )
