"""Screenshots for ``docs/``: the welcome panel, the workspace, painting, the DICOM browser,
Fill between slices and the assist loop (real training on the sample).

``python -m app.benchmarks.screenshots [OUT_DIR] [--steps N] [--threads N]`` (default
``docs/``; run it under ``xvfb-run -a -s "-screen 0 1920x1080x24"`` for a real X window, or
offscreen without a display) opens the sample like ``--sample`` does, trains the quick preset
through the assist loop (the real spawned child, on the CPU), waits for the model and
writes:

- ``welcome.png``: the whole window at an empty start (the welcome panel);
- ``workspace.png``: the whole window with the sample open in the 1 × 3 layout;
- ``painting.png``: the whole window, one axial view, after a few brush strokes of "right
  lung" limited to lung intensities ("Only intensities" -1000..-400); the strokes are
  undone before training;
- ``dicom_browser.png``: File › Open DICOM…'s series browser on a tiny tree written from the
  sample (``app.benchmarks.dicom_demo``);
- ``fill_between.png``: the whole window after Fill between slices along z (undone before
  training);
- ``assist_loss_plot.png``: the training panel, *Train* tab, with the run's loss curves,
  held-out Dice and its comparison with Fill between slices (a fourth axial slice is labeled
  from the reference first: a run holds out an inner labeled slice only with four or more);
- ``assist_uncertainty.png``: the whole 1900 × 1050 window at the most uncertain slice, with the
  prediction and uncertainty overlays;
- ``assist_ranking.png``: the training panel, *Review* tab, with the ranked slices.

Settings, autosave journals and the log go to temporary folders: a developer's are never read
or touched.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from app.benchmarks.first_model import wait_for

WINDOW_SIZE = (1900, 1050)
NAMES = (
    "welcome.png",
    "workspace.png",
    "painting.png",
    "dicom_browser.png",
    "fill_between.png",
    "assist_loss_plot.png",
    "assist_uncertainty.png",
    "assist_ranking.png",
)
ISOLATED_ENV = ("UGPCL_STUDIO_SETTINGS_DIR", "UGPCL_STUDIO_AUTOSAVE_DIR", "UGPCL_STUDIO_LOG_DIR")
PAINT_SLICE = 22  # an unlabeled axial slice through both lungs
PAINT_RANGE = (-1000.0, -400.0)  # air and lung (HU): the mediastinum and chest wall stay unpainted
PAINT_LABEL = 5  # right lung (columns 58..103 of that slice)
EXTRA_SLICE = 11  # labeled from the reference before training (see _label_one_more)
STROKES_RC = tuple(((row, 58), (row, 104)) for row in (50, 65, 80))  # (row, col) ends


def _settle(app: Any, seconds: float) -> None:
    """Let Qt lay out and paint for ``seconds`` (plots redraw on timers)."""
    wait_for(app, lambda: False, seconds)


def _save(widget: Any, path: Path, rect: Any = None) -> Path:
    image = widget.grab() if rect is None else widget.grab(rect)
    if not image.save(str(path)):
        raise OSError(f"could not write {path}")
    print(path, flush=True)
    return path


def _label_one_more(window: Any) -> None:
    """Copy the reference labels of ``EXTRA_SLICE`` in as one undo step and mark the slice, as a
    user labeling a fourth slice would: with four labeled slices a run holds one out, so the
    Train tab shows the held-out Dice and its comparison with Fill between slices."""
    from app.benchmarks.first_model import sample_reference
    from app.state.document import Region
    from app.state.undo import LabelDelta

    doc, editor, k = window.ws.doc, window.ws.editor, EXTRA_SLICE
    before = doc.labels_zyx[k : k + 1].copy()
    doc.labels_zyx[k] = sample_reference().labels_zyx[k]
    region = Region((k, 0, 0), before.shape)
    editor.push_delta(
        LabelDelta.capture(doc.current, region, before, doc.labels_zyx[k : k + 1], "reference")
    )
    doc.labels_changed.emit(region)
    editor.set_mark("z", k, True)


def _train(app: Any, controller: Any, limit_s: float) -> None:
    """Start the quick preset on the CPU and wait for the model and its ranking."""
    results: list[Any] = []
    failures: list[str] = []
    controller.training.result_ready.connect(results.append)
    controller.training.run_failed.connect(failures.append)
    controller.panel.preset.setCurrentText("quick")  # the panel shows what ran
    controller.panel.device.setCurrentText("cpu")
    if not controller.training.start("quick", "cpu"):
        raise RuntimeError("training did not start")
    wait_for(app, lambda: bool(results or failures), limit_s)
    if not results:
        raise RuntimeError(f"training did not finish: {failures or 'timeout'}")
    if not wait_for(app, lambda: bool(controller.session.suggestions), 60):
        raise RuntimeError("the model came without a slice ranking")


def _window() -> tuple[Any, Any, Any]:
    """A shown main window with the assist loop and no document (the welcome panel)."""
    from app.benchmarks import benchmark_app
    from app.ui.assist import install_assist
    from app.ui.main_window import MainWindow

    app = benchmark_app()
    window = MainWindow()
    controller = install_assist(window)
    window.resize(*WINDOW_SIZE)
    window.show()
    return app, window, controller


def _paint(app: Any, window: Any) -> int:
    """In the single axial layout: brush strokes of ``PAINT_LABEL`` limited to ``PAINT_RANGE``
    on ``PAINT_SLICE``; returns the number of undo steps they made."""
    from app.state.view_state import Tool

    ws = window.ws
    ws.view.set_layout("single", "z")
    ws.tools.update(tool=Tool.BRUSH, label=PAINT_LABEL, radius=4.0, intensity_range=PAINT_RANGE)
    ws.view.set_slice("z", PAINT_SLICE, ws.doc.item.volume.geometry.shape_zyx[0])
    for stroke in STROKES_RC:
        ws.editor.begin_stroke("z", PAINT_SLICE)
        for point in stroke:
            ws.editor.stroke_to(point)
        ws.editor.end_stroke()
    for view in window.views.values():
        view.flush()
    _settle(app, 0.5)
    return len(STROKES_RC)


def _dicom_browser(app: Any, window: Any, folder: Path, path: Path) -> Path:
    """Write the demo tree, scan it and save the browser dialog over the window."""
    from app.benchmarks.dicom_demo import write_demo_tree
    from app.ui.dicom_browser import DicomBrowser
    from ugpcl_engine import scan_dicom_folder

    write_demo_tree(folder, window.ws.doc.item.volume.image_zyx)
    dialog = DicomBrowser(scan_dicom_folder(folder), window)
    dialog.show()
    _settle(app, 0.5)
    try:
        return _save(dialog, path)
    finally:
        dialog.close()


def _fill_between(app: Any, window: Any, path: Path) -> Path:
    """Fill between the sample's labeled axial slices, save the window, undo the fill."""
    results: list[Any] = []
    window.fill_between.filled.connect(results.append)
    window.fill_between.failed.connect(results.append)
    window.controller.active_axis = "z"
    window.fill_between.fill()
    if not wait_for(app, lambda: bool(results), 120) or isinstance(results[0], str):
        raise RuntimeError(f"Fill between slices did not finish: {results or 'timeout'}")
    _settle(app, 0.5)
    try:
        return _save(window, path)
    finally:
        window.ws.editor.undo()


def capture(
    out_dir: Path, steps: int | None = None, threads: int | None = None, limit_s: float = 1800
) -> list[Path]:
    """Open the sample, train once and save the ``NAMES`` screenshots into ``out_dir``.

    Args:
        out_dir: folder for the PNGs (made if missing).
        steps: training steps (None: the quick preset's).
        threads: torch threads of the training child (None: the app's default, every core).
        limit_s: longest wait for the model.

    Returns:
        The paths written, in the order of ``NAMES``.

    Raises:
        RuntimeError: training failed, timed out or gave no ranking.
    """
    if threads is not None:
        # the controller has no threads option (the app always uses every core); a docs run
        # beside other work asks for fewer
        import app.assist.run_plan as run_plan

        run_plan.default_threads = lambda: threads
    out_dir.mkdir(parents=True, exist_ok=True)
    from app.state.files import load_sample

    qt_app, window, controller = _window()
    if steps is not None:
        controller.training.overrides["steps"] = steps
    try:
        _settle(qt_app, 1.0)
        written = [_save(window, out_dir / NAMES[0])]
        window.ws.set_document(load_sample())
        _settle(qt_app, 1.0)
        written.append(_save(window, out_dir / NAMES[1]))
        strokes = _paint(qt_app, window)
        written.append(_save(window, out_dir / NAMES[2]))
        window.ws.view.set_layout("1x3")
        window.ws.tools.update(intensity_range=None, radius=5.0)
        for _ in range(strokes):  # the model trains on the sample's own labels
            window.ws.editor.undo()
        with tempfile.TemporaryDirectory() as folder:
            written.append(
                _dicom_browser(qt_app, window, Path(folder) / "DICOM demo", out_dir / NAMES[3])
            )
        written.append(_fill_between(qt_app, window, out_dir / NAMES[4]))
        _label_one_more(window)
        _train(qt_app, controller, limit_s)  # holds out slice 11, between 5 and 17
        panel = controller.panel
        panel.mark_losses_dirty()
        panel.redraw_losses()
        panel.tabs.setCurrentIndex(0)  # Train: progress and loss curves
        _settle(qt_app, 1.0)
        written.append(_save(controller.dock, out_dir / NAMES[5]))
        controller.review.next_suggestion()  # the most uncertain slice, as N does
        panel.tabs.setCurrentIndex(1)  # Review: overlays and the ranking
        _settle(qt_app, 1.0)
        written.append(_save(window, out_dir / NAMES[6]))
        written.append(_save(controller.dock, out_dir / NAMES[7]))
    finally:
        if controller.supervisor.running:  # a failed or timed-out run: no "stop training?" dialog
            controller.supervisor.shutdown(5.0)
        if window.ws.doc is not None:
            window.ws.doc.modified = False  # a screenshot run never asks to save
        window.close()
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line entry (see the module docstring); returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m app.benchmarks.screenshots")
    parser.add_argument("out", nargs="?", default="docs", help="folder for the PNGs")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the child")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="ugpcl-screenshots-") as scratch:
            for name in ISOLATED_ENV:  # never a developer's settings, journals or log
                os.environ[name] = str(Path(scratch) / name.lower())
            capture(Path(args.out), args.steps, args.threads)
    except (RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
