"""Benchmark ``io``: reading a CT-sized volume, saving/opening a project, journaling strokes.

A synthetic 300×512×512 int16 volume (smooth structures plus noise, so it compresses like a
scan rather than like zeros) is written as NIfTI (``.nii.gz``) and as a DICOM series, then read
back with ``read_volume``; a project holding it (labels, labeled-slice marks) is saved and opened;
brush strokes (a disc of radius 10 on one axial slice, a 21×21×1 box) are journaled one by one
with ``EditJournal.record`` (write + fsync each). Reads come from a warm OS file cache: the
figures are decode costs, not disk speed. Medians over repeats (1 for ``quick``, 3 for ``full``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_benchmarks.runner import BenchmarkResult, format_table
from ugpcl_engine.io.dicom_series import write_dicom_series
from ugpcl_engine.io.journal import EditJournal, journal_path_for
from ugpcl_engine.io.project_file import (
    Project,
    ProjectVolume,
    load_project,
    save_project,
    write_label_slices,
)
from ugpcl_engine.io.volume_files import read_volume, write_array
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

SHAPE_ZYX = (300, 512, 512)
RADIUS = 10


def synthetic_ct(shape_zyx: tuple[int, int, int] = SHAPE_ZYX, seed: int = 0) -> Volume:
    """Build a smooth, noisy int16 volume that compresses roughly like a CT.

    Args:
        shape_zyx: grid size (Z, Y, X).
        seed: noise seed.

    Returns:
        The volume on a 1.25×0.7×0.7 mm grid.
    """
    z, y, x = (np.arange(n, dtype=np.float32) for n in shape_zyx)
    smooth = (
        400 * np.sin(z[:, None, None] / 23) * np.cos(y[None, :, None] / 37)
        + 300 * np.sin(x[None, None, :] / 29 + z[:, None, None] / 50)
        - 200
    )
    image = smooth.astype(np.int16)
    image += np.random.default_rng(seed).integers(-20, 20, size=shape_zyx, dtype=np.int16)
    geometry = VolumeGeometry(shape_zyx, (1.25, 0.7, 0.7), (-179.0, -179.0, -400.0))
    return Volume(image, geometry, name="synthetic-ct", modality="CT")


def _median_time(action: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times: list[float] = []
    result: Any = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _time_reads(volume: Volume, folder: Path, repeats: int) -> dict[str, float]:
    nifti = folder / "ct.nii.gz"
    dicom = folder / "dicom"
    out: dict[str, float] = {}
    out["write_nifti_s"], _ = _median_time(
        lambda: write_array(nifti, volume.image_zyx, volume.geometry), 1
    )
    out["read_nifti_s"], read = _median_time(lambda: read_volume(nifti), repeats)
    if not np.array_equal(read.image_zyx, volume.image_zyx):
        raise RuntimeError("NIfTI round trip changed the voxels")
    out["write_dicom_s"], _ = _median_time(
        lambda: write_dicom_series(volume.image_zyx, volume.geometry, dicom), 1
    )
    out["read_dicom_s"], read = _median_time(lambda: read_volume(dicom), repeats)
    if not np.array_equal(read.image_zyx, volume.image_zyx):
        raise RuntimeError("DICOM round trip changed the voxels")
    out["nifti_mb"] = nifti.stat().st_size / 1e6
    out["dicom_mb"] = sum(p.stat().st_size for p in dicom.iterdir()) / 1e6
    return out


def _project_for(volume: Volume) -> Project:
    nz, ny, nx = volume.geometry.shape_zyx
    labels = np.zeros((nz, ny, nx), np.uint8)
    z_marked = [nz // 5, nz // 2, 4 * nz // 5]  # three painted slices
    labels[z_marked, ny // 3 : 2 * ny // 3, nx // 4 : 3 * nx // 4] = 1
    labels[z_marked, 4 * ny // 9 : 5 * ny // 9, 3 * nx // 8 : 5 * nx // 8] = 2
    marks = {"z": np.zeros(nz, bool)}
    marks["z"][z_marked] = True
    label_map = LabelMap(labels, volume.geometry, LabelTable.default(3))
    return Project([ProjectVolume(volume, label_map, marks, source_path="ct.nii.gz")])


def _time_project(project: Project, path: Path, repeats: int) -> dict[str, float]:
    out: dict[str, float] = {}
    out["project_save_s"], _ = _median_time(lambda: save_project(path, project), repeats)
    out["project_open_s"], loaded = _median_time(lambda: load_project(path), repeats)
    if not np.array_equal(loaded.volumes[0].volume.image_zyx, project.volumes[0].volume.image_zyx):
        raise RuntimeError("project round trip changed the voxels")
    out["project_mb"] = path.stat().st_size / 1e6
    return out


def _disc_stroke(
    labels_zyx: np.ndarray, rng: np.random.Generator, value: int
) -> tuple[tuple[int, int, int], np.ndarray]:
    """Paint a disc into ``labels_zyx`` and return the changed box (origin, new values)."""
    size = 2 * RADIUS + 1
    z = int(rng.integers(0, labels_zyx.shape[0]))
    y = int(rng.integers(0, labels_zyx.shape[1] - size))
    x = int(rng.integers(0, labels_zyx.shape[2] - size))
    yy, xx = np.mgrid[-RADIUS : RADIUS + 1, -RADIUS : RADIUS + 1]
    box = labels_zyx[z : z + 1, y : y + size, x : x + size]
    box[0][yy**2 + xx**2 <= RADIUS**2] = value
    return (z, y, x), box.copy()


def _time_journal(project: Project, path: Path, strokes: int) -> dict[str, float]:
    labels = project.volumes[0].labels.labels_zyx.copy()
    journal = EditJournal(journal_path_for(path))
    journal.clear()
    before = journal.path.stat().st_size
    rng = np.random.default_rng(1)
    times: list[float] = []
    touched: list[int] = []
    for i in range(strokes):
        origin, values = _disc_stroke(labels, rng, 1 + i % 2)
        touched.append(origin[0])
        start = time.perf_counter()
        journal.record(0, origin, values)
        times.append(time.perf_counter() - start)
    grown = journal.path.stat().st_size - before
    replay = [project.volumes[0].labels.labels_zyx.copy()]
    start = time.perf_counter()
    journal.apply(replay)
    replay_s = time.perf_counter() - start
    if not np.array_equal(replay[0], labels):
        raise RuntimeError("journal replay differs from the painted labels")
    start = time.perf_counter()
    write_label_slices(path, 0, labels, touched)
    slices_s = time.perf_counter() - start
    journal.clear()
    ms = np.asarray(times) * 1e3
    return {
        "journal_ms_per_stroke": float(ms.mean()),
        "journal_ms_p95": float(np.percentile(ms, 95)),
        "journal_bytes_per_stroke": grown / strokes,
        "journal_replay_s": replay_s,
        "write_label_slices_ms_per_slice": slices_s * 1e3 / len(set(touched)),
    }


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Run the I/O benchmark; see the module docstring.

    Args:
        args: ``budget`` (``"quick"``: 1 repeat, 200 strokes; ``"full"``: 3 repeats, 1000 strokes).

    Returns:
        Summary keys ``read_nifti_s``, ``read_dicom_s``, ``project_save_s``, ``project_open_s``,
        ``journal_ms_per_stroke``, ``journal_bytes_per_stroke``; the rest in ``details``.
    """
    quick = getattr(args, "budget", "quick") == "quick"
    repeats, strokes = (1, 200) if quick else (3, 1000)
    volume = synthetic_ct()
    with tempfile.TemporaryDirectory(prefix="ugpcl-io-bench-") as tmp:
        folder = Path(tmp)
        results = _time_reads(volume, folder, repeats)
        project = _project_for(volume)
        results |= _time_project(project, folder / "bench.ugpcl", repeats)
        results |= _time_journal(project, folder / "bench.ugpcl", strokes)
    keys = (
        "read_nifti_s",
        "read_dicom_s",
        "project_save_s",
        "project_open_s",
        "journal_ms_per_stroke",
        "journal_bytes_per_stroke",
    )
    summary = {k: round(results[k], 4) for k in keys}
    rows = [[k, round(v, 4)] for k, v in results.items()]
    z, y, x = volume.geometry.shape_zyx
    header = (
        f"I/O of a {x}×{y}×{z} int16 volume ({repeats} repeat(s), medians); "
        f"{strokes} journaled strokes (disc r={RADIUS}, box {2 * RADIUS + 1}²×1)\n"
    )
    details = {
        "results": results,
        "repeats": repeats,
        "strokes": strokes,
        "shape_zyx": volume.geometry.shape_zyx,
        # the machine is shared: a high load makes every time here longer
        "load_average_1_5_15": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    return BenchmarkResult(header + format_table(["measure", "value"], rows), summary, details)
