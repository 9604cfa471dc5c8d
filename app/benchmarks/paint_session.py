"""A scripted painting session to kill at random points, and a count of what came back.

For the ``reliability`` benchmark (issue 14): ``start_session`` runs
``python -m app.benchmarks.paint_session`` in a child process that paints numbered strokes
through the state layer (``Workspace``/``LabelEditor``, no GUI), marks slices, edits the label
table and saves the project in a background thread now and then, exactly as the app does
(snapshot and ``SavePoint`` on the main thread, the file written on a worker, ``saved`` back on
the main thread). Kill it with SIGKILL whenever you like; then ``count_recovered`` does what a
user does at the next start (the first journal offered is recovered, else the project or the
image is opened) and counts the strokes, slice marks and label-table edit that came back.

Progress lines on the child's stdout (each printed after the change is applied and journaled)::

    stroke <i>       stroke i (0-based) is painted; its z slice is marked by painting
    mark <axis> <k>  slice k of axis is marked by hand
    table            a label class was added and renamed
    save-start <n>   the n-th background save took its snapshot (the file is being written)
    saved <n>        the n-th save finished and the journal was trimmed
    done             every stroke is painted (the child then waits to be killed)
    ready            (lockstep only) waiting for the next command on stdin

Strokes never overlap (each owns a cell of a grid on its z slice), so a stroke counts as
recovered exactly when its centre voxel holds its label.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.state.autosave import AUTOSAVE_ENV, find_autosaves, pending_for_project
from app.state.document import Document
from app.state.files import (
    load_origin,
    load_paths,
    load_project_document,
    save_snapshot,
    snapshot,
)
from app.state.workspace import SavePoint, Workspace
from ugpcl_engine.io.volume_files import write_array
from ugpcl_engine.volume import VolumeGeometry

SHAPE_ZYX = (16, 64, 64)
CELL = 8
RADIUS = 2.0
PROJECT_NAME = "session.ugpcl"
IMAGE_NAME = "image.nii.gz"
TABLE_AT = 5
TABLE_NAME = "drill class"


@dataclass(frozen=True)
class Stroke:
    """One planned stroke: a dab of label 1 centred on voxel (z, row, col)."""

    z: int
    row: int
    col: int


def plan(count: int, seed: int = 0) -> list[Stroke]:
    """The strokes of a session, in painting order (distinct grid cells, seeded order).

    Raises:
        ValueError: more strokes than grid cells.
    """
    z, y, x = SHAPE_ZYX
    cells = [(k, r, c) for k in range(z) for r in range(y // CELL) for c in range(x // CELL)]
    if count > len(cells):
        raise ValueError(f"at most {len(cells)} strokes fit the grid")
    order = np.random.default_rng(seed).permutation(len(cells))[:count]
    half = CELL // 2
    return [
        Stroke(cells[i][0], cells[i][1] * CELL + half, cells[i][2] * CELL + half) for i in order
    ]


def hand_mark(n: int) -> tuple[str, int] | None:
    """The slice marked by hand after stroke ``n`` (every fourth stroke), if any."""
    return ("y", (n // 4) % SHAPE_ZYX[1]) if n % 4 == 3 else None


@dataclass
class Progress:
    """What the child reported as done before it died."""

    strokes: int = 0
    marks: set[tuple[str, int]] | None = None
    table: bool = False
    saves_started: int = 0
    saves_done: int = 0
    done: bool = False

    def read(self, line: str) -> None:
        """Take one progress line of the child into account."""
        word, *rest = line.split()
        if word == "stroke":
            self.strokes = int(rest[0]) + 1
        elif word == "mark":
            self.marks = (self.marks or set()) | {(rest[0], int(rest[1]))}
        elif word == "table":
            self.table = True
        elif word == "save-start":
            self.saves_started = int(rest[0])
        elif word == "saved":
            self.saves_done = int(rest[0])
        elif word == "done":
            self.done = True


@dataclass(frozen=True)
class RecoveryCount:
    """What came back after a kill, against what the child had reported done.

    Attributes:
        strokes_applied / strokes_recovered: reported strokes, and those whose centre voxel
            holds label 1 again.
        marks_applied / marks_recovered: reported slice marks (each painted z slice and each
            hand-marked y slice), and those marked after recovery.
        table_applied / table_recovered: the label-class edit, reported and back.
        source: what the user got back: ``"autosave"``, ``"project journal"``,
            ``"project file"`` or ``"image"``.
    """

    strokes_applied: int
    strokes_recovered: int
    marks_applied: int
    marks_recovered: int
    table_applied: bool
    table_recovered: bool
    source: str

    @property
    def strokes_lost(self) -> int:
        """Reported strokes that did not come back."""
        return self.strokes_applied - self.strokes_recovered

    @property
    def marks_lost(self) -> int:
        """Reported slice marks that did not come back."""
        return self.marks_applied - self.marks_recovered


def session_env(workdir: Path) -> dict[str, str]:
    """Environment of a session: its autosave folder inside ``workdir``."""
    return {AUTOSAVE_ENV: str(workdir / "autosave")}


def start_session(
    workdir: Path,
    strokes: int = 200,
    save_every: int = 20,
    save_delay: float = 0.0,
    save_gate: Path | None = None,
    seed: int = 0,
    pause: float = 0.0,
    lockstep: bool = False,
) -> subprocess.Popen[str]:
    """Start a painting session in a child process (stdout: progress lines, see above).

    Args:
        workdir: an empty folder for the image, the project and the autosave folder.
        strokes: how many strokes to paint.
        save_every: start a background save after every that many strokes (0: never).
        save_delay: seconds each save waits before writing (widens the window in which
            strokes are painted while a save is in flight).
        save_gate: when given, save n waits until the file ``<save_gate>.<n>`` exists before
            writing (a test holds a save open for as long as it likes).
        seed: order of the strokes.
        pause: seconds between strokes.
        lockstep: before each stroke the child prints ``ready`` and reads a line from its
            stdin: an empty line paints the stroke, ``finish-save`` waits for the running
            save and finishes it (see ``step``).

    Returns:
        The running child (``text=True``, stdout piped, stdin piped with ``lockstep``).
    """
    args = [sys.executable, "-m", "app.benchmarks.paint_session", str(workdir)]
    args += ["--strokes", str(strokes), "--save-every", str(save_every), "--seed", str(seed)]
    args += ["--save-delay", str(save_delay), "--pause", str(pause)]
    args += ["--save-gate", str(save_gate)] if save_gate is not None else []
    args += ["--lockstep"] if lockstep else []
    env = dict(os.environ) | session_env(workdir)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    stdin = subprocess.PIPE if lockstep else None
    return subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE, text=True, env=env)


def follow(lines: Iterable[str], progress: Progress, until: str | None = None) -> Progress:
    """Read progress lines into ``progress``, stopping after the line ``until`` (if given)."""
    for line in lines:
        if line.strip():
            progress.read(line)
        if until is not None and line.strip() == until:
            break
    return progress


def step(child: subprocess.Popen[str], progress: Progress, command: str = "") -> Progress:
    """Lockstep: send one command (empty: paint a stroke) and read up to the next ``ready``."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.write(command + "\n")
    child.stdin.flush()
    return follow(child.stdout, progress, until="ready")


def count_recovered(workdir: Path, progress: Progress, seed: int = 0) -> RecoveryCount:
    """Reopen a killed session's work as a user would and count what came back.

    The first journal the app would offer at start (autosaves newest first, then the
    project's journal) is recovered; without one the project file is opened, or else the
    image. Runs in the calling process with the session's autosave folder.
    """
    doc, source = _reopen(workdir)
    labels = doc.items[0].labels.labels_zyx
    marks = doc.items[0].labeled
    applied = plan(progress.strokes, seed)
    back = sum(int(labels[s.z, s.row, s.col]) == 1 for s in applied)
    wanted = {("z", s.z) for s in applied} | (progress.marks or set())
    marked = sum(bool(marks[a][k]) for a, k in wanted)
    table = TABLE_NAME in doc.items[0].labels.table.names
    return RecoveryCount(
        len(applied), back, len(wanted), marked, progress.table, table and progress.table, source
    )


def _reopen(workdir: Path) -> tuple[Document, str]:
    os.environ[AUTOSAVE_ENV] = session_env(workdir)[AUTOSAVE_ENV]
    project = workdir / PROJECT_NAME
    offered = find_autosaves() + [p for p in [pending_for_project(project)] if p is not None]
    ws = Workspace()
    if offered:
        ws.set_document(load_origin(offered[0].origin), offered[0])
        ws.recover()
        source = "autosave" if offered[0].is_autosave else "project journal"
    elif project.exists():
        ws.set_document(load_project_document(project))
        source = "project file"
    else:
        ws.set_document(load_paths([workdir / IMAGE_NAME]))
        source = "image"
    ws.keeper.release()
    assert ws.doc is not None
    return ws.doc, source


# -- the child ---------------------------------------------------------------------------------
def _image(workdir: Path) -> Path:
    path = workdir / IMAGE_NAME
    if not path.exists():
        image = np.random.default_rng(0).integers(-100, 100, SHAPE_ZYX).astype(np.int16)
        write_array(path, image, VolumeGeometry(SHAPE_ZYX, (2.0, 1.0, 1.0)))
    return path


class _BackgroundSave:
    """One save at a time on a worker thread, finished on the main thread (as the GUI does)."""

    def __init__(self, ws: Workspace, path: Path, delay: float, gate: Path | None) -> None:
        self.ws, self.path, self.delay, self.gate = ws, path, delay, gate
        self.thread: threading.Thread | None = None
        self.count = 0
        self._point: SavePoint | None = None

    def start(self) -> None:
        if self.thread is not None or self.ws.doc is None:
            return
        snap = snapshot(self.ws.doc, self.path)
        self._point = self.ws.save_point()
        self.count += 1
        count = self.count

        def write() -> None:
            time.sleep(self.delay)
            gate = None if self.gate is None else self.gate.with_name(f"{self.gate.name}.{count}")
            while gate is not None and not gate.exists():
                time.sleep(0.01)
            save_snapshot(self.path, snap)

        self.thread = threading.Thread(target=write, daemon=True)
        self.thread.start()
        _say(f"save-start {self.count}")

    def poll(self, wait: bool = False) -> None:
        if self.thread is None or (self.thread.is_alive() and not wait):
            return
        self.thread.join()
        self.thread = None
        self.ws.saved(self.path, self._point)
        _say(f"saved {self.count}")


def _say(text: str) -> None:
    print(text, flush=True)


def _paint(options: argparse.Namespace) -> None:
    workdir = Path(options.workdir)
    ws = Workspace()
    ws.set_document(load_paths([_image(workdir)]))
    ws.tools.update(radius=RADIUS, label=1)
    saver = _BackgroundSave(ws, workdir / PROJECT_NAME, options.save_delay, options.save_gate)
    for n, stroke in enumerate(plan(options.strokes, options.seed)):
        if options.lockstep:
            _await_step(saver)
        _stroke(ws, n, stroke)
        saver.poll()
        if options.save_every and (n + 1) % options.save_every == 0:
            saver.start()
        time.sleep(options.pause)
    saver.poll(wait=True)
    _say("done")
    while True:  # wait to be killed, as a user would keep the window open
        time.sleep(1)


def _await_step(saver: _BackgroundSave) -> None:
    """Lockstep: say ``ready``, then paint on an empty line; ``finish-save`` first waits for
    the running save and finishes it (a test drives the interleaving exactly)."""
    while True:
        _say("ready")
        command = sys.stdin.readline()
        if command.strip() != "finish-save":
            return
        saver.poll(wait=True)


def _stroke(ws: Workspace, n: int, stroke: Stroke) -> None:
    editor = ws.editor
    assert editor is not None
    editor.dab("z", stroke.z, (float(stroke.row), float(stroke.col)))
    _say(f"stroke {n}")
    if (mark := hand_mark(n)) is not None:
        editor.set_mark(*mark, True)
        _say(f"mark {mark[0]} {mark[1]}")
    if n == TABLE_AT:
        editor.rename_label(editor.add_label("drill"), TABLE_NAME)
        _say("table")


def main(argv: list[str] | None = None) -> int:
    """Run a painting session (the child side of ``start_session``)."""
    parser = argparse.ArgumentParser(prog="python -m app.benchmarks.paint_session")
    parser.add_argument("workdir")
    parser.add_argument("--strokes", type=int, default=200)
    parser.add_argument("--save-every", type=int, default=20)
    parser.add_argument("--save-delay", type=float, default=0.0)
    parser.add_argument("--save-gate", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--lockstep", action="store_true")
    options = parser.parse_args(argv)
    os.environ.update(session_env(Path(options.workdir)))  # never the user's autosave folder
    _paint(options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
