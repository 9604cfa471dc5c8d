"""Slices of volumes along an axis, split into labeled and unlabeled sets.

A slice is labeled only when the user marked it; every other slice is unlabeled data (never
background). Slices are resized once to the network's pixel size (aspect ratio kept; native
pixels unless the slice is larger than the cap), centred on a canvas whose sides are multiples of
32, and cached as float32 / uint8 arrays.
"""

from __future__ import annotations

import math
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


SIZE_MULTIPLE = 32
"""Network input sides must be multiples of this (the encoder halves the map five times)."""


def padded_side(n: int) -> int:
    """``n`` rounded up to a multiple of ``SIZE_MULTIPLE`` (at least one multiple)."""
    return max(SIZE_MULTIPLE, -(-int(n) // SIZE_MULTIPLE) * SIZE_MULTIPLE)


def scaled_side(n: int, scale: float) -> int:
    """Side of a slice of ``n`` pixels after resizing by ``scale`` (``floor``, as ``F.interpolate``
    with ``scale_factor`` and ONNX ``Resize`` compute it; at least 1)."""
    return n if scale == 1.0 else max(1, math.floor(n * scale))


def network_scale(shapes_hw: Sequence[tuple[int, int]], size: int | None, cap: int | None) -> float:
    """Resize factor from native slice pixels to network pixels (aspect ratio kept).

    Args:
        shapes_hw: (H, W) of the slices of every training volume.
        size: the longest side wanted at the network (``TrainingConfig.input_size``), or None.
        cap: largest longest side allowed when ``size`` is None (``max_input_size``), or None.

    Returns:
        ``size / longest side`` when ``size`` is given; else 1 (native pixels) unless the longest
        side exceeds ``cap``, then ``cap / longest side`` (coarser network pixels).
    """
    side = max(max(h, w) for h, w in shapes_hw)
    if size is not None:
        return size / side
    if cap is not None and side > cap:
        return cap / side
    return 1.0


def network_canvas(shapes_hw: Sequence[tuple[int, int]], scale: float) -> tuple[int, int]:
    """(H, W) of the training canvas: every scaled slice fits, each side a multiple of 32."""
    return (
        max(padded_side(scaled_side(h, scale)) for h, _ in shapes_hw),
        max(padded_side(scaled_side(w, scale)) for _, w in shapes_hw),
    )


def centre_pad(stack: np.ndarray, canvas_hw: tuple[int, int], value: float = 0) -> np.ndarray:
    """Pad (N, H, W) to (N, *canvas_hw) with the slice centred (extra pixel after), as the
    inference graph pads (``inference.wrapper``)."""
    ph, pw = canvas_hw[0] - stack.shape[1], canvas_hw[1] - stack.shape[2]
    if ph < 0 or pw < 0:
        raise ValueError(f"slices {stack.shape[1:]} do not fit the canvas {canvas_hw}")
    pads = ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2))
    return np.pad(stack, pads, constant_values=value)


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
    """Cached 2-D training slices on the network canvas.

    Attributes:
        labeled_images: (L, H, W) float32 in [0, 1].
        labeled_targets: (L, H, W) int64 class indices (0 on the padding).
        unlabeled_images: (U, H, W) float32 (U may be 0).
        size: the canvas' longest side (records and messages).
        scale: network pixels per native pixel.
    """

    labeled_images: np.ndarray
    labeled_targets: np.ndarray
    unlabeled_images: np.ndarray
    size: int
    scale: float = 1.0

    @property
    def canvas_hw(self) -> tuple[int, int]:
        """(H, W) of the canvas the slices lie on."""
        return int(self.labeled_images.shape[1]), int(self.labeled_images.shape[2])


FOREGROUND_LEVEL = 0.05
"""A pixel is foreground when its normalised intensity exceeds this (5 % of the window: above
air in CT, above the background noise of a percentile-normalised MR)."""
FOREGROUND_MARGIN = 8
"""Pixels kept around the foreground's bounding box."""


@dataclass(frozen=True)
class ForegroundBox:
    """Where a volume's content lies, along a slicing axis.

    Attributes:
        rows: (start, stop) of the in-plane box along the slice height.
        cols: (start, stop) along the slice width.
        occupied: indices of the slices holding any foreground.
    """

    rows: tuple[int, int]
    cols: tuple[int, int]
    occupied: tuple[int, ...]

    @property
    def shape_hw(self) -> tuple[int, int]:
        """(H, W) of the box."""
        return self.rows[1] - self.rows[0], self.cols[1] - self.cols[0]


def foreground_box(stack: np.ndarray, low: float, high: float) -> ForegroundBox:
    """The box holding every slice's foreground, with ``FOREGROUND_MARGIN``.

    Args:
        stack: (N, H, W) raw intensities (any dtype).
        low, high: the intensity window (``IntensityWindow.low`` / ``high``).

    Returns:
        The box; a stack without any foreground gives the whole slice and no occupied slice.
    """
    level = low + FOREGROUND_LEVEL * (high - low)
    mask: np.ndarray = np.asarray(stack > level)
    occupied = np.flatnonzero(mask.any(axis=(1, 2)))
    h, w = stack.shape[1:]
    if occupied.size == 0:
        return ForegroundBox((0, h), (0, w), ())
    plane: np.ndarray = np.asarray(mask.any(axis=0))
    rows, cols = np.flatnonzero(plane.any(axis=1)), np.flatnonzero(plane.any(axis=0))
    m = FOREGROUND_MARGIN
    return ForegroundBox(
        (max(0, int(rows[0]) - m), min(h, int(rows[-1]) + 1 + m)),
        (max(0, int(cols[0]) - m), min(w, int(cols[-1]) + 1 + m)),
        tuple(int(i) for i in occupied),
    )
