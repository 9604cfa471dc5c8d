"""Run folders are scratch (issue 14, item 11): volume copies go when a run ends, and the runs
roots of app processes that are gone go at the next start, never those of a live process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from filelock import FileLock

from ugpcl_engine.training.scratch import (
    LEGACY_AGE_S,
    claim_runs_root,
    discard_run,
    drop_snapshot,
    sweep_stale_roots,
)

REPO = Path(__file__).parent.parent.parent
CLAIM_AND_WAIT = (
    "import sys, numpy as np; from pathlib import Path\n"
    "from ugpcl_engine.training.scratch import claim_runs_root\n"
    "root = claim_runs_root(Path(sys.argv[1]))\n"
    "(root.path / 'v001-try1').mkdir()\n"
    "np.save(root.path / 'v001-try1' / 'image.npy', np.zeros((4, 8, 8)))\n"
    "print(root.path, flush=True)\n"
    "sys.stdin.read()\n"
)


def _run_folder(path: Path, volumes: int = 1) -> Path:
    """A run folder with a snapshot of ``volumes`` volumes and a finished run's results."""
    path.mkdir(parents=True)
    for k in range(volumes):
        suffix = "" if k == 0 else f"-{k}"
        for name in ("image", "labels", "labeled", "prediction", "uncertainty"):
            np.save(path / f"{name}{suffix}.npy", np.zeros(3))
    (path / "model.pt").write_bytes(b"weights")
    (path / "request.json").write_text(json.dumps({"volume_count": volumes}))
    (path / "error.log").write_text("Traceback")
    return path


def test_a_finished_run_loses_its_volume_copies_only(tmp_path: Path) -> None:
    run = _run_folder(tmp_path / "run", volumes=2)
    drop_snapshot(run)
    assert sorted(p.name for p in run.iterdir()) == [
        "error.log",
        "model.pt",
        "prediction-1.npy",
        "prediction.npy",
        "request.json",
        "uncertainty-1.npy",
        "uncertainty.npy",
    ]


def test_a_run_without_a_model_keeps_only_its_small_files(tmp_path: Path) -> None:
    run = _run_folder(tmp_path / "run", volumes=2)
    discard_run(run)
    assert sorted(p.name for p in run.iterdir()) == ["error.log", "request.json"]
    discard_run(tmp_path / "missing")  # nothing to do


def _stale_root(parent: Path, name: str) -> Path:
    """A root as a dead process leaves it: its lock file is there and nobody holds it."""
    root = parent / f"ugpcl-runs-{name}"
    _run_folder(root / "v001-try1")
    (parent / f"ugpcl-runs-{name}.lock").touch()
    return root


def test_the_first_claim_removes_the_roots_of_gone_processes_only(tmp_path: Path) -> None:
    stale = _stale_root(tmp_path, "gone")
    live = _stale_root(tmp_path, "live")
    held = FileLock(tmp_path / "ugpcl-runs-live.lock", thread_local=False)
    held.acquire()  # as a live app process holds its root's lock
    old = tmp_path / "ugpcl-runs-legacy-old"  # made before roots had locks, long untouched
    _run_folder(old / "v001-try1")
    then = time.time() - LEGACY_AGE_S - 60
    for path in [old, *old.rglob("*")]:
        os.utime(path, (then, then))
    recent = tmp_path / "ugpcl-runs-legacy-recent"
    _run_folder(recent / "v001-try1")
    try:
        mine = claim_runs_root(tmp_path)
        assert not stale.exists() and not (tmp_path / "ugpcl-runs-gone.lock").exists()
        assert not old.exists()
        assert live.is_dir() and recent.is_dir() and mine.path.is_dir()
        assert mine.path.parent == tmp_path and mine.path.name.startswith("ugpcl-runs-")
        assert sweep_stale_roots(tmp_path) == [], "this process's own root is live"
    finally:
        held.release()


def test_the_root_of_a_killed_process_is_removed_and_a_live_ones_kept(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", CLAIM_AND_WAIT, str(tmp_path)]
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "text": True, "env": env}
    with subprocess.Popen(command, **pipes) as killed, subprocess.Popen(command, **pipes) as live:
        assert killed.stdout is not None and live.stdout is not None
        killed_root = Path(killed.stdout.readline().strip())
        live_root = Path(live.stdout.readline().strip())
        assert (killed_root / "v001-try1" / "image.npy").is_file()
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        removed = sweep_stale_roots(tmp_path)
        assert removed == [killed_root] and not killed_root.exists()
        assert (live_root / "v001-try1" / "image.npy").is_file()
        live.communicate("", timeout=10)  # its stdin closes: it exits
    assert sweep_stale_roots(tmp_path) == [live_root]
