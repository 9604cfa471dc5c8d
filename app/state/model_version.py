"""A finished training run of the assist loop, as the app keeps it (Qt-free).

A ``ModelVersion`` names its run folder, what it learned from (labeled slices, a hash of the
label snapshot, the document volumes) and its numbers; its prediction and uncertainty are read
(memory-mapped) from the run folder, or held in memory when read back from a project.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine import RunFolder


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
        checkpoint_file: its model file when not the run folder's (a copy kept beside the
            project, ``app.state.version_store``).
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
    def folder(self) -> RunFolder:
        """Its run folder's files (``run_dir``)."""
        return RunFolder(self.run_dir)

    @property
    def checkpoint(self) -> Path:
        """The model file of the run."""
        return self.checkpoint_file or self.folder.model

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
        return self._array(0, volume)

    def uncertainty_zyx(self, volume: int | None = None) -> np.ndarray:
        """Entropy (Z, Y, X) float32 in nats of document volume ``volume`` (default: the
        first), from ``results`` or else memory-mapped read-only from the run folder.

        Raises:
            ValueError: the version has no prediction of that volume.
        """
        return self._array(1, volume)

    def _array(self, which: int, volume: int | None) -> np.ndarray:
        """Item ``which`` (0 prediction, 1 uncertainty) of the held ``results`` of ``volume``,
        else its run-folder file."""
        if self._held(volume) in self.results:
            return self.results[self._held(volume)][which]
        position = 0 if volume is None else self.volumes.index(volume)
        files = (self.folder.prediction, self.folder.uncertainty)
        array: np.ndarray = np.load(files[which](position), mmap_mode="r")
        return array

    def _held(self, volume: int | None) -> int:
        return self.volumes[0] if volume is None else volume

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
