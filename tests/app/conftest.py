"""Fixtures for the GUI tests: offscreen Qt, Qt warnings fail, no real dialogs or settings."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# the offscreen platform prints this for every top-level window; it says nothing about us
IGNORED_QT_MESSAGES = ("propagateSizeHints",)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Qt warnings fail every test of this folder (pytest-qt's log capture)."""
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).parent == here:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*IGNORED_QT_MESSAGES))


@pytest.fixture
def dialogs_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, list]:
    """Replace modal dialogs by recorders and the recent-files store by a temp file."""
    from PySide6.QtWidgets import QMessageBox

    from app.state.recent import RecentFiles
    from app.ui import dialogs, file_actions

    log: dict[str, list] = {"errors": [], "recover": [], "recover_answers": [], "unsaved": []}
    monkeypatch.setattr(
        dialogs, "show_error", lambda _p, title, msg, details=None: log["errors"].append(msg)
    )

    def recover(_parent: object, detail: str) -> str:
        log["recover"].append(detail)
        return log["recover_answers"].pop(0) if log["recover_answers"] else dialogs.RECOVER

    monkeypatch.setattr(dialogs, "ask_recover", recover)

    def unsaved(_parent: object, title: str) -> QMessageBox.StandardButton:
        log["unsaved"].append(title)
        return QMessageBox.StandardButton.Discard

    monkeypatch.setattr(dialogs, "ask_unsaved", unsaved)
    monkeypatch.setattr(
        file_actions, "recent_store", lambda: RecentFiles(tmp_path / "settings" / "recent.json")
    )
    return log


@pytest.fixture
def window(qtbot, dialogs_log):
    """A shown main window with no document."""
    from app.ui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    if w.ws.doc is not None:
        w.ws.doc.modified = False  # no unsaved-changes question on teardown
    w.files.tasks.wait()


@pytest.fixture
def small_image(tmp_path: Path) -> Path:
    """A 12×40×50 int16 NIfTI with a bright box inside."""
    from ugpcl_engine.io.volume_files import write_array
    from ugpcl_engine.volume import VolumeGeometry

    image = np.full((12, 40, 50), -800, np.int16)
    image[3:9, 10:30, 10:40] = 60
    path = tmp_path / "small.nii.gz"
    write_array(path, image, VolumeGeometry(image.shape, (2.0, 1.0, 1.0)))
    return path


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny 3-class network exported to ONNX in this process (model version "tiny0001",
    trained grid 6×40×48 at 2×1×1 mm); the same recipe as ``test_model_jobs``' model."""
    from tiny import tiny_checkpoint

    from ugpcl_engine.inference.model_metadata import TrainingGrid
    from ugpcl_engine.inference.onnx_export import export_onnx

    checkpoint = tiny_checkpoint("tiny0001")
    image = np.full((6, 40, 48), -1000, np.int16)
    image[:, 8:32, 6:42] = 40
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    grid = TrainingGrid((6, 40, 48), (2.0, 1.0, 1.0))
    export_onnx(checkpoint, path, training_grid=grid, parity_image_zyx=image)
    return path
