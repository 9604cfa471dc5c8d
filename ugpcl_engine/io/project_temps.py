"""Temp files of atomic project saves: naming, and removing the ones whose writer is gone.

``save_project`` writes ``.<name>.<pid>.<token>.tmp`` beside the project and renames it over the
project when it is complete. A save killed half way leaves that temp file behind, as large as the
project. ``remove_stale_temps`` deletes such leftovers; it runs before each save and each time a
project is opened from a folder, and the app can call it at start for the folders it knows.

A temp file is stale only when its writer is gone: no process has the pid in its name, or the
process that has it now started after the temp file was last written (the pid was reused). A save
running in a second app instance is therefore never broken. Older versions named temps
``.<name>.<pid>.tmp``; those are recognised too.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

import psutil

PROJECT_SUFFIX = ".ugpcl"
_TEMP = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)(?:\.[0-9a-f]{8})?\.tmp$")
# create_time and st_mtime come from different clocks' roundings; a writer started at most
# this long after its own last write is still taken to be the writer
_CLOCK_SLACK_S = 1.0


def temp_path_for(path: Path) -> Path:
    """Return a fresh temp path beside ``path`` that names this process as its writer.

    Args:
        path: the project file a save will replace.

    Returns:
        ``<folder>/.<name>.<pid>.<8 hex digits>.tmp``; unique per call, so two saves in one
        process never share a temp file.
    """
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"


def remove_stale_temps(folder: str | Path, name: str | None = None) -> list[Path]:
    """Delete leftover save temps in ``folder`` whose writer process is gone.

    Best effort: files that cannot be inspected or deleted are left alone, and an unreadable
    folder gives an empty list.

    Args:
        folder: the folder of a project file.
        name: only temps of this project file name (``"p.ugpcl"``); None: the temps of every
            ``*.ugpcl`` file in the folder (other programs' ``.tmp`` files are never touched).

    Returns:
        The temp files deleted.
    """
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP.match(entry.name)
        if match is None or not _wanted(match.group("name"), name):
            continue
        if _writer_is_gone(entry, int(match.group("pid"))):
            with contextlib.suppress(OSError):
                entry.unlink()
                removed.append(entry)
    return removed


def _wanted(temp_of: str, name: str | None) -> bool:
    return temp_of == name if name is not None else temp_of.endswith(PROJECT_SUFFIX)


def _writer_is_gone(temp: Path, pid: int) -> bool:
    try:
        last_write = temp.stat().st_mtime
    except OSError:
        return False
    try:
        started = float(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        return True
    except (psutil.Error, OSError, ValueError, OverflowError):
        return False  # cannot tell (no access, odd pid): keep the file
    return bool(started > last_write + _CLOCK_SLACK_S)
