"""2-D shapes as boolean masks on a slice: brush discs, polygons, flood-filled areas.

All coordinates are (row, col) in voxel indices of the slice; a voxel's centre is at its integer
index, so a disc of radius 0.5 centred on a voxel covers just that voxel.
"""

from __future__ import annotations

import numpy as np


def disc_box(
    shape_rc: tuple[int, int], center_rc: tuple[float, float], radius_rc: tuple[float, float]
) -> tuple[slice, slice, np.ndarray] | None:
    """Rasterise an ellipse (a disc in physical units) clipped to the slice.

    Args:
        shape_rc: slice shape (rows, cols).
        center_rc: centre (row, col), may be fractional.
        radius_rc: radius along rows and along columns in voxels (> 0).

    Returns:
        (rows, cols, mask): the bounding box in the slice and a bool mask of its shape, or None
        when the disc misses the slice.
    """
    (cr, cc), (rr, rc) = center_rc, (max(radius_rc[0], 0.5), max(radius_rc[1], 0.5))
    r0, r1 = max(int(np.ceil(cr - rr)), 0), min(int(np.floor(cr + rr)) + 1, shape_rc[0])
    c0, c1 = max(int(np.ceil(cc - rc)), 0), min(int(np.floor(cc + rc)) + 1, shape_rc[1])
    if r0 >= r1 or c0 >= c1:
        return None
    dr = ((np.arange(r0, r1, dtype=np.float32) - cr) / rr) ** 2
    dc = ((np.arange(c0, c1, dtype=np.float32) - cc) / rc) ** 2
    mask = (dr[:, None] + dc[None, :]) <= 1.0
    if not mask.any():
        return None
    return slice(r0, r1), slice(c0, c1), mask


def polygon_mask(shape_rc: tuple[int, int], points_rc: np.ndarray) -> np.ndarray:
    """Fill a closed polygon (even-odd rule, voxel centres) by scanlines.

    Args:
        shape_rc: slice shape (rows, cols).
        points_rc: vertices, float array (N, 2) of (row, col); closed implicitly.

    Returns:
        Bool mask (rows, cols).
    """
    mask = np.zeros(shape_rc, bool)
    pts = np.asarray(points_rc, np.float64)
    if pts.ndim != 2 or len(pts) < 3:
        return mask
    r_a, c_a = pts[:, 0], pts[:, 1]
    r_b, c_b = np.roll(r_a, -1), np.roll(c_a, -1)
    lo = max(int(np.ceil(r_a.min())), 0)
    hi = min(int(np.floor(r_a.max())), shape_rc[0] - 1)
    for row in range(lo, hi + 1):
        # scan just above and below the voxel centre so that centres on an edge are inside
        for y in (row - 1e-7, row + 1e-7):
            crosses = (r_a <= y) != (r_b <= y)
            if not crosses.any():
                continue
            t = (y - r_a[crosses]) / (r_b[crosses] - r_a[crosses])
            xs = np.sort(c_a[crosses] + t * (c_b[crosses] - c_a[crosses]))
            for left, right in zip(xs[0::2], xs[1::2], strict=False):
                c0 = max(int(np.ceil(left - 1e-6)), 0)
                c1 = min(int(np.floor(right + 1e-6)), shape_rc[1] - 1)
                if c0 <= c1:
                    mask[row, c0 : c1 + 1] = True
    return mask


def flood_mask(same_rc: np.ndarray, seed_rc: tuple[int, int]) -> np.ndarray:
    """The 4-connected area of True voxels that holds the seed (span fill).

    Args:
        same_rc: bool array (rows, cols), True where the fill may go.
        seed_rc: start voxel (row, col).

    Returns:
        Bool mask (rows, cols); all False when the seed voxel itself is False.
    """
    rows, cols = same_rc.shape
    out = np.zeros_like(same_rc, dtype=bool)
    r, c = seed_rc
    if not (0 <= r < rows and 0 <= c < cols) or not same_rc[r, c]:
        return out
    stack = [(r, c)]
    while stack:
        r, c = stack.pop()
        if out[r, c] or not same_rc[r, c]:
            continue
        line = same_rc[r]
        left = c - _run_length(line[c::-1]) + 1
        right = c + _run_length(line[c:]) - 1
        out[r, left : right + 1] = True
        for nr in (r - 1, r + 1):
            if 0 <= nr < rows:
                _push_spans(
                    stack, same_rc[nr, left : right + 1] & ~out[nr, left : right + 1], nr, left
                )
    return out


def _run_length(values: np.ndarray) -> int:
    """Number of leading True values."""
    stops = np.flatnonzero(~values)
    return int(stops[0]) if stops.size else int(values.size)


def _push_spans(stack: list[tuple[int, int]], open_: np.ndarray, row: int, offset: int) -> None:
    """Push one seed per run of True values in ``open_``."""
    if not open_.any():
        return
    padded = np.concatenate(([False], open_))
    starts = np.flatnonzero(padded[1:] & ~padded[:-1])
    stack.extend((row, offset + int(s)) for s in starts)
