"""Guided slice selection, simulated: the reference labels play the annotator.

The protocol of ``design/BENCHMARKS.md`` §1, strategy ``guided``:

1. label ``k_start`` slices chosen ``uniform``-ly (``baselines.selection``);
2. train (UGPCL: the labeled slices plus every other slice as unlabeled data) and segment the
   volume: labels and the per-voxel entropy of the two decoders' mean softmax;
3. rank the slices with ``uncertainty.rank_slices`` (the app's own suggestion list) and "paint"
   the top suggestion: its reference labels join the labeled set;
4. retrain from the previous model (warm start, ``warm_steps`` steps, a fresh learning-rate
   schedule) and go back to 2, until ``k_max`` slices are labeled.

``chooser="farthest"`` runs the same loop (same warm starts, same step budget) but adds the
slice farthest from every labeled one within the foreground extent, ignoring the model: the
control that separates the value of the uncertainty ranking from that of the accumulated
warm-start training.

Each round is scored like the other strategies: mean foreground Dice in 3-D over the slices
that are not labeled in that round. Note on fairness: the model of round ``k`` has seen
``steps + (k - k_start) * warm_steps`` optimiser steps in total, more than a single run at the
same ``k`` (the app's workflow, where each new slice refines the current model).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ugpcl_benchmarks.baselines.selection import foreground_extent, select_slices
from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.config import RunSpec
from ugpcl_engine.device import prediction_device
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.metrics import evaluate_segmentation
from ugpcl_engine.training.events import Failed, Finished
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.training.trainer import train
from ugpcl_engine.uncertainty import SliceSuggestion, rank_slices
from ugpcl_engine.volume import LabelTable

Segmenter = Callable[
    ["TrainingVolume", Path, str | None], tuple[np.ndarray, np.ndarray, str | None]
]
"""A method in the guided loop: (volume, round folder, previous model) → (labels, entropy,
model)."""

CHOOSERS = ("uncertainty", "farthest")


@dataclass(frozen=True)
class GuidedRound:
    """One round of the guided loop.

    Attributes:
        k: number of labeled slices the model of this round was trained with.
        labeled: those slices, sorted.
        added: the slice added before this round (``None`` in the first round).
        suggestions: ``rank_slices`` on this round's prediction, best first (the next round
            adds the first one).
        dice: mean foreground Dice over the slices not in ``labeled``.
        prediction_zyx: uint8 labels (Z, Y, X) of this round's model.
        entropy_zyx: float32 entropy (Z, Y, X), nats.
        checkpoint: path of this round's ``model.pt`` (``None`` for a method without one).
        steps: optimiser steps of this round (not counting earlier rounds).
        seconds: wall time of training plus inference.
    """

    k: int
    labeled: tuple[int, ...]
    added: int | None
    suggestions: tuple[SliceSuggestion, ...]
    dice: float
    prediction_zyx: np.ndarray
    entropy_zyx: np.ndarray
    checkpoint: str | None
    steps: int
    seconds: float


def train_and_segment(
    volume: TrainingVolume,
    table: LabelTable,
    spec: RunSpec,
    out_dir: str | Path,
    axis: str = "z",
    init: str | None = None,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Train on ``volume`` (see ``train``) and segment the whole volume with the result.

    Args:
        volume: image, labels and labeled slices.
        table: label classes.
        spec: model and training configuration.
        out_dir: folder for ``model.pt``.
        axis: slicing axis.
        init: checkpoint to warm-start from.

    Returns:
        labels_zyx (uint8), entropy_zyx (float32), checkpoint path.

    Raises:
        InputError: bad data or configuration; RuntimeError when training failed (NaN loss).
    """
    last = None
    for event in train([volume], table, spec, out_dir, axis=axis, init=init):
        if isinstance(event, Failed):
            raise RuntimeError(event.message)
        last = event
    assert isinstance(last, Finished)
    ckpt = load_checkpoint(last.checkpoint)
    segmenter = TorchSegmenter.from_checkpoint(ckpt, prediction_device(spec.training.device))
    pred, entropy = segmenter.segment(volume.image_zyx, ckpt)
    return pred, entropy, last.checkpoint


def farthest_slices(labeled: Sequence[int], extent: tuple[int, int]) -> list[SliceSuggestion]:
    """The slice of ``extent`` (inclusive) farthest from every labeled slice.

    Args:
        labeled: labeled slice indices (at least one).
        extent: ``(lo, hi)`` range of candidate slices.

    Returns:
        One suggestion (score = its distance in slices; ties: the one nearest the centre of
        the extent, then the lowest index), or none when every slice of the extent is labeled.
    """
    candidates = np.arange(extent[0], extent[1] + 1)
    taken = np.asarray(list(labeled), dtype=np.int64)
    distance = np.abs(candidates[:, None] - taken[None, :]).min(axis=1)
    off_centre = np.abs(candidates - 0.5 * (extent[0] + extent[1]))
    best = int(np.lexsort((candidates, off_centre, -distance))[0])
    if distance[best] == 0:
        return []
    return [SliceSuggestion(int(candidates[best]), float(distance[best]))]


def mean_dice(
    pred_zyx: np.ndarray,
    ref_zyx: np.ndarray,
    spacing_zyx: Sequence[float],
    labeled: Sequence[int],
    table: LabelTable,
    axis: str = "z",
) -> float:
    """Mean foreground Dice in 3-D over the slices not in ``labeled`` (missed class = 0)."""
    result = evaluate_segmentation(
        pred_zyx,
        ref_zyx,
        spacing_zyx,
        exclude=labeled,
        axis=axis,
        class_names=dict(enumerate(table.names)),
    )
    return float(result["mean_dice"])


def guided_selection(
    image_zyx: np.ndarray,
    reference_zyx: np.ndarray,
    table: LabelTable,
    spec: RunSpec,
    out_dir: str | Path,
    *,
    spacing_zyx: Sequence[float] = (1.0, 1.0, 1.0),
    modality: str = "unknown",
    k_start: int = 2,
    k_max: int = 8,
    warm_steps: int | None = None,
    axis: str = "z",
    min_gap: int = 2,
    chooser: str = "uncertainty",
    segment: Segmenter | None = None,
) -> Iterator[GuidedRound]:
    """Run the guided loop (module docstring), yielding one round per ``k``.

    Args:
        image_zyx: raw intensities (Z, Y, X).
        reference_zyx: complete reference labels (Z, Y, X): the simulated annotator.
        table: label classes.
        spec: configuration of the first training; warm rounds change only ``steps``.
        out_dir: folder for one sub-folder ``k<k>`` per round.
        spacing_zyx: voxel size in mm (for the score).
        modality: ``"CT"``, ``"MR"`` or ``"unknown"``.
        k_start: slices labeled at the start (``uniform``).
        k_max: the loop stops after the round with this many labeled slices.
        warm_steps: steps of each warm-start round; ``None`` → half of ``spec``'s steps.
        axis: slicing axis.
        min_gap: ``rank_slices``' least distance between a suggestion and a labeled slice.
        chooser: ``"uncertainty"`` (``rank_slices``) or ``"farthest"`` (the control).
        segment: another method in the loop: ``(volume, round folder, previous model or None)
            → (labels, entropy, model or None)``, e.g. the random forest of the benchmarks
            (``benchmarks.random_forest.forest_segmenter``). ``None``: UGPCL with ``spec``.

    Yields:
        ``GuidedRound`` for k = k_start, ..., k_max (fewer when no slice is left to suggest).

    Raises:
        InputError: bad data (see ``train`` and ``select_slices``); ValueError when
            ``k_max < k_start`` or an unknown ``chooser``.
    """
    if k_max < k_start:
        raise ValueError(f"k_max ({k_max}) must be >= k_start ({k_start})")
    if chooser not in CHOOSERS:
        raise ValueError(f"chooser must be one of {', '.join(CHOOSERS)}, got {chooser!r}")
    extent = foreground_extent(reference_zyx, axis)
    warm = max(1, spec.training.steps // 2) if warm_steps is None else warm_steps
    warm_spec = replace(spec, training=replace(spec.training, steps=warm))
    labeled = select_slices(reference_zyx, k_start, "uniform", axis)
    added: int | None = None
    init: str | None = None
    for k in range(k_start, k_max + 1):
        start = time.perf_counter()
        round_spec = spec if init is None else warm_spec
        volume = TrainingVolume(image_zyx, reference_zyx, labeled, modality)
        folder = Path(out_dir) / f"k{k}"
        if segment is None:
            pred, entropy, init = train_and_segment(volume, table, round_spec, folder, axis, init)
        else:
            pred, entropy, init = segment(volume, folder, init)
        if chooser == "farthest":
            suggestions = farthest_slices(labeled, extent)
        else:
            suggestions = rank_slices(entropy, pred, labeled, axis, top=5, min_gap=min_gap)
        if not suggestions:  # the gap rule left nothing: fall back to any unlabeled slice
            suggestions = rank_slices(
                entropy, pred, labeled, axis, top=5, min_gap=1, min_foreground=0.0
            )
        dice = mean_dice(pred, reference_zyx, spacing_zyx, labeled, table, axis)
        yield GuidedRound(
            k,
            tuple(labeled),
            added,
            tuple(suggestions),
            dice,
            pred,
            entropy,
            init,
            round_spec.training.steps,
            time.perf_counter() - start,
        )
        if not suggestions:
            return
        added = suggestions[0].index
        labeled = sorted([*labeled, added])
