"""Uncertainty-guided pixel contrastive loss (method §3, step 5), vectorised on the device.

The pieces, in the order the trainer uses them each step:

1. ``downsample_labels`` brings labels (ground truth for the labeled half, certain pseudo-labels
   with ``-1`` for the unlabeled half) and the CNN predictions to the embedding grid (nearest).
2. ``sample_anchors`` picks one embedding per (image, class present with > 1 pixel).
3. ``pixel_contrast_loss`` contrasts those anchors with the memory bank *as it was before this
   step* (InfoNCE with all same-class entries as positives).
4. ``region_means`` gives this step's per-(image, class) mean embeddings, which the trainer then
   enqueues (detached) with ``ClassMemoryBank.enqueue``, after computing the loss.

``ugpcl_contrast`` bundles 1-4 (minus the enqueue). Differences from the authors' code (method §4),
on purpose: no per-(image, class) Python loops, ``.item()`` or ``nonzero()`` (fixed-shape outputs
with a ``valid`` mask instead), no anchor-vs-anchor self-mask that would drop bank positives,
background anchors contrast against a real background queue, unwritten bank slots are masked.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ugpcl_engine.losses.memory_bank import ClassMemoryBank


def downsample_labels(labels: Tensor, size: tuple[int, int]) -> Tensor:
    """Nearest-neighbour resize of a label map, keeping ``-1`` (ignore) values.

    Args:
        labels: (B, H, W) int64 labels (``-1`` = ignore).
        size: target (h, w).

    Returns:
        (B, h, w) int64, same device. Sampling follows ``F.interpolate(mode="nearest")``.
    """
    if tuple(labels.shape[-2:]) == tuple(size):
        return labels
    small = F.interpolate(labels.unsqueeze(1).float(), size=size, mode="nearest")
    return small.squeeze(1).round().to(torch.int64)


def _class_masks(labels: Tensor, num_classes: int) -> Tensor:
    """(B, h, w) labels → (B, C, h·w) bool masks (``-1`` belongs to no class)."""
    classes = torch.arange(num_classes, device=labels.device).view(1, num_classes, 1)
    return labels.flatten(1).unsqueeze(1) == classes


def region_means(embed: Tensor, labels: Tensor, num_classes: int) -> tuple[Tensor, Tensor, Tensor]:
    """Mean embedding of every class in every image, re-normalised (one one-hot matmul).

    Args:
        embed: (B, D, h, w) L2-normalised pixel embeddings.
        labels: (B, h, w) int64 labels on the embedding grid, ``-1`` = ignore.
        num_classes: C.

    Returns:
        ``(means, classes, valid)``: (B·C, D) unit-length means (row ``b·C + c`` is class ``c`` of
        image ``b``; zero rows where the class is absent), (B·C,) int64 classes, (B·C,) bool,
        ``True`` where the class has more than one pixel in that image. Gradients flow into
        ``embed``; detach before storing.
    """
    b, d = embed.shape[:2]
    masks = _class_masks(labels, num_classes).to(embed.dtype)  # (B, C, hw)
    sums = torch.bmm(masks, embed.reshape(b, d, -1).transpose(1, 2))  # (B, C, D)
    counts = masks.sum(dim=2)  # (B, C)
    means = F.normalize(sums / counts.clamp(min=1).unsqueeze(2), dim=2)
    classes = torch.arange(num_classes, device=embed.device).repeat(b)
    return means.reshape(b * num_classes, d), classes, (counts > 1).reshape(-1)


def sample_anchors(
    embed: Tensor,
    labels: Tensor,
    preds: Tensor,
    num_classes: int,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One anchor embedding per (image, class present with > 1 pixel).

    The anchor is a uniformly random "easy" pixel of the class (``labels == preds``) when there is
    one, else a uniformly random "hard" pixel (``labels != preds``). Done with random keys and a
    masked argmax over the pixels: easy pixels get keys in [2, 3), hard ones [0, 1), others -1.

    Args:
        embed: (B, D, h, w) pixel embeddings.
        labels: (B, h, w) int64 labels on the embedding grid, ``-1`` = ignore.
        preds: (B, h, w) int64 CNN predictions on the embedding grid.
        num_classes: C.
        generator: optional torch generator on ``embed``'s device, for reproducible picks.

    Returns:
        ``(anchors, classes, valid)``: (B·C, D) embeddings (row ``b·C + c``; gradients flow into
        ``embed``), (B·C,) int64 classes, (B·C,) bool, ``True`` where the class has > 1 pixel.
    """
    b, d = embed.shape[:2]
    masks = _class_masks(labels, num_classes)  # (B, C, hw)
    easy = masks & (labels == preds).flatten(1).unsqueeze(1)
    keys = torch.rand(masks.shape, generator=generator, device=embed.device)
    score = torch.where(masks, keys + 2.0 * easy.to(keys.dtype), torch.full_like(keys, -1.0))
    index = score.argmax(dim=2)  # (B, C)
    flat = embed.reshape(b, d, -1)
    anchors = torch.gather(flat, 2, index.unsqueeze(1).expand(b, d, num_classes))  # (B, D, C)
    classes = torch.arange(num_classes, device=embed.device).repeat(b)
    valid = (masks.sum(dim=2) > 1).reshape(-1)
    return anchors.transpose(1, 2).reshape(b * num_classes, d), classes, valid


def pixel_contrast_loss(
    anchors: Tensor,
    anchor_classes: Tensor,
    anchor_valid: Tensor,
    bank: ClassMemoryBank,
    temperature: float = 0.07,
) -> Tensor:
    """InfoNCE of anchors against the memory bank, every same-class entry a positive.

    ``L_i = -(1/|P_i|) Σ_{j∈P_i} [s_ij - log(exp(s_ij) + Σ_{n∈N_i} exp(s_in))]``, ``s = a·k/τ``,
    with ``P_i`` the filled bank entries of the anchor's class and ``N_i`` the filled entries of
    the other classes. The result is the mean of ``L_i`` over valid anchors that have at least one
    positive and one negative, or 0 (still attached to the graph of ``anchors``) when there are
    none. Computed in float32 with autocast off, masked, via logsumexp; no loops, no host sync.
    Call it before ``bank.enqueue`` of this step's means (the bank holds earlier steps only).

    Args:
        anchors: (N, D) L2-normalised anchor embeddings.
        anchor_classes: (N,) int64 classes.
        anchor_valid: (N,) bool, anchors to use.
        bank: the memory bank.
        temperature: τ > 0.

    Returns:
        Scalar float32 tensor.
    """
    keys, key_classes, filled = bank.entries()
    with torch.autocast(device_type=anchors.device.type, enabled=False):
        sim = anchors.float() @ keys.float().T / temperature  # (N, C·M)
        same = anchor_classes.unsqueeze(1) == key_classes.unsqueeze(0)
        pos = same & filled
        neg = ~same & filled
        very_low = torch.finfo(sim.dtype).min
        neg_lse = torch.logsumexp(sim.masked_fill(~neg, very_low), dim=1, keepdim=True)
        log_prob = sim - torch.logaddexp(sim, neg_lse)
        n_pos = pos.sum(dim=1)
        per_anchor = -log_prob.masked_fill(~pos, 0.0).sum(dim=1) / n_pos.clamp(min=1)
        use = anchor_valid & (n_pos > 0) & neg.any(dim=1)
        total = per_anchor.masked_fill(~use, 0.0).sum()
        return total / use.sum().clamp(min=1)


class ContrastOutput(NamedTuple):
    """What ``ugpcl_contrast`` returns.

    Attributes:
        loss: scalar contrastive loss (against the bank before this step's update).
        means: (B·C, D) region means of this step, to enqueue (detached by the bank).
        classes: (B·C,) int64 class of each mean.
        valid: (B·C,) bool, means to enqueue.
    """

    loss: Tensor
    means: Tensor
    classes: Tensor
    valid: Tensor


def ugpcl_contrast(
    embed: Tensor,
    labels: Tensor,
    preds: Tensor,
    bank: ClassMemoryBank,
    temperature: float = 0.07,
    generator: torch.Generator | None = None,
) -> ContrastOutput:
    """The whole contrastive term of one step, except the bank update.

    Usage in the trainer::

        out = ugpcl_contrast(embed, labels, preds, bank, tau)
        loss = ... + w_contrast * out.loss
        bank.enqueue(out.means, out.classes, out.valid)  # after the loss, before/after backward
        loss.backward()

    Args:
        embed: (B, D, h, w) L2-normalised embeddings of the whole batch.
        labels: (B, H, W) int64: ground truth for labeled images, certain pseudo-labels (``-1`` =
            uncertain) for unlabeled ones; any (H, W), resized here to (h, w) by nearest.
        preds: (B, H, W) int64 CNN argmax predictions (resized likewise).
        bank: the memory bank (its ``num_classes`` is C).
        temperature: InfoNCE temperature.
        generator: optional generator for anchor sampling.

    Returns:
        ``ContrastOutput(loss, means, classes, valid)``.
    """
    size = (embed.shape[2], embed.shape[3])
    small_labels = downsample_labels(labels, size)
    small_preds = downsample_labels(preds, size)
    c = bank.num_classes
    anchors, classes, valid = sample_anchors(embed, small_labels, small_preds, c, generator)
    loss = pixel_contrast_loss(anchors, classes, valid, bank, temperature)
    means, mean_classes, mean_valid = region_means(embed, small_labels, c)
    return ContrastOutput(loss, means, mean_classes, mean_valid)
