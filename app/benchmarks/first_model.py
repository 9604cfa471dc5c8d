"""``ugpcl-studio benchmark first-model``: from pressing Start to the first model on screen.

In a real main window (offscreen without a display), the time from Start (quick preset, CPU)
until the prediction and uncertainty overlays of the new model are drawn, and the mean Dice over
the foreground classes on every *other* slice that has reference labels (those labels never
reach training), on two volumes:

- the bundled chest CT (3 labeled axial slices, as ``--sample`` opens it): ``seconds`` (target
  ≤ 30 s) and ``dice`` (target ≥ 0.75);
- the MNI brain at its native 1 mm on its whole grid (189 × 233 × 197, a real-size volume;
  ``nilearn``, benchmark extra), 3 uniform axial slices labeled: ``seconds_brain1mm`` (target
  ≤ 60 s) and ``dice_brain1mm`` (target ≥ 0.90).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np


def sample_window(steps: int | None = None, document: Any = None) -> tuple[Any, Any, Any]:
    """A shown main window with the assist loop and a document (the sample by default) open.

    Args:
        steps: training steps override (None: the preset's).
        document: the ``Document`` to open (None: ``load_sample()``).

    Returns:
        (QApplication, MainWindow, AssistView).
    """
    from app.benchmarks import benchmark_app
    from app.state.files import load_sample
    from app.ui.assist import install_assist
    from app.ui.main_window import MainWindow

    app = benchmark_app()
    window = MainWindow()
    controller = getattr(window, "assist", None) or install_assist(window)
    if steps is not None:
        controller.training.overrides["steps"] = steps
    window.show()
    window.ws.set_document(document if document is not None else load_sample())
    app.processEvents()
    return app, window, controller


def brain1mm_document() -> tuple[Any, np.ndarray]:
    """The 1 mm brain as a document with 3 uniform axial slices labeled, and its reference.

    Returns:
        (Document, reference labels (Z, Y, X)).
    """
    from app.state.document import Document, VolumeItem
    from ugpcl_benchmarks.baselines.selection import select_slices
    from ugpcl_benchmarks.volumes import cached_volume
    from ugpcl_engine.volume import LabelMap, Volume, VolumeGeometry

    vol = cached_volume("brain1mm")
    geometry = VolumeGeometry(vol.labels_zyx.shape, vol.spacing_zyx)  # type: ignore[arg-type]
    keep = select_slices(vol.labels_zyx, 3, "uniform", axis="z")
    sparse = np.zeros_like(vol.labels_zyx)
    sparse[keep] = vol.labels_zyx[keep]
    volume = Volume(vol.image_zyx, geometry, "brain1mm", vol.modality)
    item = VolumeItem.new(volume, LabelMap(sparse, geometry, vol.table))
    item.labeled["z"][keep] = True
    return Document([item]), vol.labels_zyx


def wait_for(app: Any, done: Any, limit_s: float) -> bool:
    """Run the event loop until ``done()`` or ``limit_s`` seconds passed; True when done."""
    end = time.perf_counter() + limit_s
    while not done() and time.perf_counter() < end:
        app.processEvents()
        time.sleep(0.005)
    return bool(done())


def sample_reference() -> Any:
    """The bundled chest CT's reference ``LabelMap``."""
    from ugpcl_engine.io.volume_files import read_label_map, read_volume
    from ugpcl_engine.sample import sample_paths

    paths = sample_paths()
    volume = read_volume(paths.image)
    return read_label_map(paths.labels, geometry=volume.geometry)


def other_slice_dice(
    pred_zyx: np.ndarray, labeled_z: np.ndarray, reference: Any = None
) -> dict[str, float]:
    """Dice per reference class on the unlabeled slices that hold reference labels.

    Args:
        pred_zyx: predicted labels.
        labeled_z: the labeled axial slices (bool per slice).
        reference: reference ``LabelMap`` (None: the sample's).
    """
    reference = reference if reference is not None else sample_reference()
    ref = reference.labels_zyx
    keep = [z for z in range(ref.shape[0]) if not labeled_z[z] and ref[z].any()]
    scores = {}
    for cls in reference.table.classes[1:]:
        a, b = pred_zyx[keep] == cls.value, ref[keep] == cls.value
        if b.any():
            scores[cls.name] = 2.0 * float((a & b).sum()) / float(a.sum() + b.sum())
    return scores


def time_first_model(
    steps: int | None, device: str, document: Any = None, reference: Any = None
) -> tuple[float, dict[str, float], Any, dict[str, Any]]:
    """Open ``document`` (None: the sample), press Start, wait for the overlay on screen.

    Returns:
        (seconds from Start to the drawn overlay, per-class Dice on the other slices, the
        model version, details).
    """
    app, window, controller = sample_window(steps, document)
    results: list[Any] = []
    failures: list[str] = []
    controller.training.result_ready.connect(results.append)
    controller.training.run_failed.connect(failures.append)
    start = time.perf_counter()
    controller.training.start("quick", device)
    wait_for(app, lambda: bool(results or failures), 900)
    if not results:
        raise RuntimeError(f"training did not finish: {failures or 'timeout'}")
    app.processEvents()
    window.views["z"].graphics.viewport().repaint()  # the overlay is on screen
    seconds = time.perf_counter() - start
    version = results[0]
    labeled = window.ws.doc.item.labeled["z"]
    scores = other_slice_dice(np.asarray(version.prediction_zyx()), labeled, reference)
    details = {
        "per_class_dice": scores,
        "labeled_slices": [int(i) for i in np.flatnonzero(labeled)],
        "metrics": {k: float(v) for k, v in version.metrics.items()},
    }
    window.ws.doc.modified = False
    window.close()
    app.processEvents()
    return seconds, scores, version, details


def run_benchmark(
    steps: int | None, device: str, brain: bool = True
) -> tuple[str, dict[str, float], dict[str, Any]]:
    """Train once from the window on each volume and time it; return (table, summary, details)."""
    from ugpcl_benchmarks.runner import format_table

    seconds, scores, version, chest = time_first_model(steps, device)
    dice = float(np.mean(list(scores.values())))
    summary = {
        "seconds": round(seconds, 2),
        "dice": round(dice, 4),
        "train_seconds": float(version.metrics.get("train_seconds", float("nan"))),
        "predict_seconds": float(version.metrics.get("predict_seconds", float("nan"))),
        "steps": float(version.metrics.get("steps", float("nan"))),
    }
    rows = [["chest CT: start → overlay on screen (s)", summary["seconds"], "≤ 30"]]
    rows.append(["chest CT: mean Dice, other slices", summary["dice"], "≥ 0.75"])
    rows += [[f"  Dice {name}", round(v, 4), ""] for name, v in scores.items()]
    details: dict[str, Any] = {"device": device, "chest": chest}
    if brain:
        from ugpcl_engine.volume import LabelMap, VolumeGeometry

        document, ref = brain1mm_document()
        reference = LabelMap(ref, VolumeGeometry(ref.shape), document.item.labels.table)  # type: ignore[arg-type]
        seconds, scores, version, brain_details = time_first_model(
            steps, device, document, reference
        )
        dice = float(np.mean(list(scores.values())))
        summary["seconds_brain1mm"] = round(seconds, 2)
        summary["dice_brain1mm"] = round(dice, 4)
        summary["steps_brain1mm"] = float(version.metrics.get("steps", float("nan")))
        rows.append(["1 mm brain: start → overlay on screen (s)", round(seconds, 2), "≤ 60"])
        rows.append(["1 mm brain: mean Dice, other slices", round(dice, 4), "≥ 0.90"])
        rows += [[f"  Dice {name}", round(v, 4), ""] for name, v in scores.items()]
        details["brain1mm"] = brain_details
    return format_table(["measure", "value", "target"], rows), summary, details


def main(argv: list[str]) -> int:
    """Entry point of ``ugpcl-studio benchmark first-model [--out DIR]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="ugpcl-studio benchmark first-model")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the JSON")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--device", default="cpu", choices=("cpu", "auto", "cuda"))
    parser.add_argument(
        "--no-brain", action="store_true", help="the chest CT only (no nilearn needed)"
    )
    args = parser.parse_args(argv)
    from ugpcl_benchmarks.runner import BenchmarkResult, run_and_record

    run_and_record(
        "first-model",
        lambda: BenchmarkResult(*run_benchmark(args.steps, args.device, not args.no_brain)),
        Path(args.out),
    )
    return 0
