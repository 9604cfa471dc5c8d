"""Temps left by killed saves (issue 14, item 11): removed at the next open or start too, but
never while their writer (a save in a second app instance) is still running."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psutil
import pytest

from ugpcl_engine.io.project_file import (
    Project,
    ProjectVolume,
    load_project,
    remove_stale_temps,
    save_project,
)
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry


def _project() -> Project:
    geometry = VolumeGeometry((2, 3, 4))
    return Project(
        volumes=[
            ProjectVolume(
                volume=Volume(np.zeros((2, 3, 4), np.int16), geometry),
                labels=LabelMap(np.zeros((2, 3, 4), np.uint8), geometry, LabelTable.default(2)),
                labeled_slices={},
            )
        ]
    )


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has exited (the writer of a save that was killed)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.fixture
def live_pid() -> Iterator[int]:
    """The pid of a running process (a second app instance in the middle of a save)."""
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield child.pid
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait()


def _temp(folder: Path, name: str, pid: int, token: str = "0123abcd") -> Path:
    temp = folder / f".{name}.{pid}.{token}.tmp"
    temp.write_bytes(b"half a project")
    return temp


def test_opening_a_project_removes_temps_of_dead_writers(tmp_path: Path, dead_pid: int) -> None:
    save_project(tmp_path / "p.ugpcl", _project())
    stale = _temp(tmp_path, "p.ugpcl", dead_pid)
    old_style = tmp_path / f".other.ugpcl.{dead_pid}.tmp"  # name used before the token
    old_style.write_bytes(b"half")
    load_project(tmp_path / "p.ugpcl")
    assert not stale.exists()
    assert not old_style.exists()


def test_temp_of_a_running_save_is_kept(tmp_path: Path, live_pid: int, dead_pid: int) -> None:
    running = _temp(tmp_path, "p.ugpcl", live_pid)
    stale = _temp(tmp_path, "p.ugpcl", dead_pid)
    save_project(tmp_path / "p.ugpcl", _project())  # the old code deleted every temp here
    load_project(tmp_path / "p.ugpcl")
    assert running.read_bytes() == b"half a project"
    assert not stale.exists()


def test_temp_whose_pid_was_reused_is_removed(tmp_path: Path, live_pid: int) -> None:
    temp = _temp(tmp_path, "p.ugpcl", live_pid)
    an_hour_before_it_started = psutil.Process(live_pid).create_time() - 3600
    os.utime(temp, (an_hour_before_it_started, an_hour_before_it_started))
    assert remove_stale_temps(tmp_path) == [temp]


def test_start_up_cleanup_touches_only_project_temps(tmp_path: Path, dead_pid: int) -> None:
    stale = _temp(tmp_path, "p.ugpcl", dead_pid)
    foreign = _temp(tmp_path, "notes.txt", dead_pid)  # another program's temp file
    unrelated = tmp_path / ".p.ugpcl.tmp"
    unrelated.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [stale]
    assert foreign.exists() and unrelated.exists()
    assert remove_stale_temps(tmp_path / "missing") == []


def test_each_save_uses_its_own_temp_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str | Path, dst: str | Path) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr("ugpcl_engine.io.project_file.os.replace", spy)
    save_project(tmp_path / "p.ugpcl", _project())
    save_project(tmp_path / "p.ugpcl", _project())
    assert len(set(seen)) == 2
    assert all(name.startswith(f".p.ugpcl.{os.getpid()}.") for name in seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ugpcl"]
