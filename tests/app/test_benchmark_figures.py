"""The docs figures drawn from benchmark results: reliability plot and learning curve."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QImage

from app.benchmarks import learning_curve, reliability_plot


@pytest.fixture(autouse=True)
def _keep_pyqtgraph_options() -> Iterator[None]:
    """The figures switch pyqtgraph to a white background; other tests keep the app's."""
    import pyqtgraph as pg

    saved = dict(pg.CONFIG_OPTIONS)
    yield
    pg.setConfigOptions(**saved)


def _curve(accuracy: list[float | None]) -> dict[str, list[float | None]]:
    confidence = [None if a is None else 0.125 + 0.25 * i for i, a in enumerate(accuracy)]
    return {
        "bin_edges": [0.0, 0.25, 0.5, 0.75, 1.0],
        "mean_confidence": confidence,
        "accuracy": accuracy,
        "counts": [0.0 if a is None else 10.0**i for i, a in enumerate(accuracy)],
    }


def _calibration(tmp_path: Path, drop_curve: bool = False) -> Path:
    scores = {
        "decoders": {"auroc": 0.9, "ece": 0.07, "curve": _curve([None, 0.4, 0.7, 0.97])},
        "mcdropout": {"auroc": 0.88, "ece": 0.04, "curve": _curve([None, 0.35, 0.6, float("nan")])},
    }
    if drop_curve:
        del scores["mcdropout"]["curve"]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"details": {"k": 3, "passes": 5, "scores": scores}}))
    return path


def test_reliability_plot_renders_a_png_of_the_asked_width(tmp_path: Path) -> None:
    png = tmp_path / "out" / "reliability.png"
    assert reliability_plot.render(_calibration(tmp_path), png, width=500) == png
    image = QImage(str(png))
    assert (image.width(), image.height()) == (500, 400)


def test_reliability_plot_cli_writes_the_png(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    png = tmp_path / "r.png"
    assert reliability_plot.main([str(_calibration(tmp_path)), str(png)]) == 0
    assert capsys.readouterr().out.strip() == str(png)
    assert QImage(str(png)).width() == 1000


@pytest.mark.parametrize("broken", ["no curve", "no file", "not json"])
def test_reliability_plot_reports_a_result_it_cannot_draw(
    tmp_path: Path, capsys: pytest.CaptureFixture, broken: str
) -> None:
    source = _calibration(tmp_path, drop_curve=True)
    if broken == "no file":
        source = tmp_path / "missing.json"
    elif broken == "not json":
        source.write_text("{not json")
    png = tmp_path / "r.png"
    assert reliability_plot.main([str(source), str(png)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert {"no curve": "details.scores.mcdropout.curve", "no file": "cannot read"}.get(
        broken, "not valid JSON"
    ) in err
    assert not png.exists()


def test_learning_curve_renders_one_panel_per_volume(tmp_path: Path) -> None:
    curves = {
        s: {"2": 0.5, "4": 0.6, "8": 0.7} for s in ("uniform", "random", "guided", "farthest")
    }
    volume = {"classes": ["background", "a", "b"], "curves": curves}
    source = tmp_path / "guided.json"
    source.write_text(json.dumps({"details": {"volumes": {"chest": volume, "brain": volume}}}))
    png = tmp_path / "curve.png"
    assert learning_curve.main([str(source), str(png)]) == 0
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1400, 560)


def test_learning_curve_draws_a_result_without_the_control_strategy(tmp_path: Path) -> None:
    # results written before the "farthest" control existed have no such curve
    curves = {s: {"2": 0.5, "8": 0.7} for s in ("uniform", "random", "guided")}
    volume = {"classes": ["background", "a"], "curves": curves}
    source = tmp_path / "guided.json"
    source.write_text(json.dumps({"details": {"volumes": {"chest": volume}}}))
    png = tmp_path / "curve.png"
    assert learning_curve.main([str(source), str(png)]) == 0
    assert QImage(str(png)).width() == 1400
