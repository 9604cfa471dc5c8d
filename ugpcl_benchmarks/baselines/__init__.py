"""Non-learning baselines for the sparse-slice protocol (``design/BENCHMARKS.md`` §1).

numpy/SimpleITK/ITK only (no torch): ``select_slices`` picks the labeled slices,
``interpolate_labels`` is the ``interpolation`` method (ITK morphological contour interpolation).
"""

from __future__ import annotations

from ugpcl_benchmarks.baselines.interpolation import interpolate_labels
from ugpcl_benchmarks.baselines.selection import foreground_extent, select_slices

__all__ = ["foreground_extent", "interpolate_labels", "select_slices"]
