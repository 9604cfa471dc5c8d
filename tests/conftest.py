"""Shared fixtures: the real chest CT sample (from the installed slicerio package)."""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per test process (and the children it spawns): on a shared 2-core
# machine, oversubscribed OpenMP threads made training tests 10x slower.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest

from ugpcl_engine.sample import SamplePaths, sample_paths


@pytest.fixture(scope="session")
def chest_ct() -> SamplePaths:
    """Paths of the bundled 7-class chest CT and its segmentation."""
    return sample_paths()


@pytest.fixture(autouse=True)
def autosave_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test journals unsaved documents into a folder of its own, never the user's."""
    folder = tmp_path_factory.mktemp("autosave")
    monkeypatch.setenv("UGPCL_STUDIO_AUTOSAVE_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def settings_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test keeps the app's QSettings in a folder of its own, never the user's."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("UGPCL_STUDIO_SETTINGS_DIR", str(folder))
    return folder


@pytest.fixture(autouse=True)
def log_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """The GUI started by a test (a subprocess too) logs into a folder of its own."""
    folder = tmp_path_factory.mktemp("logs")
    monkeypatch.setenv("UGPCL_STUDIO_LOG_DIR", str(folder))
    return folder
