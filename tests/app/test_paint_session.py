"""The killable painting session of the reliability benchmark: SIGKILL during a background
save loses no reported stroke, slice mark or label-table edit (issue 14, items 2-4).

The child runs in lockstep (it paints one stroke per line the test sends) and each save waits
for a gate file, so the interleaving of strokes, saves and the kill is exact."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from app.benchmarks.paint_session import (
    Progress,
    count_recovered,
    follow,
    plan,
    start_session,
    step,
)


@pytest.fixture
def start(tmp_path: Path):
    """Start lockstep sessions in ``tmp_path``; any still running at the end is killed."""
    children = []

    def run(strokes: int):
        child = start_session(
            tmp_path, strokes=strokes, save_every=10, save_gate=tmp_path / "gate", lockstep=True
        )
        children.append(child)
        return child, follow(child.stdout, Progress(), until="ready")

    yield run
    for child in children:
        if child.poll() is None:
            kill(child)


def kill(child) -> None:
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    child.stdin.close()
    child.stdout.close()
    assert child.returncode == -signal.SIGKILL


def test_a_kill_during_the_first_save_loses_nothing(start, tmp_path: Path) -> None:
    child, progress = start(40)
    for _ in range(10):
        step(child, progress)
    assert progress.saves_started == 1  # held at its gate: the file is being written
    for _ in range(5):
        step(child, progress)  # painted while the save is in flight
    kill(child)
    assert progress.strokes == 15 and progress.saves_done == 0
    count = count_recovered(tmp_path, progress)
    painted_slices = {s.z for s in plan(15)}
    assert (count.strokes_applied, count.marks_applied) == (15, len(painted_slices) + 3)
    assert count.source == "autosave"
    assert (count.strokes_lost, count.marks_lost) == (0, 0)
    assert count.table_applied and count.table_recovered


def test_a_kill_during_a_later_save_loses_nothing(start, tmp_path: Path) -> None:
    child, progress = start(60)
    for _ in range(13):
        step(child, progress)  # strokes 10-12 while the first save is held
    (tmp_path / "gate.1").touch()
    step(child, progress, "finish-save")
    assert progress.saves_done == 1
    for _ in range(12):
        step(child, progress)  # the second save starts after stroke 19; 5 more strokes
    kill(child)
    assert (progress.strokes, progress.saves_started, progress.saves_done) == (25, 2, 1)
    count = count_recovered(tmp_path, progress)
    assert count.source == "project journal" and count.strokes_applied == 25
    assert (count.strokes_lost, count.marks_lost) == (0, 0) and count.table_recovered
