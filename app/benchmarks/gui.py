"""``ugpcl-studio benchmark gui``: display and painting speed of the workspace, and its memory.

On a synthetic 300×512×512 int16 CT-like volume with labels, in a real (offscreen when there is
no display) main window of 1600×1000:

- ``slice_show_ms``: median time to show a new axial slice with its label overlay, including a
  synchronous repaint of the view;
- ``brush_dab_ms``: median time of one radius-10 brush dab in the label editor (undo capture
  included); the overlay redraw that follows is reported apart (``dab_redraw_ms``);
- ``undo100_ms``: time to undo 100 brush strokes (each 20 points);
- ``rss_open_mb`` and ``rss_after_strokes_mb``: resident memory after opening and after the
  100 strokes (the undo history is bounded by bytes, so the second stays close to the first).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

SHAPE_ZYX = (300, 512, 512)


def rss_mb() -> float:
    """Resident set size of this process in MiB (Linux /proc; peak RSS elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic_document():
    """A smooth int16 volume with an ellipsoid body and two labelled organs."""
    from app.state.document import Document, VolumeItem
    from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

    _z, y, x = (np.linspace(-1, 1, n, dtype=np.float32) for n in SHAPE_ZYX)
    body = (y[:, None] ** 2 / 0.8 + x[None, :] ** 2 / 0.9) < 1.0
    rng = np.random.default_rng(0)
    plane = np.where(body, 40, -1000).astype(np.int16)
    image = np.empty(SHAPE_ZYX, np.int16)
    for k in range(SHAPE_ZYX[0]):
        image[k] = plane + rng.integers(-20, 20, plane.shape, dtype=np.int16)
    labels = np.zeros(SHAPE_ZYX, np.uint8)
    organ = ((y[:, None] - 0.2) ** 2 + (x[None, :] + 0.3) ** 2) < 0.08
    labels[60:240][:, organ] = 1
    labels[100:200, 300:400, 300:400] = 2
    geometry = VolumeGeometry(SHAPE_ZYX, (1.0, 0.7, 0.7))
    volume = Volume(image, geometry, "synthetic", "CT")
    return Document([VolumeItem.new(volume, LabelMap(labels, geometry, LabelTable.default(3)))])


def _ms(samples: list[float]) -> float:
    return float(np.median(samples) * 1000.0)


def _time_slices(window, app) -> dict[str, float]:
    view_state, out = window.ws.view, {}
    for axis in ("z", "y", "x"):
        view = window.views[axis]
        count = window.ws.doc.slice_count(axis)
        times = []
        for index in np.linspace(10, count - 10, 41).astype(int):
            start = time.perf_counter()
            view_state.set_slice(axis, int(index), count)
            view.graphics.viewport().repaint()
            times.append(time.perf_counter() - start)
            app.processEvents()
        out[axis] = _ms(times)
    return out


def _time_dabs(window, app) -> tuple[float, float]:
    editor, view = window.ws.editor, window.views["z"]
    window.ws.tools.update(radius=10.0, label=1)
    index = window.ws.view.slice_index("z")
    rng = np.random.default_rng(1)
    dab, redraw = [], []
    for _ in range(10):
        editor.begin_stroke("z", index)
        for _ in range(20):
            centre = tuple(rng.uniform(50, 460, 2))
            start = time.perf_counter()
            editor.dab("z", index, centre)
            dab.append(time.perf_counter() - start)
            start = time.perf_counter()
            view.flush()
            view.graphics.viewport().repaint()
            redraw.append(time.perf_counter() - start)
        editor.end_stroke()
    app.processEvents()
    return _ms(dab), _ms(redraw)


def _strokes_and_undo(window, app, count: int = 100) -> float:
    editor, rng = window.ws.editor, np.random.default_rng(2)
    window.ws.undo.clear()
    for k in range(count):
        axis = "zyx"[k % 3]
        index = window.ws.view.slice_index(axis)
        editor.begin_stroke(axis, index)
        start = rng.uniform(60, 240, 2)
        for t in range(20):
            editor.stroke_to((float(start[0] + t * 3), float(start[1] + t * 2)))
        editor.end_stroke()
    app.processEvents()
    start_time = time.perf_counter()
    for _ in range(count):
        editor.undo()
    elapsed = time.perf_counter() - start_time
    app.processEvents()
    return elapsed * 1000.0


def run_benchmark() -> tuple[str, dict[str, float], dict[str, object]]:
    """Run the measurements in a fresh main window.

    Returns:
        (table, summary, details).
    """
    from app.benchmarks import benchmark_app
    from app.ui.main_window import MainWindow
    from ugpcl_benchmarks.runner import format_table

    app = benchmark_app()
    window = MainWindow()
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    base = rss_mb()
    start = time.perf_counter()
    window.ws.set_document(synthetic_document())
    app.processEvents()
    open_s = time.perf_counter() - start
    rss_open = rss_mb()
    slices = _time_slices(window, app)
    dab, redraw = _time_dabs(window, app)
    undo_ms = _strokes_and_undo(window, app)
    rss_after = rss_mb()
    undo_mb = window.ws.undo.nbytes / 2**20
    window.ws.doc.modified = False
    window.close()
    summary = {
        "slice_show_ms": slices["z"],
        "brush_dab_ms": dab,
        "undo100_ms": undo_ms,
        "rss_open_mb": rss_open,
        "rss_after_strokes_mb": rss_after,
    }
    rows = [
        ["slice_show_ms (axial)", slices["z"], "<= 16"],
        ["slice_show_ms (coronal)", slices["y"], ""],
        ["slice_show_ms (sagittal)", slices["x"], ""],
        ["brush_dab_ms (r=10)", dab, "<= 5"],
        ["dab_redraw_ms", redraw, ""],
        ["undo100_ms", undo_ms, ""],
        ["rss_open_mb", rss_open, ""],
        ["rss_after_strokes_mb", rss_after, ""],
        ["undo history MiB (100 strokes)", undo_mb, ""],
    ]
    details = {
        "shape_zyx": list(SHAPE_ZYX),
        "dtype": "int16",
        "window": [1600, 1000],
        "platform": app.platformName(),
        "open_seconds": open_s,
        "rss_before_open_mb": base,
        "slice_show_ms_by_axis": slices,
        "dab_redraw_ms": redraw,
        "undo_history_mb": undo_mb,
    }
    return format_table(["measure", "value", "target"], rows), summary, details


def main(argv: list[str]) -> int:
    """Entry point of ``ugpcl-studio benchmark gui [--out DIR]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="ugpcl-studio benchmark gui")
    parser.add_argument("--out", default="benchmarks/results", help="folder for gui.json")
    args = parser.parse_args(argv)
    from ugpcl_benchmarks.runner import BenchmarkResult, run_and_record

    run_and_record("gui", lambda: BenchmarkResult(*run_benchmark()), Path(args.out))
    return 0
