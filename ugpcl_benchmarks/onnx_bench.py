"""Benchmark ``onnx``: onnxruntime vs torch eager on the same weights, CPU, 2 threads each.

Model: the ``standard`` preset network (light backbone, 8 classes) from a fresh seeded init,
network size 256, exported with ``export_onnx`` (so the parity check of the export runs too).
Measured side by side in one process, interleaved (torch, onnxruntime, torch, …) because the
machine is shared: per 256² slice at batch 1 and 16, and per synthetic CT volume of 512×512×N
slices (N = 300 with ``--budget full``; fewer in ``quick``, see ``QUICK_VOLUME_SLICES``) through
the same ``segment_volume`` (normalisation, batching of 16, resize 512→256→512 in the graph).
Each ratio is the median over repeats of torch time / onnxruntime time of one interleaved pair.
Parity: max |Δ| of probabilities and entropy on the batch-16 slices, label agreement on the volume.
With ``--device cuda``/``auto`` and a usable CUDA, onnxruntime on CUDA is timed as well.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ugpcl_benchmarks.runner import BenchmarkResult, format_table
from ugpcl_engine.checkpoint import Checkpoint
from ugpcl_engine.config import preset
from ugpcl_engine.data.normalisation import IntensityWindow, apply_window
from ugpcl_engine.inference.onnx_export import export_onnx
from ugpcl_engine.inference.ort_providers import CUDA
from ugpcl_engine.inference.ort_segmenter import OrtSegmenter
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.inference.volume_runner import segment_volume
from ugpcl_engine.model import build_model
from ugpcl_engine.volume import LabelTable

THREADS = 2
CLASSES = 8
SIZE = 256
VOLUME_SIDE = 512
FULL_VOLUME_SLICES = 300
QUICK_VOLUME_SLICES = 32
"""Quick budget: 32 slices (two batches of 16) keep a run within minutes on 2 loaded cores."""
WINDOW = IntensityWindow("ct", -1000.0, 1000.0)

Runner = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def synthetic_ct(slices: int, side: int = VOLUME_SIDE, seed: int = 0) -> np.ndarray:
    """A CT-like int16 volume (Z, side, side): air, body, lungs, spine, noise.

    Args:
        slices: Z.
        side: Y = X.
        seed: noise seed.

    Returns:
        (slices, side, side) int16 in HU.
    """
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:side, :side] / side - 0.5
    out = np.empty((slices, side, side), np.int16)
    for z in range(slices):
        s = 1.0 + 0.15 * np.sin(np.pi * z / max(1, slices - 1))  # body widens mid-volume
        hu = np.full((side, side), -1000.0, np.float32)
        hu[(x / (0.42 * s)) ** 2 + (y / (0.32 * s)) ** 2 < 1] = 40.0
        for cx in (-0.17, 0.17):  # lungs
            hu[((x - cx) / (0.12 * s)) ** 2 + ((y + 0.02) / (0.2 * s)) ** 2 < 1] = -820.0
        hu[(x**2 + (y - 0.2) ** 2) < 0.035**2] = 500.0  # spine
        hu += rng.normal(0.0, 15.0, hu.shape).astype(np.float32)
        out[z] = hu.astype(np.int16)
    return out


def fresh_checkpoint() -> Checkpoint:
    """The standard-preset network from a seeded init, as a checkpoint (no training)."""
    spec = preset("standard", CLASSES)
    torch.manual_seed(0)
    net = build_model(spec.model).eval()
    return Checkpoint(
        spec=spec,
        state_dict={k: v.detach().clone() for k, v in net.state_dict().items()},
        bank_state={},
        label_table=LabelTable.default(CLASSES),
        axis="z",
        network_size=SIZE,
        window=WINDOW,
        model_version="bench000",
    )


def _interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, warm_up: bool = True
) -> dict[str, list[float]]:
    """Time each callable ``repeats`` times, interleaved (after one warm-up call each)."""
    for fn in fns.values() if warm_up else ():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return times


def _ratio(times: dict[str, list[float]], slow: str = "torch", fast: str = "ort") -> float:
    return statistics.median(t / o for t, o in zip(times[slow], times[fast], strict=True))


def _slice_rows(
    runners: dict[str, Runner], batches: dict[int, np.ndarray], quick: bool
) -> tuple[list[list[Any]], dict[str, float]]:
    rows, ratios = [], {}
    for b, batch in batches.items():
        repeats = (5 if b == 1 else 3) if quick else (15 if b == 1 else 7)
        times = _interleaved({k: partial(r, batch) for k, r in runners.items()}, repeats)
        ratio = _ratio(times)
        ratios[f"ort_speedup_slice_b{b}"] = round(ratio, 3)
        rows.append(
            [
                f"slice 256², batch {b}",
                statistics.median(times["torch"]) / b * 1e3,
                statistics.median(times["ort"]) / b * 1e3,
                ratio,
                repeats,
            ]
        )
    return rows, ratios


def _parity(ckpt: Checkpoint, ort_seg: OrtSegmenter, batch: np.ndarray) -> dict[str, float]:
    from ugpcl_engine.inference.wrapper import InferenceNet

    model = InferenceNet(ckpt.build_net(), ckpt.network_size, ckpt.network_scale).eval()
    with torch.no_grad():
        probs, labels, entropy = model(torch.from_numpy(batch))
    o_probs, o_labels, o_entropy = ort_seg.session.run(None, {"image": batch})
    return {
        "max_abs_diff_probs": float(np.abs(o_probs - probs.numpy()).max()),
        "max_abs_diff_entropy": float(np.abs(o_entropy - entropy.numpy()).max()),
        "label_agreement_slices": float((o_labels == labels.numpy()).mean()),
    }


def _volume_row(
    runners: dict[str, Runner], slices: int, quick: bool
) -> tuple[list[Any], float, float]:
    image = synthetic_ct(slices)
    results: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def volume(name: str) -> Callable[[], object]:
        def go() -> None:
            results[name] = segment_volume(image, WINDOW, "z", runners[name], 16)

        return go

    first = apply_window(image[:16], WINDOW)[:, None]
    for runner in runners.values():  # warm-up at the volume's batch shape, not a whole volume
        runner(first)
    repeats = 2 if quick else 1
    times = _interleaved({k: volume(k) for k in runners}, repeats, warm_up=False)
    agreement = float((results["torch"][0] == results["ort"][0]).mean())
    ratio = _ratio(times)
    row = [
        f"volume 512×512×{slices}",
        statistics.median(times["torch"]),
        statistics.median(times["ort"]),
        ratio,
        repeats,
    ]
    return row, ratio, agreement


def _cuda_rows(path: Path, batch: np.ndarray, device: str) -> list[list[Any]]:
    if device == "cpu":
        return []
    seg = OrtSegmenter(path, device="cuda", batch_size=16)
    if seg.provider != CUDA:
        return []
    times = _interleaved({"ort": lambda: seg.run_batch(batch)}, 10)
    return [
        [
            "slice 256², batch 16, onnxruntime CUDA",
            float("nan"),
            statistics.median(times["ort"]) / len(batch) * 1e3,
            float("nan"),
            10,
        ]
    ]


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Time torch eager and onnxruntime side by side; see the module docstring."""
    quick = getattr(args, "budget", "quick") == "quick"
    slices = QUICK_VOLUME_SLICES if quick else FULL_VOLUME_SLICES
    torch.set_num_threads(THREADS)
    ckpt = fresh_checkpoint()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.onnx"
        report = export_onnx(ckpt, path, parity_image_zyx=synthetic_ct(4, SIZE))
        ort_seg = OrtSegmenter(path, device="cpu", threads=THREADS, batch_size=16)
        torch_seg = TorchSegmenter.from_checkpoint(ckpt)
        runners: dict[str, Runner] = {"torch": torch_seg.run_batch, "ort": ort_seg.run_batch}
        base = apply_window(synthetic_ct(16, SIZE, seed=2), WINDOW)[:, None]
        batches = {1: np.ascontiguousarray(base[:1]), 16: np.ascontiguousarray(base)}
        rows, summary = _slice_rows(runners, batches, quick)
        parity = _parity(ckpt, ort_seg, batches[16])
        vrow, vratio, agreement = _volume_row(runners, slices, quick)
        rows.append(vrow)
        rows += _cuda_rows(path, batches[16], getattr(args, "device", "auto"))
    summary["ort_speedup_volume"] = round(vratio, 3)
    summary["max_abs_diff"] = max(parity["max_abs_diff_probs"], parity["max_abs_diff_entropy"])
    table = format_table(["measure", "torch ms|s", "onnxruntime ms|s", "speed-up", "repeats"], rows)
    header = (
        f"standard preset, {CLASSES} classes, network {SIZE}², CPU, {THREADS} threads each; "
        "slices in ms per slice, volumes in s\n"
    )
    footer = (
        f"\nparity: max |Δp| {parity['max_abs_diff_probs']:.2e}, max |Δentropy| "
        f"{parity['max_abs_diff_entropy']:.2e}, volume labels agree on {100 * agreement:.4f}%"
    )
    details = {
        "rows": rows,
        "volume_slices": slices,
        "budget": "quick" if quick else "full",
        "threads": THREADS,
        "parity": {**parity, "label_agreement_volume": agreement},
        "export": {k: v for k, v in report.to_dict().items() if k != "metadata"},
        "load_average": _load_average(),
        "onnxruntime_provider": ort_seg.provider,
    }
    return BenchmarkResult(header + table + footer, summary, details)


def _load_average() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None
