"""The launcher: the real program in a subprocess (``--sample --screenshot`` works and never
imports torch), and its routing (headless commands to the engine CLI; a GUI benchmark without
the benchmarks installed ends in the CLI's one line)."""

from __future__ import annotations

import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

import ugpcl_engine
from app import launcher
from app.launcher import APP_BENCHMARKS

ROOT = Path(__file__).resolve().parents[2]


def launch(tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -m app.launcher ARGS`` offscreen, in ``tmp_path``, with its own config folder."""
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHONPATH": str(ROOT),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.launcher", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_sample_screenshot_without_torch(tmp_path: Path) -> None:
    shot = tmp_path / "window.png"
    done = launch(tmp_path, "--sample", "--screenshot", str(shot), "--report-imports")
    assert done.returncode == 0, done.stderr
    assert "torch-imported=False" in done.stdout, done.stdout + done.stderr
    image = QImage(str(shot))
    assert image.width() > 800 and image.height() > 500
    assert "Traceback" not in done.stderr and "Fatal" not in done.stderr


def test_an_empty_start_loads_no_heavy_library(tmp_path: Path) -> None:
    """Starting the window without a file imports neither torch nor the libraries only some
    files need (pydicom for DICOM scans, highdicom, slicerio, ITK for fill between slices):
    pydicom alone cost 0.15 s and 34 MB at every start."""
    done = launch(tmp_path, "--screenshot", str(tmp_path / "empty.png"), "--report-imports")
    assert done.returncode == 0, done.stderr
    assert "heavy-imported=\n" in done.stdout, done.stdout + done.stderr


def test_gui_refuses_unknown_option(tmp_path: Path) -> None:
    done = launch(tmp_path, "--no-such-flag", timeout=60)
    assert done.returncode == 2 and "--no-such-flag" in done.stderr


def test_shortcuts_doc_matches_the_dialog() -> None:
    from app.ui.dialogs import shortcuts_markdown

    doc = Path(__file__).resolve().parents[2] / "docs" / "SHORTCUTS.md"
    assert shortcuts_markdown() in doc.read_text(encoding="utf-8")


def test_screenshot_of_a_bad_file_reports_on_stderr(tmp_path: Path) -> None:
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"garbage")
    done = launch(tmp_path, str(bad), "--screenshot", str(tmp_path / "s.png"))
    assert done.returncode == 2 and "bad.nii.gz" in done.stderr
    assert (tmp_path / "s.png").exists()


NOT_INSTALLED = (
    "ugpcl-studio benchmark: error: The benchmarks are not installed: "
    "pip install 'ugpcl-studio[benchmark]'\n"
)


@pytest.mark.parametrize("name", sorted(APP_BENCHMARKS))
def test_a_gui_benchmark_without_the_benchmarks_is_the_clis_one_line(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for module in [m for m in sys.modules if m.startswith("ugpcl_benchmarks.")]:
        monkeypatch.delitem(sys.modules, module)
    monkeypatch.setitem(sys.modules, "ugpcl_benchmarks", None)  # as if it were not installed
    assert launcher.main(["benchmark", name, "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == NOT_INSTALLED
    assert not (tmp_path / "out").exists()


def _fake_benchmark(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    def main(argv: list[str]) -> int:
        raise ModuleNotFoundError(f"No module named '{missing}'", name=missing)

    monkeypatch.setitem(sys.modules, "fake_app_bench", types.SimpleNamespace(main=main))
    monkeypatch.setitem(launcher.APP_BENCHMARKS, "fake", "fake_app_bench")


def test_a_gui_benchmark_missing_an_extra_package_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fake_benchmark(monkeypatch, "nilearn.datasets")
    assert launcher.main(["benchmark", "fake"]) == 2
    assert capsys.readouterr().err == (
        "ugpcl-studio benchmark: error: The fake benchmark needs 'nilearn' from the benchmark "
        "extra: pip install 'ugpcl-studio[benchmark]'\n"
    )


def test_a_gui_benchmark_missing_another_module_still_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_benchmark(monkeypatch, "typo")
    with pytest.raises(ModuleNotFoundError, match="typo"):
        launcher.main(["benchmark", "fake"])


def test_headless_commands_go_to_the_engine_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[list[str]] = []
    monkeypatch.setattr(launcher, "run_cli", lambda argv: seen.append(argv) or 7)
    assert launcher.main(["benchmark", "io", "--out", "x"]) == 7  # not a GUI benchmark
    assert launcher.main(["convert", "a", "b"]) == 7
    assert seen == [["benchmark", "io", "--out", "x"], ["convert", "a", "b"]]
    with pytest.raises(SystemExit) as stop:  # the real hand-over: the CLI's parser
        ugpcl_engine.run_cli(["train"])
    assert stop.value.code == 2


def test_version_is_answered_without_loading_qt(capsys: pytest.CaptureFixture[str]) -> None:
    qt_loaded = "PySide6.QtWidgets" in sys.modules
    assert launcher.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ugpcl-studio {ugpcl_engine.__version__}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = "from app import launcher; import sys; launcher.main(['--version']); "
    code += "print('qt-loaded', 'PySide6.QtWidgets' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["ugpcl-studio", ugpcl_engine.__version__, "qt-loaded", "False"]
    assert qt_loaded == ("PySide6.QtWidgets" in sys.modules)


def test_help_lists_every_headless_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from app.ui.main_window import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--help"])
    out = capsys.readouterr().out
    for command in launcher.HEADLESS_COMMANDS:
        assert f"\n  {command} " in out, command
    assert "--sample" in out and "--version" in out
