"""The reliability benchmark's own parts: its classifications can fail, and one killed painting
session during a save loses nothing (issue 14)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from app.benchmarks import reliability


def test_an_intact_journal_is_identical_and_a_changed_record_is_a_silent_corruption(
    tmp_path: Path,
) -> None:
    path = tmp_path / "j.journal"
    want = reliability._journal(path, seed=3)
    assert reliability.classify_journal(path, want) == "identical"
    seq, first = next((s, r) for s, r in want.items() if hasattr(r, "values_zyx"))
    other = dict(want)
    other[seq] = replace(first, values_zyx=np.asarray(first.values_zyx) + 1)
    assert reliability.classify_journal(path, other) == "silent_corruption"
    path.write_bytes(b"not a journal at all")
    assert reliability.classify_journal(path, want) == "refused"


def test_journal_fuzz_counts_every_trial(tmp_path: Path) -> None:
    got = reliability.journal_fuzz(40, seed=1, folder=tmp_path)
    outcomes = {k: v for k, v in got.items() if k != "journal_fuzz_tried"}
    assert got["journal_fuzz_tried"] == 40 == sum(outcomes.values())
    assert outcomes.get("silent_corruption", 0) == 0 and outcomes.get("crash", 0) == 0


def test_a_painting_session_killed_during_a_save_loses_nothing(tmp_path: Path) -> None:
    got = reliability.paint_kill(tmp_path, seed=2, during_save=True)
    assert got.strokes_applied > 0
    assert got.strokes_lost == 0 and got.marks_lost == 0
