"""Non-learning baselines for the sparse-slice protocol (``design/BENCHMARKS.md`` §1).

numpy/SimpleITK/ITK only (no torch): ``select_slices`` picks the labeled slices,
``interpolate_labels`` is the ``interpolation`` method (ITK morphological contour interpolation,
the engine's ``ugpcl_engine.interpolation``: the app's *Fill between slices* runs the same code).
"""

from __future__ import annotations

from ugpcl_benchmarks.baselines.selection import foreground_extent, select_slices
from ugpcl_engine.interpolation import interpolate_labels

__all__ = ["foreground_extent", "interpolate_labels", "select_slices"]
