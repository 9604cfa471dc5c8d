"""The Train tab's plots (issue 16): one plot per loss on its own scale, the held-out Dice."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document, open_assist

from app.ui.training_panel import TrainingPanel
from app.ui.training_plots import LOSS_PENS
from ugpcl_engine.training.events import Progress, Validation


def points(curve) -> list[tuple[float, float]]:
    """A curve's (x, y) pairs (pyqtgraph gives None for an empty curve)."""
    xs, ys = curve.getData()
    return [] if xs is None else list(zip(xs, ys, strict=True))


@pytest.fixture
def panel(qtbot) -> TrainingPanel:
    p = TrainingPanel()
    qtbot.addWidget(p)
    return p


def test_a_dice_plot_and_one_plot_per_loss_with_tooltips(panel) -> None:
    plots = panel.plots.plots()
    assert list(plots) == ["dice", *LOSS_PENS]
    assert set(panel.curves) == set(LOSS_PENS)
    dice_tip = plots["dice"].toolTip()
    assert "never sees its labels" in dice_tip and "from 0" in dice_tip and "to 1" in dice_tip
    assert plots["dice"].getAxis("left").toolTip() == dice_tip
    assert plots["dice"].viewRange()[1][0] < 0.0 and plots["dice"].viewRange()[1][1] > 1.0
    for key in LOSS_PENS:
        tip = plots[key].toolTip()
        assert "dimensionless" in tip and plots[key].getAxis("left").toolTip() == tip
    assert "Contrastive loss" in plots["contrast"].toolTip()
    assert "step" in panel.plots.toolTip()


def test_each_loss_keeps_its_own_scale_on_one_step_axis(panel, qtbot) -> None:
    losses = {
        "sup": [(10, 1.0), (20, 0.5), (30, 0.25)],
        "con": [(10, 0.02), (20, 0.01), (30, 0.005)],
        "contrast": [(20, 6.0), (30, 5.5)],
        "rot": [(10, 1.4), (20, 1.3), (30, 1.2)],
    }
    dice = [(15, 0.3), (30, 0.7)]
    panel.show()  # the views fit their data when they are laid out
    qtbot.waitExposed(panel)
    panel.loss_source, panel.dice_source = (lambda: losses), (lambda: dice)
    panel.mark_losses_dirty()
    panel.redraw_losses()
    for key, series in losses.items():
        assert points(panel.curves[key]) == series
    assert points(panel.dice_curve) == dice
    plots = panel.plots.plots()
    qtbot.waitUntil(lambda: plots["con"].viewRange()[1][1] < 0.1)  # not stretched to 6
    assert plots["contrast"].viewRange()[1][0] > 1.0
    x_range = plots["dice"].viewRange()[0]
    assert x_range[0] <= 0 and 30 <= x_range[1] < 32
    assert all(plots[key].viewRange()[0] == x_range for key in LOSS_PENS)  # linked


def test_redraw_only_when_new_numbers_arrived(panel) -> None:
    calls: list[int] = []
    panel.loss_source = lambda: calls.append(1) or {"sup": [(1, 0.5)]}  # type: ignore[func-returns-value]
    panel.redraw_losses()
    assert calls == []  # nothing new
    panel.mark_losses_dirty()
    panel.redraw_losses()
    panel.redraw_losses()
    assert calls == [1]
    assert points(panel.dice_curve) == []  # no dice source: an empty Dice plot


def test_fake_events_reach_the_plots_through_the_session(qtbot, window, tmp_path, monkeypatch):
    assist = open_assist(window, tmp_path / "runs", monkeypatch, box_document((1, 4, 7, 10)))
    session, panel = assist.session, assist.panel
    session.begin_run((0,))
    for step in (10, 20):
        session.apply(Progress(step, 40, 1.0, 1.0, {"sup": 1.0 / step, "contrast": 5.0}, 0.01))
        session.apply(Validation(step, 4, step / 40))
    panel.redraw_losses()  # what the timer does
    assert points(panel.dice_curve) == [(10, 0.25), (20, 0.5)]
    assert points(panel.curves["contrast"]) == [(10, 5.0), (20, 5.0)]
    assert "Held-out slice 4" in panel.holdout.text() and "0.50" in panel.holdout.text()
    session.begin_run((0,))  # a new run starts with empty curves
    panel.redraw_losses()
    assert points(panel.dice_curve) == []


def test_a_run_with_a_held_out_slice_plots_its_dice(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt

    assist = open_assist(
        window, tmp_path / "runs", monkeypatch, box_document((1, 4, 7, 10)), refine=False
    )
    (assist.training.runs_root / "dice.txt").write_text("0.75")
    try:
        with qtbot.waitSignal(assist.training.result_ready, timeout=20000):
            qtbot.mouseClick(assist.panel.start_button, Qt.MouseButton.LeftButton)
        assert assist.session.holdout_dice == [(6, 0.75)]  # the fake child checks once, at the end
        assist.panel.redraw_losses()
        assert points(assist.panel.dice_curve) == [(6, 0.75)]
    finally:
        assist.supervisor.shutdown(2)
