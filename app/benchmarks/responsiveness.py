"""``ugpcl-studio benchmark responsiveness``: GUI event-loop latency while training runs.

A 10 ms precise QTimer measures its own lateness (actual minus planned firing time) in the real
main window with the sample open, first idle (``baseline_p99_ms``), then while the quick preset
trains on the CPU in the child process and the user scrolls the axial view every 200 ms (each
scroll redraws the image, the labels and the live preview layers). Summary keys
``latency_p50_ms`` and ``latency_p99_ms`` (target p99 ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.benchmarks.first_model import sample_window, wait_for

TICK_MS = 10


class LatencyProbe:
    """Records how late a repeating timer fires (ms)."""

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.samples: list[float] = []
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def start(self) -> None:
        """Begin measuring."""
        self.samples = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> np.ndarray:
        """Stop and return the lateness samples (ms)."""
        self._timer.stop()
        return np.asarray(self.samples, float)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.samples.append(max(0.0, (now - self._last) * 1000.0 - TICK_MS))
        self._last = now


def _scroller(window: Any) -> Any:
    from PySide6.QtCore import QTimer

    state = {"step": 1}

    def scroll() -> None:
        view, count = window.ws.view, window.ws.doc.slice_count("z")
        index = view.slice_index("z") + state["step"]
        if not 0 <= index < count:
            state["step"] *= -1
            index = view.slice_index("z") + state["step"]
        view.set_slice("z", index, count)

    timer = QTimer()
    timer.setInterval(200)
    timer.timeout.connect(scroll)
    return timer


def run_benchmark(seconds: float, steps: int | None) -> tuple[str, dict[str, float], dict]:
    """Measure idle and training latency; return (table, summary, details)."""
    from ugpcl_benchmarks.runner import format_table

    app, window, controller = sample_window(steps)
    probe = LatencyProbe()
    probe.start()
    wait_for(app, lambda: False, 3.0)
    idle = probe.stop()
    done: list[Any] = []
    controller.training.result_ready.connect(done.append)
    controller.training.run_failed.connect(done.append)
    scroller = _scroller(window)
    controller.training.start("quick", "cpu")
    probe.start()
    scroller.start()
    began = time.perf_counter()
    wait_for(app, lambda: bool(done) or time.perf_counter() - began > seconds, seconds + 600)
    scroller.stop()
    busy = probe.stop()
    progress_steps = len(controller.session.losses["sup"])
    controller.supervisor.shutdown(5)
    p50, p99 = (float(np.percentile(busy, q)) for q in (50, 99))
    summary = {
        "latency_p50_ms": round(p50, 2),
        "latency_p99_ms": round(p99, 2),
        "latency_max_ms": round(float(busy.max()), 2),
        "baseline_p99_ms": round(float(np.percentile(idle, 99)), 2),
        "samples": float(len(busy)),
    }
    rows = [
        ["idle p99 (ms)", summary["baseline_p99_ms"], ""],
        ["training p50 (ms)", summary["latency_p50_ms"], ""],
        ["training p99 (ms)", summary["latency_p99_ms"], "≤ 50"],
        ["training max (ms)", summary["latency_max_ms"], ""],
    ]
    details = {
        "measured_seconds": round(time.perf_counter() - began, 1),
        "training_finished": bool(done),
        "loss_events": progress_steps,
        "tick_ms": TICK_MS,
    }
    window.ws.doc.modified = False
    window.close()
    return format_table(["measure", "value", "target"], rows), summary, details


def main(argv: list[str]) -> int:
    """Entry point of ``ugpcl-studio benchmark responsiveness [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="ugpcl-studio benchmark responsiveness")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the JSON")
    parser.add_argument("--seconds", type=float, default=40.0, help="longest measuring time")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    args = parser.parse_args(argv)
    from ugpcl_benchmarks.runner import BenchmarkResult, run_and_record

    run_and_record(
        "responsiveness",
        lambda: BenchmarkResult(*run_benchmark(args.seconds, args.steps)),
        Path(args.out),
    )
    return 0
