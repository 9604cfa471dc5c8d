"""Label overlay pixels: the 256-entry RGBA lookup table and the outline mode."""

from __future__ import annotations

import numpy as np

from ugpcl_engine import LabelTable

UNKNOWN_RGB = (255, 0, 255)  # values beyond the table show in magenta so they are noticed


def label_lut(table: LabelTable, hidden: set[int], opacity: float) -> np.ndarray:
    """Lookup table for uint8 label images.

    Args:
        table: names and colours; value 0 (background) is transparent.
        hidden: values drawn transparent.
        opacity: 0..1 alpha of visible labels.

    Returns:
        uint8 array (256, 4) RGBA.
    """
    lut = np.zeros((256, 4), np.uint8)
    alpha = round(255 * float(np.clip(opacity, 0.0, 1.0)))
    lut[1:, :3] = UNKNOWN_RGB
    lut[1:, 3] = alpha
    for cls in table.classes[1:]:
        lut[cls.value, :3] = cls.color_rgb
    for value in hidden:
        if 0 <= value < 256:
            lut[value, 3] = 0
    lut[0] = 0
    return lut


def outline(labels_rc: np.ndarray) -> np.ndarray:
    """Keep only voxels on a label boundary (4-neighbourhood).

    Args:
        labels_rc: uint8 slice (rows, cols).

    Returns:
        uint8 slice of the same shape: the label where a neighbour differs, else 0.
    """
    edge = np.zeros(labels_rc.shape, bool)
    edge[1:, :] |= labels_rc[1:, :] != labels_rc[:-1, :]
    edge[:-1, :] |= labels_rc[:-1, :] != labels_rc[1:, :]
    edge[:, 1:] |= labels_rc[:, 1:] != labels_rc[:, :-1]
    edge[:, :-1] |= labels_rc[:, :-1] != labels_rc[:, 1:]
    return np.where(edge, labels_rc, 0).astype(np.uint8)
