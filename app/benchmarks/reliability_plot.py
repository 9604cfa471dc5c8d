"""Draw the reliability plot of ``benchmarks/results/calibration.json``.

``python -m app.benchmarks.reliability_plot [JSON] [PNG]`` (defaults:
``benchmarks/results/calibration.json`` → ``docs/calibration_reliability.png``): on the voxels
of the slices not labeled, the fraction labeled right against the mean confidence of each
confidence bin, for the two-decoder entropy (the app's one pass) and for MC dropout, with the
diagonal of perfect calibration, AUROC and ECE in the legend, and below, the voxels per bin on a
log scale. Rendered offscreen with pyqtgraph (``app.benchmarks.figure``); a result file without
the curves gives a one-line error and exit code 2.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from app.benchmarks.figure import (
    FigureDataError,
    export_figure,
    new_figure,
    read_result,
    run_figure_cli,
)

METHODS = {  # method: (colour, symbol, legend name; {passes} is filled from the result)
    "decoders": ((220, 70, 30), "o", "two decoders, entropy of the mean (1 pass)"),
    "mcdropout": ((40, 90, 200), "s", "MC dropout ({passes} passes)"),
}
CURVE_FIELDS = ("bin_edges", "mean_confidence", "accuracy", "counts")
AXIS_WIDTH = 70  # pixels of the left axes


def read_curves(result_path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The ``details`` and the per-method scores of a calibration result, checked.

    Args:
        result_path: the JSON of ``ugpcl-studio benchmark calibration``.

    Returns:
        (details, {method: scores}) with ``scores["curve"]`` holding ``bin_edges`` (bins + 1)
        and ``mean_confidence``, ``accuracy``, ``counts`` (bins each; None for an empty bin).

    Raises:
        FigureDataError: the file is missing or lacks a method's curve or scores.
    """
    payload = read_result(result_path)
    details = payload.get("details")
    scores = details.get("scores") if isinstance(details, dict) else None
    methods = {}
    for method in METHODS:
        entry = scores.get(method) if isinstance(scores, dict) else None
        methods[method] = _checked(entry, f"{result_path}: details.scores.{method}")
    return details if isinstance(details, dict) else {}, methods


def _checked(entry: Any, where: str) -> dict[str, Any]:
    """``entry`` when it holds a well-formed curve, AUROC and ECE; FigureDataError otherwise."""
    curve = entry.get("curve") if isinstance(entry, dict) else None
    if not isinstance(curve, dict) or any(not isinstance(curve.get(f), list) for f in CURVE_FIELDS):
        raise FigureDataError(
            f"{where}.curve with the lists {', '.join(CURVE_FIELDS)} is missing; "
            "make the file with `ugpcl-studio benchmark calibration`"
        )
    bins = len(curve["bin_edges"]) - 1
    if bins < 1 or any(len(curve[f]) != bins for f in CURVE_FIELDS[1:]):
        raise FigureDataError(f"{where}.curve: the lists do not fit {max(bins, 0)} bins")
    values = [v for f in CURVE_FIELDS for v in curve[f] if v is not None]
    if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
        raise FigureDataError(f"{where}.curve holds values that are not numbers")
    if not all(isinstance(entry.get(k), int | float) for k in ("auroc", "ece")):
        raise FigureDataError(f"{where}: the numbers auroc and ece are missing")
    return dict(entry)


def _value(x: float | None) -> float | None:
    """A bin's number, None for an empty bin (None or NaN in the JSON)."""
    return None if x is None or not math.isfinite(x) else float(x)


def _legend_name(method: str, scores: dict[str, Any], passes: Any) -> str:
    name = METHODS[method][2].format(passes=passes if passes is not None else "T")
    return f"{name}: AUROC {scores['auroc']:.3f}, ECE {scores['ece']:.3f}"


def _reliability_panel(layout: Any, details: dict[str, Any], methods: dict[str, Any]) -> None:
    import pyqtgraph as pg
    from PySide6.QtCore import Qt

    k, budget = details.get("k", "?"), details.get("budget", "?")
    plot = layout.addPlot(
        row=0,
        col=0,
        title=f"<b>Reliability</b>: slices not labeled (chest CT, k = {k}, {budget} budget)",
    )
    plot.setLabel("left", "fraction labeled right (accuracy)")
    plot.setLabel("bottom", "mean confidence in the bin (largest mean probability)")
    for side in ("left", "bottom"):
        plot.getAxis(side).enableAutoSIPrefix(False)
    plot.getAxis("left").setWidth(AXIS_WIDTH)  # both panels alike: their x axes align
    plot.showGrid(x=True, y=True, alpha=0.25)
    legend = plot.addLegend(offset=(10, 10), brush=(255, 255, 255, 230), pen=(190, 190, 190))
    plot.plot(
        [0, 1],
        [0, 1],
        pen=pg.mkPen((110, 110, 110), width=1.5, style=Qt.PenStyle.DashLine),
        name="perfect calibration",
    )
    for method, scores in methods.items():
        colour, symbol, _ = METHODS[method]
        curve = scores["curve"]
        pairs = [
            (c, a)
            for c, a in zip(
                map(_value, curve["mean_confidence"]), map(_value, curve["accuracy"]), strict=True
            )
            if c is not None and a is not None
        ]
        plot.plot(
            [p[0] for p in pairs],
            [p[1] for p in pairs],
            pen=pg.mkPen(colour, width=2.5),
            symbol=symbol,
            symbolBrush=colour,
            symbolPen=colour,
            symbolSize=8,
            name=_legend_name(method, scores, details.get("passes")),
        )
    legend.setLabelTextColor((30, 30, 30))
    note = pg.TextItem(
        "above the diagonal: right more often than the confidence says (under-confident)",
        color=(90, 90, 90),
        anchor=(1, 1),
    )
    note.setPos(0.98, 0.03)
    plot.addItem(note)
    plot.setRange(xRange=(0, 1), yRange=(0, 1), padding=0.02)


def _counts_panel(layout: Any, methods: dict[str, Any]) -> None:
    import pyqtgraph as pg

    plot = layout.addPlot(row=1, col=0)
    plot.setLabel("left", "voxels per bin (log)")
    plot.setLabel("bottom", "confidence bin (left bar: two decoders, right bar: MC dropout)")
    plot.showGrid(x=False, y=True, alpha=0.25)
    plot.getAxis("left").setWidth(AXIS_WIDTH)
    top = 1
    for i, (method, scores) in enumerate(methods.items()):
        colour = METHODS[method][0]
        edges, counts = scores["curve"]["bin_edges"], scores["curve"]["counts"]
        spans = zip(edges[:-1], edges[1:], counts, strict=True)
        bars = [(lo, hi, float(n)) for lo, hi, n in spans if n is not None and n > 0]
        # two bars side by side in each bin; heights are log10(voxels), 0 = one voxel
        width = [(hi - lo) * 0.36 for lo, hi, _ in bars]
        x = [lo + (hi - lo) * (0.3 + 0.4 * i) for lo, hi, _ in bars]
        heights = [math.log10(n) for _, _, n in bars]
        top = max([top, *(math.ceil(h) for h in heights)])
        plot.addItem(pg.BarGraphItem(x=x, height=heights, width=width, brush=colour, pen=None))
    names = {0: "1", 1: "10", 2: "100", 3: "1k", 4: "10k", 5: "100k", 6: "1M", 7: "10M"}
    plot.getAxis("left").setTicks([[(p, names.get(p, f"1e{p}")) for p in range(top + 1)]])
    plot.setRange(xRange=(0, 1), padding=0.02)
    plot.setYRange(0, top, padding=0)


def render(result_path: Path, png_path: Path, width: int = 1000) -> Path:
    """Render the reliability plot of a ``calibration`` benchmark result to ``png_path``.

    Args:
        result_path: the benchmark's JSON.
        png_path: where to write the PNG.
        width: image width in pixels (the height is 4/5 of it).

    Returns:
        ``png_path``.

    Raises:
        FigureDataError: the result has no reliability curves (see ``read_curves``).
    """
    details, methods = read_curves(result_path)
    layout = new_figure(width, width * 4 // 5)
    _reliability_panel(layout, details, methods)
    _counts_panel(layout, methods)
    grid = layout.ci.layout
    grid.setRowStretchFactor(0, 3)
    grid.setRowStretchFactor(1, 1)
    return export_figure(layout, png_path, width)


def main(argv: list[str] | None = None) -> int:
    """Command line entry (see the module docstring); 2 when the file cannot be drawn."""
    return run_figure_cli(
        argv, "benchmarks/results/calibration.json", "docs/calibration_reliability.png", render
    )


if __name__ == "__main__":
    raise SystemExit(main())
