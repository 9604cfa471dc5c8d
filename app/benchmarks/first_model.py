"""``ugpcl-studio benchmark first-model``: from pressing Start to the first model on screen.

On the bundled chest CT (3 labeled axial slices, as ``--sample`` opens it), in a real main
window (offscreen without a display): the time from Start (quick preset, CPU) until the
prediction and uncertainty overlays of the new model are drawn (``seconds``; target ≤ 60 s), and
the mean Dice over the foreground classes on every *other* slice that has reference labels
(``dice``; target ≥ 0.7). The reference labels of those slices never reach training.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np


def sample_window(steps: int | None = None) -> tuple[Any, Any, Any]:
    """A shown main window with the assist loop and the sample open.

    Args:
        steps: training steps override (None: the preset's).

    Returns:
        (QApplication, MainWindow, AssistController).
    """
    from app.benchmarks import benchmark_app
    from app.state.files import load_sample
    from app.ui.assist import install_assist
    from app.ui.main_window import MainWindow

    app = benchmark_app()
    window = MainWindow()
    controller = getattr(window, "assist", None) or install_assist(window)
    if steps is not None:
        controller.overrides["steps"] = steps
    window.show()
    window.ws.set_document(load_sample())
    app.processEvents()
    return app, window, controller


def wait_for(app: Any, done: Any, limit_s: float) -> bool:
    """Run the event loop until ``done()`` or ``limit_s`` seconds passed; True when done."""
    end = time.perf_counter() + limit_s
    while not done() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)
    return bool(done())


def other_slice_dice(pred_zyx: np.ndarray, labeled_z: np.ndarray) -> dict[str, float]:
    """Dice per reference class on the unlabeled slices that hold reference labels."""
    from ugpcl_engine.io.volume_files import read_label_map, read_volume
    from ugpcl_engine.sample import sample_paths

    paths = sample_paths()
    volume = read_volume(paths.image)
    reference = read_label_map(paths.labels, geometry=volume.geometry)
    ref = reference.labels_zyx
    keep = [z for z in range(ref.shape[0]) if not labeled_z[z] and ref[z].any()]
    scores = {}
    for cls in reference.table.classes[1:]:
        a, b = pred_zyx[keep] == cls.value, ref[keep] == cls.value
        if b.any():
            scores[cls.name] = 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())
    return scores


def run_benchmark(steps: int | None, device: str) -> tuple[str, dict[str, float], dict[str, Any]]:
    """Train once from the window and time it; return (table, summary, details)."""
    from ugpcl_engine.benchmarks import format_table

    app, window, controller = sample_window(steps)
    results: list[Any] = []
    failures: list[str] = []
    controller.result_ready.connect(results.append)
    controller.run_failed.connect(failures.append)
    start = time.perf_counter()
    controller.start_training("quick", device)
    wait_for(app, lambda: bool(results or failures), 900)
    if not results:
        raise RuntimeError(f"training did not finish: {failures or 'timeout'}")
    app.processEvents()
    window.views["z"].graphics.viewport().repaint()  # the overlay is on screen
    seconds = time.perf_counter() - start
    version = results[0]
    labeled = window.ws.doc.item.labeled["z"]
    scores = other_slice_dice(np.asarray(version.prediction_zyx()), labeled)
    dice = float(np.mean(list(scores.values())))
    summary = {
        "seconds": round(seconds, 2),
        "dice": round(dice, 4),
        "train_seconds": float(version.metrics.get("train_seconds", float("nan"))),
        "predict_seconds": float(version.metrics.get("predict_seconds", float("nan"))),
        "steps": float(version.metrics.get("steps", float("nan"))),
    }
    rows = [["start → overlay on screen (s)", summary["seconds"], "≤ 60"]]
    rows.append(["mean Dice, other slices", summary["dice"], "≥ 0.7"])
    rows += [[f"  Dice {name}", round(v, 4), ""] for name, v in scores.items()]
    details = {
        "per_class_dice": scores,
        "labeled_slices": [int(i) for i in np.flatnonzero(labeled)],
        "device": device,
    }
    window.ws.doc.modified = False
    window.close()
    return format_table(["measure", "value", "target"], rows), summary, details


def main(argv: list[str]) -> int:
    """Entry point of ``ugpcl-studio benchmark first-model [--out DIR]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="ugpcl-studio benchmark first-model")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the JSON")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--device", default="cpu", choices=("cpu", "auto", "cuda"))
    args = parser.parse_args(argv)
    from ugpcl_engine.benchmarks import BenchmarkResult, run_and_record

    run_and_record(
        "first-model",
        lambda: BenchmarkResult(*run_benchmark(args.steps, args.device)),
        Path(args.out),
    )
    return 0
