"""Training children that die at the worst moments (spawned like the real one, numpy only).

``torn_child`` dies halfway through a large message; ``lock_holder`` holds whatever locks its
shared stop flag and preview slice have until it is killed; ``silent_child`` closes its line
and hangs; ``heir_child`` dies while a process it started keeps its line open.

``orphan_gui`` is a stand-in GUI process (``python child_faults.py RUNS_ROOT``): it starts the
scripted child through a real ``TrainingSupervisor`` on a ``sleep`` script, prints the child's
pid and waits to be killed.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.config import preset
from ugpcl_engine.training.events import Progress, Started
from ugpcl_engine.training.run_folder import SnapshotVolume
from ugpcl_engine.training.run_request import RunRequest
from ugpcl_engine.volume import LabelTable

PREVIEW_BYTES = 512 * 512 * 5  # a 512² preview: uint8 labels and float32 entropy


def torn_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Say Started, then write the first KiB of a 1.25 MiB message and die by SIGKILL."""
    queue.put(Started(10, "cpu", 1000, 2, 10, 32))
    header = struct.pack("!i", PREVIEW_BYTES)  # the Connection's frame: length, then bytes
    os.write(queue.fileno(), header + bytes(1024))
    os.kill(os.getpid(), signal.SIGKILL)


def silent_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Close the line without a final event, then hang."""
    queue._connection.close()
    time.sleep(600)


def heir_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Start a process that inherits the line's write end (pid in ``heir.pid``), then die by
    SIGKILL: the line stays open after the child is gone."""
    heir = subprocess.Popen(["sleep", "600"], pass_fds=[queue.fileno()])
    (Path(run_dir) / "heir.pid").write_text(str(heir.pid))
    os.kill(os.getpid(), signal.SIGKILL)


def _locks(*shared: Any) -> Iterator[Any]:
    for obj in shared:
        if hasattr(obj, "get_lock"):  # a synchronized multiprocessing Value
            yield obj.get_lock()
        if hasattr(obj, "_cond"):  # a multiprocessing Event's condition
            yield obj._cond


def lock_holder(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Take every lock the shared flag and slice have, say so, and wait to be killed."""
    for lock in _locks(flag, preview_index):
        lock.acquire()
    queue.put(Progress(1, 10, 0.1, 1.0, {"total": 1.0}, 0.01))
    time.sleep(600)


def tiny_run() -> tuple[list[SnapshotVolume], RunRequest]:
    """A 4×8×8 snapshot with one labeled slice (what the scripted children read), its request."""
    labeled = np.zeros(4, bool)
    labeled[1] = True
    labels = np.zeros((4, 8, 8), np.uint8)
    labels[1, 2:6, 2:6] = 1
    volume = SnapshotVolume(np.zeros((4, 8, 8), np.int16), labels, labeled)
    return [volume], RunRequest(preset("quick", 2, steps=5), LabelTable.default(2))


def orphan_gui(runs_root: Path) -> None:
    """Start the scripted child (``sleep``) through a supervisor, print its pid, wait."""
    from PySide6.QtCore import QCoreApplication
    from training_fakes import fake_child

    from app.jobs.training_supervisor import TrainingSupervisor

    app = QCoreApplication([])
    supervisor = TrainingSupervisor(target=fake_child)
    supervisor.start(runs_root / "run", *tiny_run())
    print(supervisor.pid, flush=True)
    time.sleep(600)
    app.quit()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    orphan_gui(Path(sys.argv[1]))
