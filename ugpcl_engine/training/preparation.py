"""Training volumes, and turning them into cached, normalised, resized slices (once per run)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ugpcl_engine.data.batches import scale_images, scale_labels
from ugpcl_engine.data.normalisation import IntensityWindow, apply_window
from ugpcl_engine.data.slices import (
    ForegroundBox,
    SliceSet,
    centre_pad,
    check_labeled_slices,
    foreground_box,
    take_slices,
)
from ugpcl_engine.errors import InputError


@dataclass
class TrainingVolume:
    """One volume to learn from.

    Attributes:
        image_zyx: raw intensities (Z, Y, X).
        labels_zyx: uint8 labels; only ``labeled_slices`` are read.
        labeled_slices: indices along the training axis the user marked labeled.
        modality: ``"CT"``, ``"MR"`` or ``"unknown"``.
        spacing_zyx: voxel size in mm, recorded in the checkpoint when given.
    """

    image_zyx: np.ndarray
    labels_zyx: np.ndarray
    labeled_slices: Sequence[int]
    modality: str = "unknown"
    spacing_zyx: tuple[float, float, float] | None = None


def _images_to_canvas(stack: np.ndarray, scale: float, canvas: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(np.ascontiguousarray(stack, dtype=np.float32))[:, None]
    return centre_pad(scale_images(t, scale)[:, 0].numpy(), canvas)


def _targets_to_canvas(stack: np.ndarray, scale: float, canvas: tuple[int, int]) -> np.ndarray:
    t = torch.from_numpy(stack.astype(np.int64))
    return centre_pad(scale_labels(t, scale).numpy(), canvas)


def training_boxes(
    volumes: Sequence[TrainingVolume], windows: Sequence[IntensityWindow], axis: str
) -> list[ForegroundBox] | None:
    """Each volume's foreground box, or ``None`` when a labeled class lies outside one.

    A user who painted something in the 'empty' part of a scan (air, a dark corner) means it:
    then the whole slices are used, for every volume (the model either crops or it does not).
    """
    boxes = []
    for vol, window in zip(volumes, windows, strict=True):
        box = foreground_box(take_slices(vol.image_zyx, axis), window.low, window.high)
        labels = take_slices(vol.labels_zyx, axis)
        for index in vol.labeled_slices:
            outside = labels[index].copy()
            outside[slice(*box.rows), slice(*box.cols)] = 0
            if (index not in box.occupied and labels[index].any()) or outside.any():
                return None
        boxes.append(box)
    return boxes


def prepare_slices(
    volumes: Sequence[TrainingVolume],
    windows: Sequence[IntensityWindow],
    axis: str,
    scale: float,
    canvas: tuple[int, int],
    num_classes: int,
    boxes: Sequence[ForegroundBox] | None = None,
) -> SliceSet:
    """Normalise, split and resize every slice of every volume.

    Args:
        volumes: training volumes (labels read only on their labeled slices); a volume without
            labeled slices gives unlabeled slices only, as long as another one has some.
        windows: intensity window per volume.
        axis: slicing axis.
        scale: network pixels per native pixel (``data.slices.network_scale``).
        canvas: (H, W) every scaled slice is centred on (``data.slices.network_canvas``).
        num_classes: label values must be < this.
        boxes: per volume, the foreground box the slices are cropped to (``training_boxes``);
            unlabeled slices outside its occupied slices are left out. ``None``: whole slices.

    Returns:
        Labeled images/targets and unlabeled images on the canvas (targets 0 on the padding).

    Raises:
        InputError: no labeled slice, index out of range, labels beyond the table, shape mismatch.
    """
    if not any(len(v.labeled_slices) for v in volumes):
        check_labeled_slices([], 0, axis)  # raises the "no labeled slice" InputError
    lab_img: list[np.ndarray] = []
    lab_tgt: list[np.ndarray] = []
    unl_img: list[np.ndarray] = []
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
        unlabeled = ~mask
        if boxes is not None:
            box = boxes[len(lab_img)]
            images = images[:, slice(*box.rows), slice(*box.cols)]
            chosen = chosen[:, slice(*box.rows), slice(*box.cols)]
            occupied = np.zeros_like(mask)
            occupied[list(box.occupied)] = True
            unlabeled &= occupied
        lab_img.append(_images_to_canvas(images[mask], scale, canvas))
        lab_tgt.append(_targets_to_canvas(chosen, scale, canvas))
        unl_img.append(
            _images_to_canvas(images[unlabeled], scale, canvas)
            if unlabeled.any()
            else np.zeros((0, *canvas), np.float32)
        )
    return SliceSet(
        np.concatenate(lab_img),
        np.concatenate(lab_tgt),
        np.concatenate(unl_img),
        max(canvas),
        scale,
    )
