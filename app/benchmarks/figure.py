"""Offscreen pyqtgraph figures of benchmark results, for ``docs/``.

The engine never imports Qt, so the figures of its results are drawn here: ``new_figure`` gives
a white ``GraphicsLayoutWidget`` (the ``offscreen`` Qt platform unless one is set),
``export_figure`` writes it to a PNG, ``run_figure_cli`` is the ``[JSON] [PNG]`` command line
that turns a missing or malformed result file into a one-line message and exit code 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# the QApplication must outlive the function that made it (figures are drawn from scripts)
_APP: list[Any] = []


class FigureDataError(ValueError):
    """A result file that cannot be drawn: missing, not JSON, or without the expected fields."""


def read_result(result_path: Path) -> dict[str, Any]:
    """Load a benchmark result JSON.

    Args:
        result_path: the file ``ugpcl-studio benchmark NAME`` wrote.

    Returns:
        The parsed object.

    Raises:
        FigureDataError: the file is missing, unreadable or not a JSON object.
    """
    try:
        payload = json.loads(result_path.read_text())
    except OSError as error:
        raise FigureDataError(f"cannot read {result_path}: {error.strerror or error}") from None
    except ValueError as error:
        raise FigureDataError(f"{result_path} is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise FigureDataError(f"{result_path} holds no benchmark result (not a JSON object)")
    return payload


def new_figure(width: int, height: int) -> Any:
    """A white figure of ``width`` × ``height`` pixels, with a QApplication to draw it.

    Args:
        width: widget width in pixels.
        height: widget height in pixels.

    Returns:
        A ``pyqtgraph.GraphicsLayoutWidget``; add plots, then call ``export_figure``.
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    if not _APP:
        _APP.append(app)
    pg.setConfigOptions(antialias=True, background="w", foreground="k")
    layout = pg.GraphicsLayoutWidget()
    layout.resize(width, height)
    return layout


def export_figure(layout: Any, png_path: Path, width: int) -> Path:
    """Lay the figure out, write it as a PNG ``width`` pixels wide and close it.

    Args:
        layout: the ``GraphicsLayoutWidget`` from ``new_figure``.
        png_path: where to write (parent folders are made).
        width: image width in pixels (the height keeps the widget's aspect).

    Returns:
        ``png_path``.
    """
    import pyqtgraph.exporters
    from PySide6.QtWidgets import QApplication

    layout.show()
    QApplication.processEvents()
    exporter = pyqtgraph.exporters.ImageExporter(layout.scene())
    exporter.parameters()["width"] = width
    png_path.parent.mkdir(parents=True, exist_ok=True)
    exporter.export(str(png_path))
    layout.close()
    return png_path


def run_figure_cli(
    argv: list[str] | None,
    default_json: str,
    default_png: str,
    render: Callable[[Path, Path], Path],
) -> int:
    """``[JSON] [PNG]`` command line: render, print the PNG path, return the exit code.

    Args:
        argv: the arguments (None: ``sys.argv[1:]``).
        default_json: result file when no argument is given.
        default_png: output file when no second argument is given.
        render: ``render(json_path, png_path) -> png_path``.

    Returns:
        0 when the PNG was written; 2 (with the reason on stderr) when the result cannot be drawn.
    """
    args = sys.argv[1:] if argv is None else argv
    source = Path(args[0] if args else default_json)
    target = Path(args[1] if len(args) > 1 else default_png)
    try:
        print(render(source, target))
    except FigureDataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
