"""Repository files other tools rely on: the sample manifest and the desktop entry."""

from __future__ import annotations

import json
from pathlib import Path

from ugpcl_engine.sample import SAMPLE_IMAGE, SAMPLE_LABELED_SLICES, SAMPLE_LABELS

ROOT = Path(__file__).resolve().parents[1]


def test_sample_manifest_matches_the_code() -> None:
    manifest = json.loads((ROOT / "resources" / "sample-data.json").read_text(encoding="utf-8"))
    chest = manifest["samples"][0]
    assert chest["image"] == SAMPLE_IMAGE and chest["labels"] == SAMPLE_LABELS
    assert tuple(chest["labeled_axial_slices"]) == SAMPLE_LABELED_SLICES


def test_desktop_entry_starts_the_console_script() -> None:
    entry = (ROOT / "packaging" / "ugpcl-studio.desktop").read_text(encoding="utf-8").splitlines()
    assert "[Desktop Entry]" in entry
    assert "Exec=ugpcl-studio %F" in entry
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'ugpcl-studio = "app.launcher:main"' in pyproject
