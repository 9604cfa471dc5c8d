"""Run folders are scratch: what of them is deleted, and when (numpy-free, torch-free).

A run folder holds copies of the volumes (the snapshot) besides the run's results. The copies
are deleted as soon as a run ends (``drop_snapshot``); a run that ended without a model keeps
only its small text files (``discard_run``: ``request.json``, ``error.log``). The results of a
finished run stay while the app that made it runs: its model versions read them from there.

Each app process puts its run folders in a *runs root* of its own under the temporary
directory (``claim_runs_root``), next to a lock file that the process holds as long as it
lives (the operating system releases it when the process dies, however it dies). The first
claim of a process removes the roots whose lock is free: those of app processes that are gone
(a crash, a kill, a quit). What a user keeps is never there: saving a project copies the model
in use beside the project and stores its results in it (``app.state.version_store``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from ugpcl_engine.training.run_folder import RunFolder

ROOT_PREFIX = "ugpcl-runs-"
LOCK_SUFFIX = ".lock"
LEGACY_AGE_S = 3600.0
"""A root without a lock file (made before roots had one) is removed when unchanged this long."""
BULKY_SUFFIXES = (".npy", ".pt")

_swept: set[Path] = set()
_claimed: list[RunsRoot] = []


@dataclass(frozen=True)
class RunsRoot:
    """A folder for the run folders of this process, locked while the process lives.

    Attributes:
        path: the folder.
        lock: the held lock on ``path`` + ``.lock`` (released by the OS when the process dies).
    """

    path: Path
    lock: FileLock


def claim_runs_root(parent: Path | None = None) -> RunsRoot:
    """Create this process's runs root under ``parent`` and lock it for the process's life.

    The first claim per ``parent`` in a process first removes the roots of dead processes
    (``sweep_stale_roots``), so nothing a project opened later could point at is removed under it.

    Args:
        parent: where roots go (default: the temporary directory).

    Returns:
        The new root (kept referenced here, so its lock is held until the process ends).
    """
    where = Path(parent or tempfile.gettempdir()).absolute()
    if where not in _swept:
        _swept.add(where)
        sweep_stale_roots(where)
    handle, lock_name = tempfile.mkstemp(prefix=ROOT_PREFIX, suffix=LOCK_SUFFIX, dir=where)
    os.close(handle)
    lock = _lock(Path(lock_name))
    lock.acquire(timeout=10)  # a sweeper of another process may hold it for a moment
    # the folder comes after the lock: a folder with a free lock is never one being made
    root = RunsRoot(Path(lock_name[: -len(LOCK_SUFFIX)]), lock)
    root.path.mkdir()
    _claimed.append(root)
    return root


def sweep_stale_roots(parent: Path) -> list[Path]:
    """Remove the runs roots under ``parent`` whose owning process is gone.

    A root whose lock another live process (or this one) holds is left alone. A root without a
    lock file is removed when nothing in it changed for ``LEGACY_AGE_S``.

    Args:
        parent: the folder holding the roots.

    Returns:
        The roots removed.
    """
    removed = []
    for folder in sorted(parent.glob(ROOT_PREFIX + "*")):
        if not folder.is_dir() or folder.is_symlink():
            continue
        lock_path = folder.with_name(folder.name + LOCK_SUFFIX)
        if lock_path.exists() and _remove_if_free(folder, lock_path):
            removed.append(folder)
        elif not lock_path.exists() and time.time() - _newest_change(folder) > LEGACY_AGE_S:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def drop_snapshot(run_dir: Path) -> None:
    """Delete the volume copies of a run that ended (the child read them at its start).

    Args:
        run_dir: the run folder (its ``request.json`` says how many volumes).
    """
    folder = RunFolder(run_dir)
    for k in range(folder.volume_count()):
        for path in folder.snapshot(k):
            _unlink_quietly(path)


def discard_run(run_dir: Path) -> None:
    """Delete the bulky files of a run that gave no model: volume copies, partial results and
    checkpoints. Small text files (``request.json``, ``error.log``, which a failure message
    may name) stay.

    Args:
        run_dir: the run folder (missing: nothing to do).
    """
    if not run_dir.is_dir():
        return
    for path in run_dir.iterdir():
        if path.suffix in BULKY_SUFFIXES and path.is_file():
            _unlink_quietly(path)


def _lock(path: Path) -> FileLock:
    # a soft lock (a file's existence) is not released by a dying process: refuse to fall back
    return FileLock(path, thread_local=False, fallback_to_soft=False)


def _remove_if_free(folder: Path, lock_path: Path) -> bool:
    lock = _lock(lock_path)
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        return False  # its process lives (or the lock cannot be taken): keep it
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        lock.release()
    _unlink_quietly(lock_path)
    return True


def _newest_change(folder: Path) -> float:
    try:
        times = [folder.stat().st_mtime]
    except OSError:  # removed meanwhile (another process's sweep)
        return time.time()
    for path in folder.rglob("*"):
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    return max(times)


def _unlink_quietly(path: Path) -> None:
    # still open elsewhere (Windows): the next start's sweep removes it
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)
