"""Benchmark ``calibration``: does the uncertainty map predict the model's mistakes?

On the chest CT, ``uniform`` k = 3 labeled slices, one UGPCL model is trained with MC dropout
active (``inference.mc_dropout.decoder_dropout``, p = 0.2 on the CNN decoder's input features)
so that both uncertainty estimates come from the same network trained the same way:

- ``decoders``: one deterministic pass, the mean softmax of the CNN and Swin decoders (the
  app's uncertainty), entropy of that mean;
- ``mcdropout``: T = 5 stochastic passes of encoder + CNN decoder with dropout on (what MONAI
  Label does), entropy of the mean softmax.

Measured on the voxels of the slices that were NOT labeled: AUROC of the entropy as a detector
of wrong labels, expected calibration error (15 bins) of the confidence (largest mean
probability), a reliability curve (in ``details``), and the wall time of each over the whole
volume after one untimed warm-up pass (same run, same machine: compare the ratio).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ugpcl_benchmarks.baselines.selection import select_slices
from ugpcl_benchmarks.mc_dropout import MCDropoutNet, decoder_dropout, predict_volume
from ugpcl_benchmarks.runner import BenchmarkResult, format_table
from ugpcl_benchmarks.simulation import train_and_segment
from ugpcl_benchmarks.volumes import LabeledVolume, load_chest
from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.config import RunSpec, preset
from ugpcl_engine.device import prediction_device
from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.uncertainty import auroc, expected_calibration_error, reliability_curve

K = 3
DROPOUT = 0.2
PASSES = 5
BINS = 15
# quick: the step budget that fits ~10 min on a loaded 2-core CPU; full: the quick preset as is
QUICK = {"steps": 200, "input_size": 96, "batch_labeled": 2, "batch_unlabeled": 2}


@dataclass(frozen=True)
class CalibrationScores:
    """Quality and cost of one uncertainty estimate on the unlabeled slices.

    Attributes:
        auroc: entropy vs wrong label.
        ece: expected calibration error of the confidence.
        accuracy: fraction of voxels labeled right.
        seconds: wall time of the whole-volume prediction.
        curve: reliability curve as plain lists (``bin_edges``, ``mean_confidence``,
            ``accuracy``, ``counts``; ``None`` for an empty bin).
    """

    auroc: float
    ece: float
    accuracy: float
    seconds: float
    curve: dict[str, list[float | None]]


def _plain(values: np.ndarray) -> list[float | None]:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def score_uncertainty(
    labels_zyx: np.ndarray,
    entropy_zyx: np.ndarray,
    confidence_zyx: np.ndarray,
    reference_zyx: np.ndarray,
    held_out: list[int],
    seconds: float,
) -> CalibrationScores:
    """Calibration measures over the slices ``held_out`` (axis z).

    Args:
        labels_zyx: predicted labels (Z, Y, X).
        entropy_zyx: per-voxel entropy (Z, Y, X).
        confidence_zyx: largest mean probability per voxel (Z, Y, X).
        reference_zyx: reference labels (Z, Y, X).
        held_out: slice indices (z) that the model was not trained on.
        seconds: wall time to record.

    Returns:
        The ``CalibrationScores``.
    """
    rows = np.asarray(held_out, dtype=np.int64)
    wrong = labels_zyx[rows] != reference_zyx[rows]
    curve = reliability_curve(confidence_zyx[rows], ~wrong, BINS)
    return CalibrationScores(
        auroc=auroc(entropy_zyx[rows], wrong),
        ece=expected_calibration_error(confidence_zyx[rows], ~wrong, BINS),
        accuracy=float(1.0 - wrong.mean()),
        seconds=seconds,
        curve={
            "bin_edges": _plain(curve.bin_edges),
            "mean_confidence": _plain(curve.mean_confidence),
            "accuracy": _plain(curve.accuracy),
            "counts": _plain(curve.counts),
        },
    )


def calibrate(
    vol: LabeledVolume, spec: RunSpec, k: int = K, p: float = DROPOUT, passes: int = PASSES
) -> dict[str, CalibrationScores]:
    """Train with decoder dropout on ``k`` uniform slices and score both uncertainty estimates.

    Args:
        vol: labeled volume (axis z).
        spec: training configuration.
        k: labeled slices.
        p: dropout probability (training and MC sampling).
        passes: MC-dropout passes.

    Returns:
        ``{"decoders": ..., "mcdropout": ...}``.
    """
    labeled = select_slices(vol.labels_zyx, k, "uniform", "z")
    held_out = [z for z in range(vol.labels_zyx.shape[0]) if z not in labeled]
    training = TrainingVolume(vol.image_zyx, vol.labels_zyx, labeled, vol.modality)
    with decoder_dropout(p):
        _, _, path = train_and_segment(training, vol.table, spec, tempfile.mkdtemp(prefix="cal-"))
    ckpt = load_checkpoint(path)
    device = prediction_device(spec.training.device)
    net = ckpt.build_net(device)
    window = ckpt.window_for(vol.image_zyx)
    models: dict[str, torch.nn.Module] = {
        "decoders": InferenceNet(net, ckpt.network_size, ckpt.network_scale),
        "mcdropout": MCDropoutNet(net, ckpt.network_size, p, passes, ckpt.network_scale),
    }
    results = {}
    for name, model in models.items():
        predict_volume(model, vol.image_zyx, window, "z", device=device)  # warm-up, untimed
        torch.manual_seed(0)
        start = time.perf_counter()
        labels, entropy, conf = predict_volume(model, vol.image_zyx, window, "z", device=device)
        seconds = time.perf_counter() - start
        results[name] = score_uncertainty(labels, entropy, conf, vol.labels_zyx, held_out, seconds)
    return results


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Run the calibration benchmark; see the module docstring."""
    vol = load_chest()
    budget = getattr(args, "budget", "quick")
    device = getattr(args, "device", "auto")
    overrides: dict[str, Any] = dict(QUICK) if budget == "quick" else {}
    spec = preset("quick", vol.table.num_classes, device=device, **overrides)
    results = calibrate(vol, spec)
    dec, mc = results["decoders"], results["mcdropout"]
    summary = {
        "auroc_decoders": round(dec.auroc, 4),
        "auroc_mcdropout": round(mc.auroc, 4),
        "ece": round(dec.ece, 4),
        "ece_mcdropout": round(mc.ece, 4),
        "seconds_decoders": round(dec.seconds, 3),
        "seconds_mcdropout": round(mc.seconds, 3),
    }
    rows = [[name, r.auroc, r.ece, r.accuracy, r.seconds] for name, r in results.items()]
    table = format_table(["uncertainty", "AUROC", "ECE", "voxel accuracy", "seconds"], rows)
    header = (
        f"calibration on the chest CT, uniform k={K}, held-out slices only; model trained with "
        f"dropout p={DROPOUT} on the CNN decoder input; MC dropout = {PASSES} passes\n"
    )
    details = {
        "k": K,
        "dropout": DROPOUT,
        "passes": PASSES,
        "budget": budget,
        "torch_threads": torch.get_num_threads(),
        "load_average": list(os.getloadavg()),
        "training": {"preset": "quick", **overrides},
        "scores": {name: r.__dict__ for name, r in results.items()},
    }
    return BenchmarkResult(header + table, summary, details)
