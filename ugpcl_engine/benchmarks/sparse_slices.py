"""Benchmark ``sparse-slices`` (BENCHMARKS.md §1): label k slices, the method labels the rest.

On the bundled chest CT, strategy ``uniform``, k = 3 and 5: ITK morphological contour
interpolation vs the supervised baseline vs UGPCL, same preset, same run. ``supervised`` fills
the whole batch of the preset with labeled images (6 + 2 → 8 labeled in ``quick``: the same
compute per step as UGPCL); ``supervised_same_labeled`` (a diagnostic, not in the protocol) keeps
UGPCL's labeled images and drops the unlabeled ones (6 labeled), so UGPCL minus it is what the
unlabeled losses add. The score is the mean foreground Dice (and HD95 in mm) in 3-D over the
slices that were not labeled; a class the method never found counts 0. Trainings are the mean
over ``SEEDS``; ``--jobs N`` runs N of them side by side (``benchmarks.pool``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ugpcl_engine.baselines.interpolation import interpolate_labels
from ugpcl_engine.baselines.selection import select_slices
from ugpcl_engine.benchmarks import BenchmarkResult, format_table
from ugpcl_engine.benchmarks.pool import run_tasks
from ugpcl_engine.benchmarks.volumes import cached_volume
from ugpcl_engine.config import RunSpec, preset
from ugpcl_engine.guided import train_and_segment
from ugpcl_engine.metrics import evaluate_segmentation
from ugpcl_engine.training.trainer import TrainingVolume
from ugpcl_engine.volume import LabelTable

KS = (3, 5)
METHODS = ("interpolation", "supervised", "ugpcl", "supervised_same_labeled")
# one seed swings the chest CT's k = 3 Dice by up to ±0.03 (the vertebral levels): the
# trainings are scored as the mean over three seeds
SEEDS = (0, 1, 2)


def method_spec(
    method: str, preset_name: str, num_classes: int, device: str = "auto", seed: int = 0
) -> RunSpec:
    """The preset as one trained method uses it (see the module docstring)."""
    spec = preset(preset_name, num_classes, device=device, seed=seed)
    if method == "ugpcl":
        return spec
    if method == "supervised":
        return replace(spec, training=replace(spec.training, supervised_only=True))
    if method == "supervised_same_labeled":
        training = replace(spec.training, supervised_only=True, batch_unlabeled=0)
        return replace(spec, training=training)
    raise ValueError(f"{method!r} is not a trained method")


def _train_and_predict(
    volume: TrainingVolume,
    table: LabelTable,
    preset_name: str,
    device: str,
    method: str,
    seed: int = 0,
) -> np.ndarray:
    """Train one method with the preset and return its predicted labels (Z, Y, X)."""
    spec = method_spec(method, preset_name, table.num_classes, device, seed)
    with tempfile.TemporaryDirectory(prefix="ugpcl-bench-") as folder:
        pred, _, _ = train_and_segment(volume, table, spec, folder)
    return pred


def score(
    pred: np.ndarray,
    ref: np.ndarray,
    spacing: tuple[float, float, float],
    slices: list[int],
    names: tuple[str, ...],
) -> tuple[float, float]:
    """Mean foreground Dice and mean HD95 (mm) over the slices not in ``slices``."""
    result = evaluate_segmentation(
        pred, ref, spacing, exclude=slices, axis="z", class_names=dict(enumerate(names))
    )
    hd95 = result["mean_hd95_mm"]
    return float(result["mean_dice"]), float(hd95) if hd95 is not None else float("nan")


def _method_run(task: tuple[str, int, int, str, str]) -> dict[str, Any]:
    """One method at one k and seed (a ``run_tasks`` worker): ``(method, k, seed, preset,
    device)``; interpolation ignores the seed, preset and device."""
    method, k, seed, preset_name, device = task
    vol = cached_volume("chest")
    slices = select_slices(vol.labels_zyx, k, "uniform", axis="z")
    start = time.perf_counter()
    if method == "interpolation":
        pred = interpolate_labels(vol.labels_zyx, slices, axis="z")
    else:
        training = TrainingVolume(
            vol.image_zyx, vol.labels_zyx, slices, vol.modality, vol.spacing_zyx
        )
        pred = _train_and_predict(training, vol.table, preset_name, device, method, seed)
    seconds = time.perf_counter() - start
    dice, hd95 = score(pred, vol.labels_zyx, vol.spacing_zyx, slices, vol.table.names)
    return {
        "method": method,
        "k": k,
        "seed": seed,
        "slices": slices,
        "dice": dice,
        "hd95": hd95,
        "seconds": seconds,
    }


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Run every method at every k (and seed) on the chest CT; see the module docstring."""
    preset_name = "quick" if getattr(args, "budget", "quick") == "quick" else "standard"
    device = getattr(args, "device", "auto")
    jobs = int(getattr(args, "jobs", 1))
    # interpolation is deterministic: one run per k
    runs = [_method_run(("interpolation", k, 0, preset_name, device)) for k in KS]
    tasks = [
        (method, k, seed, preset_name, device)
        for k in KS
        for method in METHODS[1:]
        for seed in SEEDS
    ]
    runs += run_tasks(_method_run, tasks, jobs)
    rows: list[list[Any]] = []
    summary: dict[str, float] = {}
    for k in KS:
        for method in METHODS:
            mine = [r for r in runs if r["method"] == method and r["k"] == k]
            dice = float(np.mean([r["dice"] for r in mine]))
            hd95 = float(np.nanmean([r["hd95"] for r in mine]))
            seconds = float(np.mean([r["seconds"] for r in mine]))
            summary[f"dice_{method}_k{k}"] = round(dice, 4)
            summary[f"hd95_{method}_k{k}"] = round(hd95, 2)
            summary[f"seconds_{method}_k{k}"] = round(seconds, 1)
            per_seed = " ".join(f"{r['dice']:.3f}" for r in mine)
            rows.append(
                [method, k, ",".join(map(str, mine[0]["slices"])), dice, per_seed, hd95, seconds]
            )
    table = format_table(
        ["method", "k", "slices", "mean Dice", "per seed", "HD95 mm", "s/run"], rows
    )
    threads = "1 torch thread per run" if jobs > 1 else "torch's default threads"
    header = (
        f"sparse-slices on the chest CT (7 classes), uniform strategy, preset "
        f"{preset_name}, scored on the slices not labeled; trainings: mean over seeds "
        f"{', '.join(map(str, SEEDS))}, {jobs} side by side, {threads}\n"
    )
    details = {"preset": preset_name, "seeds": list(SEEDS), "jobs": jobs, "runs": runs}
    return BenchmarkResult(header + table, summary, details)
