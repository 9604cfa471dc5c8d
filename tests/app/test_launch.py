"""The launcher: the real program in a subprocess (``--sample --screenshot`` works and never
imports torch), and its routing of headless commands to the engine CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

import ugpcl_engine
from app import launcher

ROOT = Path(__file__).resolve().parents[2]


def test_sample_screenshot_without_torch(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.launcher",
            "--sample",
            "--screenshot",
            str(shot),
            "--report-imports",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "torch-imported=False" in done.stdout, done.stdout + done.stderr
    image = QImage(str(shot))
    assert image.width() > 800 and image.height() > 500
    assert "Traceback" not in done.stderr and "Fatal" not in done.stderr


def test_gui_refuses_unknown_option(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "app.launcher", "--no-such-flag"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "--no-such-flag" in done.stderr


def test_shortcuts_doc_matches_the_dialog() -> None:
    from app.ui.dialogs import shortcuts_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "SHORTCUTS.md"
    assert shortcuts_markdown() in doc.read_text(encoding="utf-8")


def test_screenshot_of_a_bad_file_reports_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"garbage")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "app.launcher", str(bad), "--screenshot", str(tmp_path / "s.png")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and "bad.nii.gz" in done.stderr
    assert (tmp_path / "s.png").exists()


def test_headless_commands_go_to_the_engine_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(launcher, "run_cli", lambda argv: seen.append(argv) or 7)
    assert launcher.main(["benchmark", "io", "--out", "x"]) == 7  # not a GUI benchmark
    assert launcher.main(["convert", "a", "b"]) == 7
    assert seen == [["benchmark", "io", "--out", "x"], ["convert", "a", "b"]]
    with pytest.raises(SystemExit) as stop:  # the real hand-over: the CLI's parser
        ugpcl_engine.run_cli(["train"])
    assert stop.value.code == 2
