"""Benchmark ``sparse-slices`` (BENCHMARKS.md §1): label k slices, the method labels the rest.

On the three real volumes (``chest`` CT, ``brain`` 2 mm and ``brain1mm``, the same template at
its native 1 mm), strategy ``uniform``, k = 3 and 5, every method in the same run:

- ``interpolation``: ITK morphological contour interpolation (3D Slicer's "fill between slices");
- ``random_forest``: the ilastik recipe, a random forest on 3-D pixel features fit on the labeled
  slices' voxels (``benchmarks.random_forest``; scikit-learn, a benchmark extra);
- ``supervised``: the preset's network on labeled slices only, the whole batch labeled (6 + 2 →
  8 labeled in ``quick``: the same compute per step as UGPCL);
- ``supervised_same_labeled`` (a diagnostic): UGPCL's labeled images without the unlabeled ones
  (6 labeled), so UGPCL minus it is what the unlabeled losses add;
- ``ugpcl``: the full method.

The score is the mean foreground Dice (and HD95 in mm) in 3-D over the slices that were not
labeled; a class the method never found counts 0. The network methods are the mean over
``SEEDS``; the forest (100 trees, near-deterministic) and interpolation run once. ``--jobs N``
runs N of them side by side (``benchmarks.pool``); ``--volumes`` picks a subset. Summary keys:
``dice_<method>_<volume>_k<k>``, ``hd95_…`` and ``seconds_…`` (wall time of one run: training
and whole-volume prediction, or the forest's features, fit and prediction).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from typing import Any

import numpy as np

from ugpcl_benchmarks.baselines.selection import select_slices
from ugpcl_benchmarks.pool import run_tasks
from ugpcl_benchmarks.runner import BenchmarkResult, format_table
from ugpcl_benchmarks.simulation import train_and_segment
from ugpcl_benchmarks.volumes import cached_volume
from ugpcl_engine.config import RunSpec, preset
from ugpcl_engine.errors import InputError
from ugpcl_engine.interpolation import interpolate_labels
from ugpcl_engine.metrics import evaluate_segmentation
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.volume import LabelTable

KS = (3, 5)
METHODS = ("interpolation", "random_forest", "supervised", "supervised_same_labeled", "ugpcl")
TRAINED = ("supervised", "supervised_same_labeled", "ugpcl")
BENCH_VOLUMES = ("chest", "brain", "brain1mm")
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


def _method_run(task: tuple[str, str, int, int, str, str, int]) -> dict[str, Any]:
    """One method on one volume at one k and seed (a ``run_tasks`` worker):
    ``(volume, method, k, seed, preset, device, threads)``; interpolation ignores the seed,
    preset and device, the forest uses ``threads`` cores."""
    name, method, k, seed, preset_name, device, threads = task
    vol = cached_volume(name)
    slices = select_slices(vol.labels_zyx, k, "uniform", axis="z")
    start = time.perf_counter()
    if method == "interpolation":
        pred = interpolate_labels(vol.labels_zyx, slices, axis="z")
    elif method == "random_forest":
        from ugpcl_benchmarks.random_forest import random_forest_segment

        pred = random_forest_segment(
            vol.image_zyx, vol.labels_zyx, slices, vol.spacing_zyx, seed=seed, n_jobs=threads
        )
    else:
        training = TrainingVolume(
            vol.image_zyx, vol.labels_zyx, slices, vol.modality, vol.spacing_zyx
        )
        pred = _train_and_predict(training, vol.table, preset_name, device, method, seed)
    seconds = time.perf_counter() - start
    dice, hd95 = score(pred, vol.labels_zyx, vol.spacing_zyx, slices, vol.table.names)
    return {
        "volume": name,
        "method": method,
        "k": k,
        "seed": seed,
        "slices": slices,
        "dice": dice,
        "hd95": hd95,
        "seconds": seconds,
    }


def tasks_for(
    volumes: tuple[str, ...], preset_name: str, device: str, threads: int
) -> list[tuple[str, str, int, int, str, str, int]]:
    """Every run of the benchmark: the trained methods once per seed, the others once."""
    return [
        (name, method, k, seed, preset_name, device, threads)
        for name in volumes
        for k in KS
        for method in METHODS
        for seed in (SEEDS if method in TRAINED else SEEDS[:1])
    ]


def summarise(
    runs: list[dict[str, Any]], volumes: tuple[str, ...]
) -> tuple[dict[str, float], list[list[Any]]]:
    """Summary keys and table rows: the mean over each (volume, method, k)'s runs."""
    rows: list[list[Any]] = []
    summary: dict[str, float] = {}
    for name in volumes:
        for k in KS:
            for method in METHODS:
                mine = [r for r in runs if (r["volume"], r["method"], r["k"]) == (name, method, k)]
                if not mine:
                    continue
                dice = float(np.mean([r["dice"] for r in mine]))
                finite = [r["hd95"] for r in mine if np.isfinite(r["hd95"])]
                hd95 = float(np.mean(finite)) if finite else float("nan")
                seconds = float(np.mean([r["seconds"] for r in mine]))
                key = f"{method}_{name}_k{k}"
                summary[f"dice_{key}"] = round(dice, 4)
                summary[f"hd95_{key}"] = round(hd95, 2)
                summary[f"seconds_{key}"] = round(seconds, 1)
                per_seed = " ".join(f"{r['dice']:.3f}" for r in mine)
                slices = ",".join(map(str, mine[0]["slices"]))
                rows.append([name, method, k, slices, dice, per_seed, hd95, seconds])
    return summary, rows


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Run every method at every k (and seed) on every volume; see the module docstring."""
    preset_name = "quick" if getattr(args, "budget", "quick") == "quick" else "standard"
    device = getattr(args, "device", "auto")
    jobs = int(getattr(args, "jobs", 1))
    volumes = tuple(getattr(args, "volumes", None) or BENCH_VOLUMES)
    unknown = [v for v in volumes if v not in BENCH_VOLUMES]
    if unknown:
        raise InputError(
            f"Unknown volume '{unknown[0]}' for sparse-slices: use {', '.join(BENCH_VOLUMES)}."
        )
    forest_threads = 1 if jobs > 1 else os.cpu_count() or 1
    runs = run_tasks(_method_run, tasks_for(volumes, preset_name, device, forest_threads), jobs)
    summary, rows = summarise(runs, volumes)
    table = format_table(
        ["volume", "method", "k", "slices", "mean Dice", "per seed", "HD95 mm", "s/run"], rows
    )
    threads = "1 thread per run" if jobs > 1 else "torch's default threads"
    header = (
        f"sparse-slices, uniform strategy, preset {preset_name}, scored on the slices not "
        f"labeled; networks: mean over seeds {', '.join(map(str, SEEDS))}; {jobs} run(s) side "
        f"by side, {threads}\n"
    )
    details = {
        "preset": preset_name,
        "seeds": list(SEEDS),
        "jobs": jobs,
        "volumes": list(volumes),
        "runs": runs,
    }
    return BenchmarkResult(header + table, summary, details)
