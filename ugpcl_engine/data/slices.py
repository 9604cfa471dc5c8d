"""Slices of volumes along an axis, split into labeled and unlabeled sets.

A slice is labeled only when the user marked it; every other slice is unlabeled data (never
background). Slices are resized once to the network size and cached as float32 / uint8 arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import axis_index


def take_slices(array_zyx: np.ndarray, axis: str) -> np.ndarray:
    """Return the volume as a stack of 2-D slices along ``axis``.

    Args:
        array_zyx: (Z, Y, X).
        axis: ``z`` (axial slices, each Y×X), ``y`` (coronal, Z×X) or ``x`` (sagittal, Z×Y).

    Returns:
        (N, H, W) view with N the length of ``axis``.
    """
    return np.moveaxis(array_zyx, axis_index(axis), 0)


def put_slices(stack: np.ndarray, axis: str) -> np.ndarray:
    """Inverse of ``take_slices``: (N, H, W) back to (Z, Y, X), C-contiguous."""
    return np.ascontiguousarray(np.moveaxis(stack, 0, axis_index(axis)))


def network_size(shapes_hw: Sequence[tuple[int, int]], cap: int | None) -> int:
    """Square network input size for slices of the given sizes.

    Args:
        shapes_hw: (H, W) of the slices of every training volume.
        cap: largest allowed size (a multiple of 32), or ``None``.

    Returns:
        ``max(H, W)`` rounded up to a multiple of 32, then capped.
    """
    side = max(max(h, w) for h, w in shapes_hw)
    size = max(32, int(np.ceil(side / 32) * 32))
    return min(size, cap) if cap else size


def check_labeled_slices(slices: Sequence[int], count: int, axis: str) -> list[int]:
    """Validate user slice indices against the axis length.

    Raises:
        InputError: no slice given, or an index outside ``0..count-1``.
    """
    if not slices:
        raise InputError("No labeled slice given: mark or list at least one painted slice.")
    bad = [s for s in slices if not 0 <= s < count]
    if bad:
        raise InputError(
            f"Slice index {bad[0]} is out of range: the volume has {count} slices along "
            f"{axis} (0..{count - 1})."
        )
    return sorted(set(slices))


@dataclass
class SliceSet:
    """Cached 2-D training slices at network size.

    Attributes:
        labeled_images: (L, S, S) float32 in [0, 1].
        labeled_targets: (L, S, S) int64 class indices.
        unlabeled_images: (U, S, S) float32 (U may be 0).
        size: S.
    """

    labeled_images: np.ndarray
    labeled_targets: np.ndarray
    unlabeled_images: np.ndarray
    size: int
