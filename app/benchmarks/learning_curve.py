"""Draw the guided-selection learning curve from ``benchmarks/results/guided.json``.

``python -m app.benchmarks.learning_curve [JSON] [PNG]`` (defaults:
``benchmarks/results/guided.json`` → ``docs/guided_learning_curve.png``): mean Dice on the
slices not labeled vs the number of labeled slices, one line per strategy, one panel per volume,
rendered offscreen with pyqtgraph (``app.benchmarks.figure``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from app.benchmarks.figure import export_figure, new_figure

STYLE = {  # strategy: (colour, pen style name, symbol)
    "uniform": ((40, 90, 200), "solid", "s"),
    "random": ((120, 120, 120), "dash", "t"),
    "guided": ((220, 70, 30), "solid", "o"),
    "farthest": ((30, 150, 70), "dashdot", "d"),
}
LABELS = {
    "uniform": "uniform (mean of 3 seeds)",
    "random": "random (mean of 3 seeds)",
    "guided": "guided (mean of 3 seeds)",
    "farthest": "farthest slice, warm starts (control, seed 0)",
}


def _panel(layout: Any, name: str, data: dict[str, Any]) -> None:
    import pyqtgraph as pg
    from PySide6.QtCore import Qt

    classes = len(data["classes"]) - 1
    plot = layout.addPlot(title=f"<b>{name}</b> ({classes} classes; dotted: uniform at k = 8)")
    plot.setLabel("bottom", "labeled slices (k)")
    plot.setLabel("left", "mean Dice, slices not labeled")
    plot.getAxis("left").enableAutoSIPrefix(False)
    plot.showGrid(x=True, y=True, alpha=0.25)
    legend = plot.addLegend(offset=(-10, -10))  # bottom right: the curves rise to the top left
    curves = data["curves"]
    target = curves["uniform"].get("8")
    if target is not None:
        line = pg.InfiniteLine(
            pos=target, angle=0, pen=pg.mkPen((40, 90, 200, 110), width=1, style=Qt.DotLine)
        )
        plot.addItem(line)
    for strategy, (colour, style, symbol) in STYLE.items():
        if strategy not in curves:
            continue
        points = sorted((int(k), float(v)) for k, v in curves[strategy].items())
        pen_style = {"dash": Qt.DashLine, "dashdot": Qt.DashDotLine}.get(style, Qt.SolidLine)
        width = 3 if strategy == "guided" else 2
        label = LABELS.get(strategy, strategy)
        plot.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            pen=pg.mkPen(colour, width=width, style=pen_style),
            symbol=symbol,
            symbolBrush=colour,
            symbolPen=colour,
            symbolSize=8,
            name=label,
        )
    legend.setLabelTextColor((30, 30, 30))
    plot.setXRange(1.8, 8.2, padding=0)


def render(result_path: Path, png_path: Path, width: int = 1400) -> Path:
    """Render the figure of a ``guided`` benchmark result to ``png_path``.

    Args:
        result_path: the benchmark's JSON.
        png_path: where to write the PNG.
        width: image width in pixels.

    Returns:
        ``png_path``.
    """
    payload = json.loads(result_path.read_text())
    layout = new_figure(width, width * 4 // 10)
    for name, data in payload["details"]["volumes"].items():
        _panel(layout, name, data)
    return export_figure(layout, png_path, width)


def main(argv: list[str] | None = None) -> int:
    """Command line entry (see the module docstring)."""
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0] if args else "benchmarks/results/guided.json")
    target = Path(args[1] if len(args) > 1 else "docs/guided_learning_curve.png")
    print(render(source, target))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
