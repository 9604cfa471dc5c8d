"""GUI benchmarks (``ugpcl-studio benchmark gui``), kept out of the default test run."""

from __future__ import annotations

import os
import sys
from typing import Any


def benchmark_app() -> Any:
    """The QApplication of a GUI benchmark: offscreen unless a display is available."""
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    return QApplication.instance() or QApplication(sys.argv[:1])
