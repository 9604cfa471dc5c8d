"""Qt-free keep-refining decisions and the time budget's app-side overhead."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.state.model_version import ModelVersion
from app.state.refinement import Refinement, RefineSettings, default_budget, is_better
from app.state.training_session import TrainingSession

SETTINGS = RefineSettings("quick", "cpu", 60.0, (0,), "abc123abc123", 4)


def version(number: int, dice: float | None = None, mean_h: float = 0.1) -> ModelVersion:
    metrics = {"mean_uncertainty": mean_h}
    if dice is not None:
        metrics["holdout_dice"] = dice
    return ModelVersion(number, Path(f"/runs/v{number}"), "quick", 4, "abc", metrics)


def test_better_is_a_higher_holdout_dice_else_a_lower_mean_uncertainty() -> None:
    assert is_better({"holdout_dice": 0.8, "mean_uncertainty": 0.9}, {"holdout_dice": 0.7})
    # the held-out Dice decides even when the uncertainty says otherwise
    assert not is_better(
        {"holdout_dice": 0.6, "mean_uncertainty": 0.01},
        {"holdout_dice": 0.7, "mean_uncertainty": 0.5},
    )
    assert not is_better({"holdout_dice": 0.7}, {"holdout_dice": 0.7})  # equal: no gain
    assert is_better({"mean_uncertainty": 0.1}, {"mean_uncertainty": 0.2})
    assert not is_better({"mean_uncertainty": 0.3}, {"mean_uncertainty": 0.2})
    assert not is_better({"steps": 5.0}, {"steps": 3.0})  # nothing to compare


def test_a_better_round_replaces_the_best_and_a_worse_one_ends_refining() -> None:
    refine = Refinement(max_rounds=3)
    base = version(1, dice=0.70)
    refine.begin(base, SETTINGS)
    first = refine.next_round()
    assert first is not None and first.number == 1 and first.init == base.checkpoint
    assert refine.next_round() is None  # one round at a time
    verdict = refine.judge(version(2, dice=0.75))
    assert verdict.improved and verdict.more and refine.best is not None
    assert refine.best.number == 2 and "v2 is better" in verdict.text
    second = refine.next_round()
    assert second is not None and second.init == Path("/runs/v2/model.pt")  # from the best
    verdict = refine.judge(version(3, dice=0.72))
    assert not verdict.improved and not verdict.more
    assert refine.best.number == 2 and "v2 stays shown" in verdict.text
    assert not refine.active and "did not improve" in refine.reason
    assert refine.next_round() is None


def test_refining_ends_after_max_rounds() -> None:
    refine = Refinement(max_rounds=2)
    refine.begin(version(1, mean_h=0.5), SETTINGS)
    verdicts = []
    for number, mean_h in ((2, 0.4), (3, 0.3)):
        assert refine.next_round() is not None
        verdicts.append(refine.judge(version(number, mean_h=mean_h)))
    assert [(v.improved, v.more) for v in verdicts] == [(True, True), (True, False)]
    assert refine.next_round() is None and "after 2 rounds" in refine.reason


def test_stopping_keeps_the_best_and_still_judges_the_running_round() -> None:
    refine = Refinement()
    refine.begin(version(1, dice=0.7), SETTINGS)
    assert refine.next_round() is not None
    assert refine.stop("You stopped refining.")
    assert not refine.active and refine.in_round
    verdict = refine.judge(version(2, dice=0.6))  # the model the stopped round kept
    assert not verdict.improved and not verdict.more and refine.best.number == 1
    assert refine.next_round() is None
    assert not refine.stop("again")  # nothing left to stop
    with pytest.raises(RuntimeError):
        refine.judge(version(3, dice=0.9))  # no round runs


def test_a_stopped_round_that_is_better_is_used_but_refining_stays_over() -> None:
    refine = Refinement()
    refine.begin(version(1, dice=0.7), SETTINGS)
    refine.next_round()
    refine.stop("Labels changed.")
    verdict = refine.judge(version(2, dice=0.8))
    assert verdict.improved and not verdict.more and refine.best.number == 2
    assert "Labels changed." in verdict.text


def test_a_lost_round_ends_nothing_by_itself_but_frees_the_slot() -> None:
    refine = Refinement()
    refine.begin(version(1), SETTINGS)
    refine.next_round()
    refine.abandon_round()
    assert refine.active and not refine.in_round
    assert refine.next_round() is not None  # the caller decides to stop (it does)


def test_presets_bring_their_default_budget() -> None:
    assert default_budget("quick") == 60  # the engine's quick preset: a model within a minute
    assert default_budget("paper") == 0  # no budget: its 10 000 steps


def test_a_version_added_but_not_made_current_is_listed_not_shown() -> None:
    session = TrainingSession()
    first, second, third = version(1), version(2), version(3)
    session.add_version(first)
    session.add_version(second, make_current=False)
    assert session.versions == [first, second]
    assert session.current_version is first and session.shown_version is first
    assert session.compare is None
    session.add_version(third)
    assert session.current_version is third and session.compare == 0
