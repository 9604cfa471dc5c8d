"""Model tasks of the app: ONNX export in a child process, onnxruntime runs with progress/cancel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QThreadPool
from tiny import TINY_MODEL, tiny_checkpoint

from app.jobs.model_jobs import ExportTask, ModelRunResult, RunModelTask
from app.jobs.tasks import TaskRunner
from ugpcl_engine.checkpoint import Checkpoint, save_checkpoint
from ugpcl_engine.inference.model_metadata import ExportReport, TrainingGrid, partial_path
from ugpcl_engine.inference.onnx_export import export_onnx
from ugpcl_engine.inference.ort_segmenter import OrtSegmenter
from ugpcl_engine.training.run_folder import file_sha256

TINY = TINY_MODEL
GRID = TrainingGrid((6, 40, 48), (2.0, 1.0, 1.0))


def _checkpoint() -> Checkpoint:
    return tiny_checkpoint("jobs0001")


def _volume(z: int = 6) -> np.ndarray:
    image = np.full((z, 40, 48), -1000, np.int16)
    image[:, 8:32, 6:42] = 40
    image[:, 15:22, 20:28] = 500
    return image


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "tiny.onnx"
    export_onnx(_checkpoint(), path, training_grid=GRID, parity_image_zyx=_volume())
    return path


def _start(task: RunModelTask | ExportTask) -> None:
    QThreadPool.globalInstance().start(task)


def test_run_task_segments_with_progress(qtbot, model: Path) -> None:
    task = RunModelTask(model, _volume(), spacing_zyx=GRID.spacing_zyx, device="cpu", batch_size=4)
    seen: list[tuple[int, int]] = []
    task.signals.progress.connect(lambda d, t: seen.append((d, t)))
    with qtbot.waitSignal(task.signals.finished, timeout=20000) as blocker:
        _start(task)
    result = blocker.args[0]
    assert isinstance(result, ModelRunResult)
    assert result.labels_zyx.shape == (6, 40, 48) and result.labels_zyx.dtype == np.uint8
    assert result.entropy_zyx.dtype == np.float32
    assert result.provider == "CPUExecutionProvider" and result.model_version == "jobs0001"
    expected, _ = OrtSegmenter(model, "cpu").segment(_volume())
    assert np.array_equal(result.labels_zyx, expected)
    qtbot.waitUntil(lambda: seen[-1:] == [(6, 6)], timeout=2000)


def test_run_task_cancel_and_bad_model(qtbot, model: Path, tmp_path: Path) -> None:
    task = RunModelTask(model, _volume(), device="cpu")
    task.cancel()
    with qtbot.waitSignal(task.signals.cancelled, timeout=5000):
        _start(task)
    running = RunModelTask(model, _volume(60), device="cpu", batch_size=1)
    running.signals.progress.connect(lambda _d, _t: running.cancel())
    with qtbot.waitSignal(running.signals.cancelled, timeout=20000):
        _start(running)
    text = tmp_path / "m.onnx"
    text.write_text("no model")
    bad = RunModelTask(text, _volume())
    with qtbot.waitSignal(bad.signals.failed, timeout=5000) as blocker:
        _start(bad)
    assert "not a readable ONNX model" in blocker.args[0]


def test_run_task_grid_warning_or_failure(qtbot, model: Path) -> None:
    lenient = RunModelTask(model, _volume(), spacing_zyx=(2.0, 5.0, 5.0), device="cpu")
    warnings: list[str] = []
    lenient.signals.warning.connect(warnings.append)
    with qtbot.waitSignal(lenient.signals.finished, timeout=20000):
        _start(lenient)
    assert len(warnings) == 1 and "very different grid" in warnings[0]
    strict = RunModelTask(model, _volume(), spacing_zyx=(2.0, 5.0, 5.0), strict=True)
    with qtbot.waitSignal(strict.signals.failed, timeout=20000) as blocker:
        _start(strict)
    assert "very different grid" in blocker.args[0]


def test_the_runner_cancels_the_stale_run(qtbot, model: Path) -> None:
    jobs = TaskRunner()
    stale = RunModelTask(model, _volume(200), device="cpu", batch_size=1)
    fresh = RunModelTask(model, _volume(), device="cpu")
    with qtbot.waitSignals([stale.signals.cancelled, fresh.signals.finished], timeout=30000):
        jobs.start(stale)
        jobs.start(fresh)
    assert jobs.current("run") is fresh
    assert jobs.wait()


def test_export_task_runs_in_a_child_process(qtbot, tmp_path: Path) -> None:
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, _checkpoint())
    out = tmp_path / "out" / "model.onnx"
    task = ExportTask(ckpt, out, training_grid=GRID, threads=1)
    with qtbot.waitSignal(task.signals.finished, timeout=120000) as blocker:
        _start(task)
    report = blocker.args[0]
    assert isinstance(report, ExportReport) and report.path == str(out)
    assert report.max_abs_diff_probs <= 1e-4 and report.max_abs_diff_entropy <= 1e-4
    assert OrtSegmenter(out, "cpu").metadata.training_grid == GRID
    assert task.sha256 == file_sha256(out)  # for the project's model records


def test_export_task_failures_and_cancel(qtbot, tmp_path: Path) -> None:
    missing = ExportTask(tmp_path / "nope.pt", tmp_path / "m.onnx")
    with qtbot.waitSignal(missing.signals.failed, timeout=5000) as blocker:
        _start(missing)
    assert "Checkpoint not found" in blocker.args[0]
    ckpt = tmp_path / "model.pt"
    save_checkpoint(ckpt, _checkpoint())
    out = tmp_path / "m.onnx"
    task = ExportTask(ckpt, out)
    with qtbot.waitSignal(task.signals.cancelled, timeout=20000):
        _start(task)
        task.cancel()
    assert not out.exists() and not partial_path(out).exists()


def test_run_task_never_loads_torch(model: Path) -> None:
    """A fresh GUI-side process runs a model through the task without importing torch."""
    code = f"""
import sys
import numpy as np
from PySide6.QtCore import QCoreApplication
from app.jobs.model_jobs import RunModelTask
app = QCoreApplication([])
image = np.zeros((3, 40, 48), np.int16)
task = RunModelTask({str(model)!r}, image, device="cpu")
results = []
task.signals.finished.connect(results.append)
task.run()  # on this thread: the signal is delivered directly
print(results[0].labels_zyx.shape, "torch" in sys.modules)
"""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert done.stdout.strip() == "(3, 40, 48) False"


def test_unexpected_errors_reach_the_user_as_one_message_for_both_kinds_of_task(qtbot) -> None:
    from app.jobs.tasks import Task

    class Broken(Task):
        kind = "broken"

        def work(self) -> object:
            raise RuntimeError("boom")

    task = Broken()
    with qtbot.waitSignal(task.signals.failed, timeout=5000) as blocker:
        QThreadPool.globalInstance().start(task)
    assert blocker.args[0] == (
        "Unexpected error (RuntimeError: boom). Your labels are unchanged; please report this."
    )

    runner, messages = TaskRunner(), []

    def fail() -> None:
        raise RuntimeError("bang")

    runner.submit("open", fail, lambda _: None, messages.append)
    qtbot.waitUntil(lambda: bool(messages), timeout=5000)
    assert messages == [
        "Unexpected error (RuntimeError: bang). Nothing was changed; please report this with "
        "the file that caused it."
    ]


def test_a_stale_call_is_dropped_and_busy_follows_the_fresh_one(qtbot) -> None:
    import threading

    runner, results = TaskRunner(), []
    release = threading.Event()
    runner.submit("open", lambda: release.wait(5) and "stale", results.append, results.append)
    runner.submit("open", lambda: "fresh", results.append, results.append)
    qtbot.waitUntil(lambda: results == ["fresh"], timeout=5000)
    assert not runner.busy("open")
    release.set()  # the stale call still finishes (file work is never interrupted)
    assert runner.wait()
    qtbot.wait(50)
    assert results == ["fresh"] and not runner.busy()
