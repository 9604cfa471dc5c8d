"""The training curves of the Train tab: one small plot per loss and the held-out Dice.

Stacked plots, each on its own y scale, sharing one step axis (linked x): the contrastive term
is several times larger than the others, so on one shared axis it flattened them into lines at
zero. Each plot keeps real values (a normalised view, e.g. each curve divided by its first
value, would hide the magnitudes and make noise in a small term look like a trend; a log axis
is unfamiliar to most readers). The held-out Dice sits on top on a fixed 0–1 axis: it is the
one number that says how good the model is, and higher is better where the losses go down.
Every plot and axis carries a tooltip with its units and meaning.

The widget holds no state: ``set_data`` draws what it is given (the panel calls it from its
redraw timer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pyqtgraph as pg
from PySide6.QtWidgets import QWidget

Series = Sequence[tuple[int, float]]

LOSS_PENS = {
    "sup": (80, 170, 255),
    "con": (255, 170, 60),
    "contrast": (120, 220, 120),
    "rot": (230, 90, 200),
}
LOSS_NAMES = {
    "sup": "supervised",
    "con": "consistency",
    "contrast": "contrastive",
    "rot": "rotation",
}
DICE_PEN = (40, 40, 40)
LOSS_TIPS = {
    "sup": "Supervised loss: how far the predictions on your labeled slices are from your "
    "labels (half Dice loss, half cross-entropy, both decoders). Falls as the model learns "
    "your labels.",
    "con": "Consistency loss: how much the model's two decoders disagree on the unlabeled "
    "slices (mean squared difference of their probabilities). Low means the two agree.",
    "contrast": "Contrastive loss: how well pixel features of the same structure group "
    "together and apart from other structures, on confident pixels only (InfoNCE). It starts "
    "after a warm-up and stays larger than the other terms; watch its trend, not its size.",
    "rot": "Rotation loss: how well the model tells by how many quarter turns each slice was "
    "rotated (cross-entropy), a side task that makes its features robust to orientation.",
}
LOSS_UNITS = (
    "Losses are dimensionless (no units); lower is better. Each plot has its own scale. "
    "Numbers are averaged over the steps since the previous point."
)
DICE_TIP = (
    "Dice on the held-out slice: one of your labeled slices is left out of training, so the "
    "model never sees its labels; this is the overlap of the model's prediction with your "
    "labels there, from 0 (none) to 1 (identical). Higher is better. Measured a few times "
    "while training and once on the final model (needs at least 4 labeled slices)."
)
STEP_TIP = "Training steps: one step is one update of the model on a small batch of slices."
PLOT_HEIGHT = 62  # pixels per small plot (the dock is a narrow column)


class TrainingPlots(pg.GraphicsLayoutWidget):
    """The held-out Dice plot above one plot per loss, all on one step axis.

    Attributes:
        dice_plot: the Dice plot (fixed 0–1); dice_curve: its curve.
        loss_plots: per loss key, its plot; curves: per loss key, its curve.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground("w")
        self.setMinimumHeight(PLOT_HEIGHT * (1 + len(LOSS_PENS)))
        self.setToolTip(STEP_TIP)
        self.ci.layout.setSpacing(2)
        self.dice_plot = self._small_plot(0, "held-out Dice (0–1, higher is better)", DICE_TIP)
        self.dice_plot.setYRange(0.0, 1.0, padding=0.1)
        self.dice_plot.enableAutoRange(y=False)
        dice_axis = self.dice_plot.getAxis("left")
        # grid lines at 0, ½ and 1; so small a plot has room for the middle number only (the
        # title says 0–1)
        dice_axis.setTicks([[(v, f"{v:g}") for v in (0.0, 0.5, 1.0)]])
        self.dice_curve = self.dice_plot.plot(
            [],
            [],
            pen=pg.mkPen(DICE_PEN, width=2),
            symbol="o",
            symbolSize=5,
            symbolBrush=DICE_PEN,
            symbolPen=None,
        )
        self.loss_plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for row, (key, pen) in enumerate(LOSS_PENS.items(), start=1):
            tip = f"{LOSS_TIPS[key]}\n\n{LOSS_UNITS}"
            plot = self._small_plot(row, f"{LOSS_NAMES[key]} loss", tip, pen)
            plot.setXLink(self.dice_plot)
            self.loss_plots[key] = plot
            self.curves[key] = plot.plot([], [], pen=pg.mkPen(pen, width=2))
        bottom = self.loss_plots[next(reversed(LOSS_PENS))]
        bottom.getAxis("bottom").setStyle(showValues=True)
        bottom.setLabel("bottom", "step")
        bottom.getAxis("bottom").setToolTip(STEP_TIP)

    def _small_plot(
        self, row: int, title: str, tip: str, colour: tuple[int, int, int] = DICE_PEN
    ) -> pg.PlotItem:
        plot = self.addPlot(row=row, col=0)
        # the name as a small title in the curve's colour: a rotated axis label is longer
        # than a small plot is high
        plot.setTitle(title, size="8pt", color=colour)
        plot.layout.setRowFixedHeight(0, 16)  # the title's row: a line of small text
        left = plot.getAxis("left")
        left.setWidth(40)  # the plots line up whatever their numbers
        left.enableAutoSIPrefix(False)  # no "(x0.001)" squeezed beside the numbers
        left.setStyle(maxTickLevel=0, maxTextLevel=0)  # a small plot has room for few numbers
        left.setToolTip(tip)
        plot.getAxis("bottom").setStyle(showValues=False)
        plot.setToolTip(tip)
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.enableAutoRange(x=False)
        plot.showGrid(x=True, y=True, alpha=0.15)
        return plot

    def plots(self) -> dict[str, pg.PlotItem]:
        """Every plot, top to bottom: ``"dice"``, then the losses."""
        return {"dice": self.dice_plot, **self.loss_plots}

    def set_data(self, losses: Mapping[str, Series], dice: Series) -> None:
        """Draw the loss series (per key: (step, value)) and the held-out Dice series.

        The shared step axis spans every series from 0 to the last step.
        """
        last = 0
        for key, points in losses.items():
            if key in self.curves:
                self.curves[key].setData([p[0] for p in points], [p[1] for p in points])
                last = max([last, *(p[0] for p in points)])
        self.dice_curve.setData([p[0] for p in dice], [p[1] for p in dice])
        last = max([last, *(p[0] for p in dice)])
        self.dice_plot.setXRange(0, max(last, 1), padding=0.02)
