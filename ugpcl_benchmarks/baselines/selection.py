"""Choosing which slices a simulated annotator labels (``design/BENCHMARKS.md`` §1).

- ``uniform``: the centres of ``k`` equal bins over the extent ``[lo, hi]`` of slices that hold
  foreground: ``floor(lo + (i + 0.5) * n / k)`` for ``i = 0..k-1`` with ``n = hi - lo + 1``.
- ``random``: ``k`` distinct slices drawn within that extent by ``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import axis_index

STRATEGIES = ("uniform", "random")


def foreground_extent(labels_zyx: np.ndarray, axis: str = "z") -> tuple[int, int]:
    """First and last slice along ``axis`` that hold a non-zero label.

    Args:
        labels_zyx: label array (Z, Y, X).
        axis: ``"z"``, ``"y"`` or ``"x"``.

    Returns:
        ``(lo, hi)``, both inclusive.

    Raises:
        InputError: when the volume holds no foreground.
    """
    dim = axis_index(axis)
    other = tuple(d for d in range(labels_zyx.ndim) if d != dim)
    present = np.flatnonzero(np.any(labels_zyx != 0, axis=other))
    if present.size == 0:
        raise InputError("The label volume holds no foreground: label at least one structure.")
    return int(present[0]), int(present[-1])


def select_slices(
    labels_zyx: np.ndarray,
    k: int,
    strategy: str = "uniform",
    axis: str = "z",
    seed: int = 0,
) -> list[int]:
    """Pick ``k`` slices to label, within the extent of slices holding foreground.

    Args:
        labels_zyx: reference label array (Z, Y, X); only its foreground extent is used.
        k: number of slices, 1 <= k <= the number of slices in the extent.
        strategy: ``"uniform"`` (evenly spaced bin centres) or ``"random"`` (seeded).
        axis: slicing axis, ``"z"``, ``"y"`` or ``"x"``.
        seed: random seed (``random`` only).

    Returns:
        Sorted distinct slice indices.

    Raises:
        InputError: unknown strategy, ``k`` out of range, or no foreground.
    """
    if strategy not in STRATEGIES:
        choices = ", ".join(STRATEGIES)
        raise InputError(f"Unknown slice strategy '{strategy}': use one of {choices}.")
    lo, hi = foreground_extent(labels_zyx, axis)
    n = hi - lo + 1
    if not 1 <= k <= n:
        raise InputError(f"Cannot pick {k} slices: the labeled extent {lo}..{hi} has {n} slices.")
    if strategy == "uniform":
        return sorted({lo + math.floor((i + 0.5) * n / k) for i in range(k)})
    rng = np.random.default_rng(seed)
    return sorted(int(v) for v in rng.choice(np.arange(lo, hi + 1), size=k, replace=False))
