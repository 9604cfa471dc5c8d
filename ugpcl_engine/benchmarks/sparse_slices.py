"""Benchmark ``sparse-slices`` (BENCHMARKS.md §1): label k slices, the method labels the rest.

On the bundled chest CT, strategy ``uniform``, k = 3 and 5: ITK morphological contour
interpolation vs the supervised baseline vs UGPCL, same preset, same run. The score is the mean
foreground Dice (and HD95 in mm) in 3-D over the slices that were not labeled; a class the
method never found counts 0.
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
from ugpcl_engine.config import preset
from ugpcl_engine.guided import train_and_segment
from ugpcl_engine.io.volume_files import read_label_map, read_volume
from ugpcl_engine.metrics import evaluate_segmentation
from ugpcl_engine.sample import sample_paths
from ugpcl_engine.training.trainer import TrainingVolume
from ugpcl_engine.volume import LabelTable

KS = (3, 5)
METHODS = ("interpolation", "supervised", "ugpcl")


def _train_and_predict(
    volume: TrainingVolume,
    table: LabelTable,
    preset_name: str,
    device: str,
    supervised_only: bool,
) -> np.ndarray:
    """Train one method with the preset and return its predicted labels (Z, Y, X)."""
    spec = preset(preset_name, table.num_classes, device=device)
    spec = replace(spec, training=replace(spec.training, supervised_only=supervised_only))
    pred, _, _ = train_and_segment(volume, table, spec, tempfile.mkdtemp(prefix="ugpcl-bench-"))
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


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Run every method at every k on the chest CT; see the module docstring."""
    paths = sample_paths()
    volume = read_volume(paths.image)
    ref = read_label_map(paths.labels, geometry=volume.geometry)
    preset_name = "quick" if getattr(args, "budget", "quick") == "quick" else "standard"
    device = getattr(args, "device", "auto")
    rows: list[list[Any]] = []
    summary: dict[str, float] = {}
    for k in KS:
        slices = select_slices(ref.labels_zyx, k, "uniform", axis="z")
        for method in METHODS:
            start = time.perf_counter()
            if method == "interpolation":
                pred = interpolate_labels(ref.labels_zyx, slices, axis="z")
            else:
                training = TrainingVolume(
                    volume.image_zyx,
                    ref.labels_zyx,
                    slices,
                    volume.modality,
                    volume.geometry.spacing_zyx,
                )
                pred = _train_and_predict(
                    training, ref.table, preset_name, device, supervised_only=method == "supervised"
                )
            seconds = time.perf_counter() - start
            dice, hd95 = score(
                pred, ref.labels_zyx, volume.geometry.spacing_zyx, slices, ref.table.names
            )
            summary[f"dice_{method}_k{k}"] = round(dice, 4)
            summary[f"hd95_{method}_k{k}"] = round(hd95, 2)
            summary[f"seconds_{method}_k{k}"] = round(seconds, 1)
            rows.append([method, k, ",".join(map(str, slices)), dice, hd95, seconds])
    table = format_table(["method", "k", "slices", "mean Dice", "HD95 mm", "seconds"], rows)
    header = (
        f"sparse-slices on the chest CT (7 classes), uniform strategy, preset "
        f"{preset_name}, scored on the slices not labeled\n"
    )
    return BenchmarkResult(header + table, summary, {"preset": preset_name, "rows": rows})
