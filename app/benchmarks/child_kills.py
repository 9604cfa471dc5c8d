"""Fault injection for the ``reliability`` benchmark: SIGKILL the real training child at random.

``kill_trial`` opens a small synthetic document (512 × 512 slices, so that every live preview is
a 1.25 MiB message, far more than a pipe holds) in a real main window with the assist loop,
starts the real training child (torch, tiny settings, a preview every step), waits a random
time after it started and SIGKILLs it. Half of the trials (or as asked) first pause the GUI's
event receiver (``EventReceiver.pause``: a GUI slow to read), so that the child is blocked
halfway through a preview when it dies: the message is torn. It then checks the GUI side:

* ``reported``: the failure was reported (``run_failed``) within ``report_limit_s``;
* ``labels_intact``: the document's labels and labeled-slice marks are what they were, and no
  model version appeared;
* ``torn``: the kill cut a message in half (ground truth from the receiver);
* ``leftover_bytes``: bulky files (volume copies, partial results) left in the run folder.

A GUI thread blocked on the dead child never returns from ``kill_trial``: run each trial in its
own process with a time limit (``trial_in_subprocess``), which counts a timeout as ``hang``.
``python -m app.benchmarks.child_kills --seed 3 [--pause | --no-pause]`` prints one trial's JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

TINY_FAST = {
    "steps": 100_000,  # never finishes by itself
    "log_every": 1,
    "preview_every": 1,
    "max_input_size": 64,
    "batch_labeled": 2,
    "batch_unlabeled": 2,
}
BULKY = (".npy", ".pt")
FULL_PIPE = 60_000  # bytes: a Linux pipe holds 64 KiB


@dataclass(frozen=True)
class KillOutcome:
    """What one kill of the training child did to the GUI side (see the module docstring).

    Attributes:
        reported: the failure was reported in time.
        labels_intact: labels, marks and model versions unchanged.
        torn: the kill cut a message in half.
        paused: the receiver was paused before the kill.
        kill_after_s: seconds from the child's Started event to the kill.
        report_s: seconds from the kill to the report (``inf`` when not reported).
        leftover_bytes: bytes of ``.npy``/``.pt`` files left in the run folder afterwards.
        message: the failure message shown.
    """

    reported: bool
    labels_intact: bool
    torn: bool
    paused: bool
    kill_after_s: float
    report_s: float
    leftover_bytes: int
    message: str


def preview_document(slices: int = 6, side: int = 512) -> Any:
    """A synthetic CT-like document: a bright box through every slice, two slices labeled."""
    from app.state.document import Document, VolumeItem
    from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

    image = np.full((slices, side, side), -800, np.int16)
    image[:, side // 4 : 3 * side // 4, side // 5 : 4 * side // 5] = 60
    geometry = VolumeGeometry(image.shape, (2.0, 1.0, 1.0))
    labels = np.zeros(image.shape, np.uint8)
    marked = [1, slices - 2]
    labels[marked] = image[marked] > 0
    item = VolumeItem.new(
        Volume(image, geometry, "box", "CT"), LabelMap(labels, geometry, LabelTable.default(2))
    )
    item.labeled["z"][marked] = True
    return Document([item])


def open_window() -> tuple[Any, Any, Any]:
    """(QApplication, MainWindow, AssistView) with ``preview_document`` open; error
    dialogs are recorded instead of shown (``controller.errors``)."""
    from app.benchmarks.first_model import sample_window
    from app.ui import dialogs

    app, window, controller = sample_window(document=preview_document())
    controller.errors = []
    dialogs.show_error = lambda _parent, _title, message, details=None: controller.errors.append(
        message
    )
    controller.training.overrides.update(TINY_FAST)
    return app, window, controller


def kill_trial(
    rng: np.random.Generator,
    parts: tuple[Any, Any, Any] | None = None,
    pause: bool | None = None,
    max_delay_s: float = 3.0,
    report_limit_s: float = 20.0,
) -> KillOutcome:
    """Start a real run, SIGKILL its child at a random point, check the GUI side.

    Args:
        rng: draws the delay (uniform in [0, ``max_delay_s``] s after Started) and, when
            ``pause`` is None, whether to pause the receiver first (probability 1/2).
        parts: ``open_window()``'s result to reuse (None: a new window).
        pause: pause the GUI's receiver before the kill (a torn preview); None: random.
        max_delay_s: longest wait after Started.
        report_limit_s: how long the failure report may take.

    Returns:
        The outcome.

    Raises:
        RuntimeError: the run did not start within 120 s.
    """
    from app.benchmarks.first_model import wait_for

    app, window, controller = parts or open_window()
    supervisor, doc = controller.supervisor, window.ws.doc
    before = (doc.labels_zyx.copy(), {a: m.copy() for a, m in doc.item.labeled.items()})
    versions, failures, started = len(controller.session.versions), [], []
    controller.training.run_failed.connect(failures.append)
    supervisor.started.connect(started.append)
    ran = controller.training.start("quick", "cpu")
    if not ran or not wait_for(app, lambda: bool(started or failures), 120.0) or failures:
        raise RuntimeError(f"the training run did not start: {failures}")
    supervisor.started.disconnect(started.append)
    line, run_dir, pid = supervisor.events, supervisor.run_dir, supervisor.pid
    paused = bool(rng.random() < 0.5) if pause is None else pause
    delay = float(rng.uniform(0.0, max_delay_s))
    wait_for(app, lambda: False, delay)
    if paused and line is not None:
        line.pause()  # previews every step: the pipe fills and the child waits inside one
        wait_for(app, lambda: line.unread_bytes() >= FULL_PIPE, 10.0)
    killed = time.perf_counter()
    os.kill(pid, signal.SIGKILL)
    if line is not None:
        line.resume()
    reported = wait_for(app, lambda: bool(failures), report_limit_s)
    report_s = time.perf_counter() - killed if reported else float("inf")
    controller.training.run_failed.disconnect(failures.append)
    intact = (
        np.array_equal(doc.labels_zyx, before[0])
        and all(np.array_equal(doc.item.labeled[a], m) for a, m in before[1].items())
        and len(controller.session.versions) == versions
    )
    leftover = sum(p.stat().st_size for p in run_dir.iterdir() if p.suffix in BULKY)
    torn = bool(line is not None and line.torn)
    message = str(failures[0]) if failures else ""
    return KillOutcome(reported, intact, torn, paused, delay, report_s, leftover, message)


def trial_in_subprocess(seed: int, pause: bool | None = None, limit_s: float = 240.0) -> dict:
    """Run one ``kill_trial`` in a fresh process; a process still running after ``limit_s``
    (the GUI thread blocked on the dead child) counts as a hang.

    Args:
        seed: the trial's random seed.
        pause: as ``kill_trial``'s.
        limit_s: wall-clock limit of the whole trial (start-up and torch import included).

    Returns:
        ``KillOutcome`` as a dict plus ``hang`` (bool) and ``seed``; on a hang or a crash the
        outcome fields are missing and ``error`` says what happened.
    """
    command = [sys.executable, "-m", "app.benchmarks.child_kills", "--seed", str(seed)]
    if pause is not None:
        command.append("--pause" if pause else "--no-pause")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=limit_s)
    except subprocess.TimeoutExpired:
        return {"seed": seed, "hang": True, "error": f"no result after {limit_s:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"seed": seed, "hang": False, "error": done.stderr.strip()[-500:]}
    return {"seed": seed, "hang": False, **json.loads(lines[-1])}


def main(argv: list[str] | None = None) -> int:
    """One trial; prints its ``KillOutcome`` as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m app.benchmarks.child_kills")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause", action=argparse.BooleanOptionalAction, default=None)
    args = parser.parse_args(argv)
    parts = open_window()
    try:
        outcome = kill_trial(np.random.default_rng(args.seed), parts, args.pause)
    finally:
        parts[2].supervisor.shutdown(2)
    print(json.dumps(asdict(outcome)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
