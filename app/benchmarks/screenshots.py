"""Screenshots of the assist loop for ``docs/``: one real training on the sample, three PNGs.

``python -m app.benchmarks.screenshots [OUT_DIR] [--steps N] [--threads N]`` (default
``docs/``; run it under ``xvfb-run -a -s "-screen 0 1920x1080x24"`` for a real X window, or
offscreen without a display) opens the sample like ``--sample`` does, trains the quick preset
through the assist loop (the real spawned child, on the CPU), waits for the model and
writes:

- ``assist_loss_plot.png``: the training panel, *Train* tab, with the run's loss curves;
- ``assist_uncertainty.png``: the whole 1900 × 1050 window at the most uncertain slice, with the
  prediction and uncertainty overlays;
- ``assist_ranking.png``: the training panel, *Review* tab, with the ranked slices.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from app.benchmarks.first_model import sample_window, wait_for

WINDOW_SIZE = (1900, 1050)
NAMES = ("assist_loss_plot.png", "assist_uncertainty.png", "assist_ranking.png")


def _settle(app: Any, seconds: float) -> None:
    """Let Qt lay out and paint for ``seconds`` (plots redraw on timers)."""
    wait_for(app, lambda: False, seconds)


def _save(widget: Any, path: Path) -> Path:
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(path, flush=True)
    return path


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


def capture(
    out_dir: Path, steps: int | None = None, threads: int | None = None, limit_s: float = 1800
) -> list[Path]:
    """Train once on the sample and save the three assist screenshots into ``out_dir``.

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
    qt_app, window, controller = sample_window(steps)
    window.resize(*WINDOW_SIZE)
    try:
        _train(qt_app, controller, limit_s)
        panel = controller.panel
        panel.mark_losses_dirty()
        panel.redraw_losses()
        panel.tabs.setCurrentIndex(0)  # Train: progress and loss curves
        _settle(qt_app, 1.0)
        written = [_save(controller.dock, out_dir / NAMES[0])]
        controller.review.next_suggestion()  # the most uncertain slice, as N does
        panel.tabs.setCurrentIndex(1)  # Review: overlays and the ranking
        _settle(qt_app, 1.0)
        written.append(_save(window, out_dir / NAMES[1]))
        written.append(_save(controller.dock, out_dir / NAMES[2]))
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
        capture(Path(args.out), args.steps, args.threads)
    except (RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
