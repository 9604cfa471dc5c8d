"""A stand-in for ITK's contour interpolation in the fill-between-slices tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ugpcl_engine import axis_index


def copy_below(
    sparse_zyx: np.ndarray,
    slices: list[int],
    axis: str,
    cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Stand-in for ITK: each slice gets the labels of the nearest labeled slice below it
    (before the first labeled slice: background)."""
    a = axis_index(axis)
    stack = np.moveaxis(sparse_zyx, a, 0)
    out = np.zeros_like(stack)
    for i in range(stack.shape[0]):
        below = [s for s in slices if s <= i]
        if below:
            out[i] = stack[below[-1]]
    return np.moveaxis(out, 0, a)
