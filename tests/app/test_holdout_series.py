"""Qt-free: the running job's held-out Dice series in ``TrainingSession`` (issue 16)."""

from __future__ import annotations

from app.state.training_session import TrainingSession
from ugpcl_engine import Progress, Validation


def test_each_validation_appends_one_point_and_is_announced() -> None:
    session = TrainingSession()
    heard: list[Validation] = []
    session.validated.connect(heard.append)
    session.begin_run((0,))
    for step, dice in ((20, 0.31), (40, 0.52), (60, 0.68)):
        session.apply(Validation(step, 4, dice))
    assert session.holdout_dice == [(20, 0.31), (40, 0.52), (60, 0.68)]
    assert [v.dice for v in heard] == [0.31, 0.52, 0.68]


def test_a_check_at_the_same_step_replaces_the_last_point() -> None:
    session = TrainingSession()
    session.begin_run((0,))
    session.apply(Validation(60, 4, 0.6))
    session.apply(Validation(60, 4, 0.7))  # the final prediction's check after a stop at 60
    assert session.holdout_dice == [(60, 0.7)]


def test_values_that_are_no_dice_are_not_kept() -> None:
    session = TrainingSession()
    session.begin_run((0,))
    for dice in (float("nan"), float("inf"), -0.1, 1.5):
        session.apply(Validation(10, 4, dice))
    session.apply(Validation(20, 4, 1.0))
    assert session.holdout_dice == [(20, 1.0)]


def test_a_new_run_and_a_new_document_start_an_empty_series() -> None:
    session = TrainingSession()
    session.begin_run((0,))
    session.apply(Validation(20, 4, 0.5))
    session.begin_run((0,))
    assert session.holdout_dice == []
    session.apply(Validation(20, 4, 0.5))
    session.reset()
    assert session.holdout_dice == []


def test_losses_and_dice_are_separate_series() -> None:
    session = TrainingSession()
    session.begin_run((0,))
    session.apply(Progress(10, 100, 1.0, 9.0, {"sup": 0.8, "contrast": 5.0}, 0.01))
    session.apply(Validation(10, 2, 0.4))
    assert session.losses["sup"] == [(10, 0.8)]
    assert session.losses["contrast"] == [(10, 5.0)]
    assert session.holdout_dice == [(10, 0.4)]
