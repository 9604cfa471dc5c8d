"""The training supervisor against children that die badly (issue 14: items 1, 5 and 11).

A child killed halfway through a message, or while holding a shared lock, must be reported as
dead without the GUI thread ever waiting on it; a killed GUI must not leave its child running;
a run's volume copies must not outlive the run. Each test has a generous timeout: a GUI thread
blocked on the child fails it instead of hanging the suite.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from child_faults import heir_child, lock_holder, silent_child, tiny_run, torn_child
from training_fakes import fake_child

from app.jobs import training_supervisor
from app.jobs.training_supervisor import TrainingSupervisor
from ugpcl_engine.training.events import Progress

HERE = Path(__file__).parent
REPO = HERE.parent.parent


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A runs root whose ``script.txt`` the scripted child (``training_fakes``) follows."""
    root = tmp_path / "runs"
    root.mkdir()
    return root


def start(qtbot, runs: Path, target, script: str = "ok") -> TrainingSupervisor:
    """A supervisor running ``target`` on a tiny snapshot in ``runs/run``."""
    (runs / "script.txt").write_text(script)
    supervisor = TrainingSupervisor(target=target, poll_ms=20, grace_s=5.0)
    supervisor.start(runs / "run", *tiny_run())
    return supervisor


@pytest.mark.timeout(60)
def test_a_child_killed_halfway_through_a_large_message_is_reported(qtbot, runs) -> None:
    supervisor = start(qtbot, runs, torn_child)
    line = supervisor.events
    assert line is not None
    with qtbot.waitSignal(supervisor.failed, timeout=10000) as blocker:
        pass  # the poll timer must dispatch Started, then find the torn message and the death
    assert "killed (signal 9)" in blocker.args[0] and "labels are unchanged" in blocker.args[0]
    assert line.torn, "the message was cut: the line broke inside it"
    assert not supervisor.running
    supervisor.poll()  # nothing left to wait on: returns at once


@pytest.mark.timeout(60)
def test_stop_and_a_slice_change_never_wait_on_a_child_that_died_holding_a_lock(
    qtbot, runs
) -> None:
    supervisor = start(qtbot, runs, lock_holder)
    with qtbot.waitSignal(
        supervisor.reported, timeout=10000, check_params_cb=lambda e: isinstance(e, Progress)
    ):
        pass  # the child holds every lock its shared values have
    assert supervisor.pid is not None
    os.kill(supervisor.pid, signal.SIGKILL)  # killed holding them (not seen by the GUI yet)
    supervisor.set_preview_slice(3)
    supervisor.stop()
    with qtbot.waitSignal(supervisor.failed, timeout=10000) as blocker:
        pass
    assert "killed (signal 9)" in blocker.args[0]


@pytest.mark.timeout(60)
def test_a_child_that_closes_its_line_and_hangs_is_ended(qtbot, runs, monkeypatch) -> None:
    monkeypatch.setattr(training_supervisor, "QUIET_S", 0.3)
    supervisor = start(qtbot, runs, silent_child)
    with qtbot.waitSignal(supervisor.failed, timeout=20000) as blocker:
        pass
    assert "ended by SIGTERM" in blocker.args[0] and not supervisor.running


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX fds")
@pytest.mark.timeout(60)
def test_a_dead_child_is_reported_while_a_process_it_started_holds_its_line(
    qtbot, runs, monkeypatch
) -> None:
    monkeypatch.setattr(training_supervisor, "QUIET_S", 0.3)
    supervisor = start(qtbot, runs, heir_child)
    try:
        with qtbot.waitSignal(supervisor.failed, timeout=20000) as blocker:
            pass
        assert "killed (signal 9)" in blocker.args[0] and not supervisor.running
    finally:
        heir = runs / "run" / "heir.pid"
        if heir.exists():
            os.kill(int(heir.read_text()), signal.SIGKILL)


def test_a_finished_run_keeps_its_results_but_not_the_volume_copies(qtbot, runs) -> None:
    supervisor = start(qtbot, runs, fake_child)
    with qtbot.waitSignal(supervisor.finished, timeout=20000) as blocker:
        pass
    run_dir = blocker.args[0].run_dir
    kept = sorted(p.name for p in run_dir.iterdir())
    assert not {"image.npy", "labels.npy", "labeled.npy"} & set(kept)
    for name in ("model.pt", "prediction.npy", "uncertainty.npy", "result.json", "request.json"):
        assert name in kept


@pytest.mark.parametrize("script", ["fail", "crash"])
def test_a_run_without_a_model_keeps_only_its_small_files(qtbot, runs, script: str) -> None:
    supervisor = start(qtbot, runs, fake_child, script)
    with qtbot.waitSignal(supervisor.failed, timeout=20000):
        pass
    kept = sorted(p.suffix for p in (runs / "run").iterdir())
    assert ".json" in kept and ".npy" not in kept and ".pt" not in kept


def test_the_assist_loop_removes_run_roots_of_gone_processes_at_start(
    window, tmp_path: Path, monkeypatch
) -> None:
    import tempfile

    from filelock import FileLock

    from app.ui.assist import install_assist

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    roots = {}
    for name in ("gone", "live"):  # a root and its lock file, as an app process leaves them
        roots[name] = tmp_path / f"ugpcl-runs-{name}"
        (roots[name] / "v001-try1").mkdir(parents=True)
        (roots[name] / "v001-try1" / "image.npy").write_bytes(bytes(1000))
        (tmp_path / f"ugpcl-runs-{name}.lock").touch()
    held = FileLock(tmp_path / "ugpcl-runs-live.lock", thread_local=False)
    held.acquire()  # as the live app process that owns it does
    try:
        assist = install_assist(window)
        assert not roots["gone"].exists(), "the root of a gone process is removed"
        assert (roots["live"] / "v001-try1" / "image.npy").is_file()
        assert assist.training.runs_root.is_dir() and assist.training.runs_root.parent == tmp_path
    finally:
        held.release()


def _gone(pid: int) -> bool:
    """True when ``pid`` has exited (a zombie nobody reaps counts as exited)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.timeout(120)
def test_the_child_exits_when_the_gui_is_killed(runs: Path) -> None:
    (runs / "script.txt").write_text("sleep")  # the child would sleep for 10 minutes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(HERE)])}
    command = [sys.executable, str(HERE / "child_faults.py"), str(runs)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, env=env, text=True) as gui:
        assert gui.stdout is not None
        child = int(gui.stdout.readline())
        try:
            seen = runs / "run" / "seen.json"  # written by the child before it sleeps
            assert _wait(seen.exists, 60), "the child did not start"
            gui.kill()
            gui.wait(10)
            assert _wait(lambda: _gone(child), 10), "the training child outlived the killed GUI"
        finally:
            gui.kill()
            if not _gone(child):
                os.kill(child, signal.SIGKILL)


def _wait(condition, limit_s: float) -> bool:
    """Check ``condition`` every 50 ms for up to ``limit_s`` seconds; its last value."""
    deadline = time.monotonic() + limit_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())
