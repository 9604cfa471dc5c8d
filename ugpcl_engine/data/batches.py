"""Tensors on the device: cached slices, the two-stream sampler and batched augmentation.

Everything happens on the training device in whole-batch ops (one ``grid_sample`` per batch for
rot90 + free rotation + flip), so a step has no per-image Python work.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ugpcl_engine.config import AugmentationConfig
from ugpcl_engine.data.slices import SliceSet


def scale_images(images: torch.Tensor, scale: float) -> torch.Tensor:
    """Bilinear resize by ``scale`` (output sides ``floor(side · scale)``, as ONNX ``Resize``).

    The inference graph (``inference.wrapper``) calls this same function, so training slices and
    inference slices are resampled identically. Identity when ``scale == 1``.

    Args:
        images: (N, C, H, W) float.
        scale: resize factor.
    """
    if scale == 1.0:
        return images
    return F.interpolate(
        images,
        scale_factor=scale,
        mode="bilinear",
        align_corners=False,
        recompute_scale_factor=False,
    )


def scale_labels(labels: torch.Tensor, scale: float) -> torch.Tensor:
    """Nearest resize of integer label maps (N, H, W) by ``scale``; same output size as
    ``scale_images``."""
    if scale == 1.0:
        return labels
    out = F.interpolate(
        labels[:, None].float(), scale_factor=scale, mode="nearest", recompute_scale_factor=False
    )
    return out[:, 0].long()


@dataclass
class DeviceSlices:
    """Cached training slices on the device.

    Attributes:
        labeled: (L, 1, H, W) float32 images.
        targets: (L, H, W) int64 labels.
        unlabeled: (U, 1, H, W) float32 images (U >= 1: labeled images stand in when none).
    """

    labeled: torch.Tensor
    targets: torch.Tensor
    unlabeled: torch.Tensor

    @classmethod
    def from_slice_set(cls, slices: SliceSet, device: torch.device) -> DeviceSlices:
        """Move a ``SliceSet`` to ``device``."""
        labeled = torch.from_numpy(np.ascontiguousarray(slices.labeled_images))[:, None]
        unlabeled_np = slices.unlabeled_images
        if len(unlabeled_np) == 0:
            unlabeled_np = slices.labeled_images
        return cls(
            labeled.to(device),
            torch.from_numpy(slices.labeled_targets.astype(np.int64)).to(device),
            torch.from_numpy(np.ascontiguousarray(unlabeled_np))[:, None].to(device),
        )


_SEED_OFFSET = 0x5EED_0F_5A4D
"""Added to the sampler's seed: its generator does not start on the same random numbers as the
trainer's augmentation generator, which is seeded with the plain seed."""


class TwoStreamSampler:
    """Draws ``n_labeled`` labeled and ``n_unlabeled`` unlabeled slices per batch.

    Each stream is an independent shuffled epoch (reshuffled when exhausted), so every slice is
    seen equally often and the labeled share of a batch is exactly ``n_labeled / (n_l + n_u)``.

    The epochs are ``torch.randperm`` on the data's device (one generator there, seeded from
    ``seed``) and a batch is a slice of them (the bookkeeping is in Python ints), so a step never
    copies indices from the host nor waits for the device.
    """

    def __init__(self, data: DeviceSlices, n_labeled: int, n_unlabeled: int, seed: int) -> None:
        self.data = data
        self.n_labeled = n_labeled
        self.n_unlabeled = n_unlabeled
        self._device = data.labeled.device
        self._generator = torch.Generator(device=self._device).manual_seed(seed + _SEED_OFFSET)
        self._epochs = {
            "l": _Epochs(len(data.labeled), self._device, self._generator),
            "u": _Epochs(len(data.unlabeled), self._device, self._generator),
        }

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (labeled images (Bl,1,S,S), targets (Bl,S,S), unlabeled images (Bu,1,S,S))."""
        li = self._epochs["l"].take(self.n_labeled)
        ui = self._epochs["u"].take(self.n_unlabeled)
        return self.data.labeled[li], self.data.targets[li], self.data.unlabeled[ui]


class _Epochs:
    """Consecutive shuffled epochs of ``range(population)`` on ``device``, read in order."""

    def __init__(self, population: int, device: torch.device, generator: torch.Generator) -> None:
        self.population = population
        self.device = device
        self.generator = generator
        self._order = torch.empty(0, dtype=torch.long, device=device)
        self._pos = 0

    def take(self, count: int) -> torch.Tensor:
        """The next ``count`` indices (int64 on the device), drawing new epochs as needed."""
        if count > 0 and self.population == 0:
            raise ValueError("cannot draw from a stream without slices")
        pieces = []
        while count > 0:
            if self._pos == len(self._order):
                self._order = torch.randperm(
                    self.population, generator=self.generator, device=self.device
                )
                self._pos = 0
            n = min(count, self.population - self._pos)
            pieces.append(self._order[self._pos : self._pos + n])
            self._pos += n
            count -= n
        if not pieces:
            return self._order[:0]
        return pieces[0] if len(pieces) == 1 else torch.cat(pieces)


def augment(
    images: torch.Tensor,
    targets: torch.Tensor | None,
    config: AugmentationConfig,
    generator: torch.Generator,
    out_size: tuple[int, int] | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Augment a batch in one pass (UGPCL §3.1), optionally cropping it.

    Per image: horizontal flip (p = ``flip_p``), brightness and contrast factors from
    ``intensity_range`` (see ``_jitter``), rotation by ``k``·90° (k uniform in 0..3, the
    rotation-head target; 0 for the labeled images when ``rot90_labeled`` is off) plus a free
    angle in ±``rotate_deg``, a zoom from ``zoom_range`` and a shift of up to ``shift`` of each
    side. Labels follow the same geometry with nearest sampling (images with
    ``image_sampling``); pixels rotated in from outside become background (0).

    With ``out_size`` smaller than the canvas, each image is also cropped at a random place
    (uniform over the positions where the unrotated crop lies inside the canvas) in the same
    ``grid_sample``: the step then costs the crop's pixels only, at native resolution.

    Args:
        images: (B, 1, H, W) float in [0, 1] (any canvas; rotations are true rotations in
            pixels also when H != W).
        targets: (Bl, H, W) int64 labels of the first Bl images, or ``None``.
        config: augmentation settings.
        generator: random source on the images' device.
        out_size: (h, w) of the output crop, at most (H, W); ``None``: the whole canvas.

    Returns:
        (images (B,1,h,w), targets (Bl,h,w) or None, k (B,) int64 rotation classes).
    """
    b, device = images.shape[0], images.device
    height, width = images.shape[-2], images.shape[-1]
    out_h, out_w = out_size or (height, width)
    if out_h > height or out_w > width:
        raise ValueError(f"crop {out_size} is larger than the canvas {(height, width)}")

    def uniform(lo: float, hi: float) -> torch.Tensor:
        return torch.rand(b, device=device, generator=generator) * (hi - lo) + lo

    k = torch.randint(0, 4, (b,), device=device, generator=generator)
    if not config.rot90_labeled and targets is not None:
        k[: targets.shape[0]] = 0
    angle = k.float() * (math.pi / 2) + uniform(-1, 1) * math.radians(config.rotate_deg)
    flip = (torch.rand(b, device=device, generator=generator) < config.flip_p).float() * -2 + 1
    cos, sin = torch.cos(angle), torch.sin(angle)
    # a rotation in pixels written in affine_grid's normalised coordinates ([-1, 1] across
    # each side of the output and of the input): each term carries the ratio of the sides
    # zoom z > 1 magnifies: an output pixel samples the input 1/z as far from the centre
    # (drawn only when asked for, so runs without them keep their random stream)
    if config.zoom_range != (1.0, 1.0):
        inv_zoom = 1.0 / uniform(*config.zoom_range)
        cos, sin = cos * inv_zoom, sin * inv_zoom
    shift_x, shift_y = torch.zeros_like(cos), torch.zeros_like(cos)
    if config.shift > 0:
        shift_x, shift_y = (uniform(-1, 1) * 2 * config.shift for _ in range(2))
    if (out_h, out_w) != (height, width):
        # the crop's first column i0 (row j0) anywhere it fits, on whole pixels: a fractional
        # offset would blur every image through the bilinear sampling
        i0 = (uniform(0, 1) * (width - out_w + 1)).floor().clamp(max=width - out_w)
        j0 = (uniform(0, 1) * (height - out_h + 1)).floor().clamp(max=height - out_h)
        shift_x = shift_x + (2 * i0 + out_w - width) / width
        shift_y = shift_y + (2 * j0 + out_h - height) / height
    theta = torch.stack(
        [
            torch.stack([cos * flip * (out_w / width), -sin * (out_h / width), shift_x], 1),
            torch.stack([sin * flip * (out_w / height), cos * (out_h / height), shift_y], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, [b, images.shape[1], out_h, out_w], align_corners=False)
    jittered = _jitter(images, config, uniform)
    out = F.grid_sample(
        jittered, grid, mode=config.image_sampling, padding_mode="zeros", align_corners=False
    )
    out_targets = None
    if targets is not None:
        nl = targets.shape[0]
        warped = F.grid_sample(
            targets[:, None].float(),
            grid[:nl],
            mode="nearest",
            padding_mode="zeros",
            align_corners=False,
        )
        out_targets = warped[:, 0].round().long()
    return out, out_targets, k


def _contrast(images: torch.Tensor, factor: torch.Tensor, clamp: bool) -> torch.Tensor:
    """Scale each image's deviations from its mean by ``factor`` (B,1,1,1)."""
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    out = (images - mean) * factor + mean
    return out.clamp(0.0, 1.0) if clamp else out


def _brightness(images: torch.Tensor, factor: torch.Tensor, clamp: bool) -> torch.Tensor:
    out = images * factor
    return out.clamp(0.0, 1.0) if clamp else out


def _jitter(
    images: torch.Tensor,
    config: AugmentationConfig,
    uniform: Callable[[float, float], torch.Tensor],
) -> torch.Tensor:
    """Brightness and contrast jitter of a (B, C, H, W) batch (``AugmentationConfig``).

    Contrast then brightness, unclamped, on every image by default. ``jitter_clamp``: the order
    is drawn per image and each result clamped to [0, 1], as torchvision's ``ColorJitter`` does
    with float images; ``jitter_p`` < 1: each image is jittered with that probability. Those
    extra numbers are drawn only when asked for, so the default random stream is unchanged.
    """
    lo, hi = config.intensity_range
    contrast = uniform(lo, hi)[:, None, None, None]
    brightness = uniform(lo, hi)[:, None, None, None]
    clamp = config.jitter_clamp
    out = _brightness(_contrast(images, contrast, clamp), brightness, clamp)
    if clamp:
        brightness_first = (uniform(0.0, 1.0) < 0.5)[:, None, None, None]
        other = _contrast(_brightness(images, brightness, clamp), contrast, clamp)
        out = torch.where(brightness_first, other, out)
    if config.jitter_p < 1.0:
        applied = (uniform(0.0, 1.0) < config.jitter_p)[:, None, None, None]
        out = torch.where(applied, out, images)
    return out
