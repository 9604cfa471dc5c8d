"""The assist loop's controllers and the background jobs run without widgets (QtCore only).

import-linter forbids whole external packages only (pyproject's contracts keep pyqtgraph and
``app.ui`` out); this test checks the PySide6 modules: a fresh process builds the whole loop
headless on a ``QCoreApplication``, opens a document and loads neither QtWidgets nor QtGui.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = """
import sys
from PySide6.QtCore import QCoreApplication
import app.assist.loop, app.assist.refining, app.assist.review, app.assist.run_plan
import app.assist.training, app.assist.versions, app.jobs.model_jobs, app.jobs.tasks
from app.assist.loop import AssistLoop
from app.jobs.tasks import TaskRunner
from app.jobs.training_supervisor import TrainingSupervisor
from app.state.files import load_sample
from app.state.workspace import Workspace

qt = QCoreApplication([])
ws = Workspace()
loop = AssistLoop(ws, TaskRunner(), TrainingSupervisor(), runs_root=__import__("pathlib").Path("."))
ws.set_document(load_sample())
loop.review.set_label_check(True)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pyqtgraph", "PySide6"))
print(" ".join(loaded))
ws.keeper.close()
"""


def test_the_assist_loop_runs_without_widgets(tmp_path: Path) -> None:
    root = str(Path(__file__).resolve().parents[2])
    env = {
        **os.environ,
        "PYTHONPATH": root,
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CODE],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    loaded = done.stdout.split()
    assert "PySide6.QtCore" in loaded
    assert not [m for m in loaded if m.startswith(("PySide6.QtWidgets", "PySide6.QtGui"))]
    assert not [m for m in loaded if m.startswith("pyqtgraph")]
