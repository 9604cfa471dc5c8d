"""Whole-volume slice-by-slice inference, independent of the runtime (numpy only).

Torch and onnxruntime segmenters both hand a ``run_batch`` callable to ``segment_volume`` so
they share slicing, normalisation, batching, progress and cancel.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ugpcl_engine.data.normalisation import IntensityWindow, apply_window
from ugpcl_engine.data.slices import ForegroundBox, put_slices, take_slices
from ugpcl_engine.errors import CancelledError

RunBatch = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""(B, 1, H, W) float32 normalised slices → (labels (B, H, W), entropy (B, H, W))."""


def segment_volume(
    image_zyx: np.ndarray,
    window: IntensityWindow,
    axis: str,
    run_batch: RunBatch,
    batch_size: int = 16,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    box: ForegroundBox | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Segment every slice of a volume along ``axis``.

    With a ``box`` (a model trained on the foreground's box, ``Checkpoint.foreground_crop``),
    only the box of the occupied slices goes through the model; everything else is background
    with zero uncertainty.

    Args:
        image_zyx: raw volume (Z, Y, X).
        window: intensity window (see ``resolve_window``).
        axis: slicing axis used in training.
        run_batch: the model on a batch of normalised slices.
        batch_size: slices per call.
        progress: called with (slices done, total) after each batch.
        cancelled: polled before each batch; True raises ``CancelledError``.
        box: the volume's ``foreground_box`` along ``axis``, or ``None`` (whole slices).

    Returns:
        labels_zyx (uint8) and entropy_zyx (float32), both on the input grid.

    Raises:
        CancelledError: when ``cancelled()`` became true.
    """
    stack = take_slices(image_zyx, axis)
    labels = np.zeros(stack.shape, np.uint8)
    entropy = np.zeros(stack.shape, np.float32)
    order = np.arange(stack.shape[0]) if box is None else np.asarray(box.occupied, np.int64)
    rows = slice(*box.rows) if box is not None else slice(None)
    cols = slice(*box.cols) if box is not None else slice(None)
    n = len(order)
    for start in range(0, n, batch_size):
        if cancelled is not None and cancelled():
            raise CancelledError("inference cancelled")
        picked = order[start : start + batch_size]
        chunk = apply_window(stack[picked, rows, cols], window)[:, None]
        lab, ent = run_batch(np.ascontiguousarray(chunk))
        labels[picked, rows, cols] = lab
        entropy[picked, rows, cols] = ent
        if progress is not None:
            progress(min(start + batch_size, n), n)
    return put_slices(labels, axis), put_slices(entropy, axis)
