"""Turn volumes into cached, normalised, resized training slices (done once per run)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from ugpcl_engine.data.batches import resize_images, resize_labels
from ugpcl_engine.data.normalisation import IntensityWindow, apply_window
from ugpcl_engine.data.slices import SliceSet, check_labeled_slices, take_slices
from ugpcl_engine.errors import InputError

if TYPE_CHECKING:
    from ugpcl_engine.training.trainer import TrainingVolume


def _resize_stack(stack: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[:, None]
    return resize_images(t, (size, size))[:, 0].numpy()


def _resize_targets(stack: np.ndarray, size: int) -> np.ndarray:
    t = torch.from_numpy(stack.astype(np.int64))
    return resize_labels(t, (size, size)).numpy()


def prepare_slices(
    volumes: Sequence[TrainingVolume],
    windows: Sequence[IntensityWindow],
    axis: str,
    size: int,
    num_classes: int,
) -> SliceSet:
    """Normalise, split and resize every slice of every volume.

    Args:
        volumes: training volumes (labels read only on their labeled slices); a volume without
            labeled slices gives unlabeled slices only, as long as another one has some.
        windows: intensity window per volume.
        axis: slicing axis.
        size: square network size S.
        num_classes: label values must be < this.

    Returns:
        Labeled images/targets and unlabeled images at S×S.

    Raises:
        InputError: no labeled slice, index out of range, labels beyond the table, shape mismatch.
    """
    if not any(len(v.labeled_slices) for v in volumes):
        check_labeled_slices([], 0, axis)  # raises the "no labeled slice" InputError
    lab_img, lab_tgt, unl_img = [], [], []
    for vol, window in zip(volumes, windows, strict=True):
        if vol.labels_zyx.shape != vol.image_zyx.shape:
            raise InputError(
                f"Labels {vol.labels_zyx.shape} and image {vol.image_zyx.shape} differ in shape; "
                "resample the labels onto the image grid."
            )
        images = apply_window(take_slices(vol.image_zyx, axis), window)
        labels = take_slices(vol.labels_zyx, axis)
        marked = (
            check_labeled_slices(list(vol.labeled_slices), images.shape[0], axis)
            if len(vol.labeled_slices)
            else []
        )
        chosen = labels[marked]
        if chosen.size and int(chosen.max()) >= num_classes:
            raise InputError(
                f"The labeled slices hold value {int(chosen.max())} but the label table has "
                f"only values 0..{num_classes - 1}; add the class or fix the labels."
            )
        mask = np.zeros(images.shape[0], bool)
        mask[marked] = True
        lab_img.append(_resize_stack(images[mask], size))
        lab_tgt.append(_resize_targets(chosen, size))
        unl_img.append(
            _resize_stack(images[~mask], size)
            if (~mask).any()
            else np.zeros((0, size, size), np.float32)
        )
    return SliceSet(np.concatenate(lab_img), np.concatenate(lab_tgt), np.concatenate(unl_img), size)
