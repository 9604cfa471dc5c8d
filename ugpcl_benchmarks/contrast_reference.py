"""Plain-loop reference versions of the contrastive parts (for tests and the step benchmark only).

These follow the authors' style (Python loops over images, classes and anchors, ``nonzero`` and
``.item()``, one host sync per iteration) but with the corrected semantics of
``ugpcl_engine.losses.pixel_contrast`` and ``memory_bank``: a real background queue, unwritten
slots ignored, no self-mask. They must give the same numbers as the vectorised versions (the
anchor sampler draws differently, so only its rules can be compared). Never used in training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ugpcl_engine.losses.memory_bank import ClassMemoryBank
from ugpcl_engine.losses.pixel_contrast import ContrastOutput, downsample_labels


def loop_region_means(
    embed: Tensor, labels: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Loop version of ``region_means`` (same shapes and row order)."""
    b, d = embed.shape[:2]
    means = embed.new_zeros(b * num_classes, d)
    valid = torch.zeros(b * num_classes, dtype=torch.bool, device=embed.device)
    for i in range(b):
        for c in range(num_classes):
            ys, xs = (labels[i] == c).nonzero(as_tuple=True)
            if ys.numel() == 0:
                continue
            means[i * num_classes + c] = F.normalize(embed[i, :, ys, xs].mean(dim=1), dim=0)
            valid[i * num_classes + c] = ys.numel() > 1
    classes = torch.arange(num_classes, device=embed.device).repeat(b)
    return means, classes, valid


def loop_sample_anchors(
    embed: Tensor, labels: Tensor, preds: Tensor, num_classes: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Loop version of ``sample_anchors`` (uses the global torch RNG)."""
    b, d = embed.shape[:2]
    rows, valid = [], []
    for i in range(b):
        for c in range(num_classes):
            mask = labels[i] == c
            easy = (mask & (preds[i] == c)).nonzero()
            pool = easy if easy.shape[0] > 0 else mask.nonzero()
            valid.append(int(mask.sum().item()) > 1)
            if pool.shape[0] == 0:
                rows.append(embed.new_zeros(d))
                continue
            y, x = pool[int(torch.randint(pool.shape[0], (1,)).item())].tolist()
            rows.append(embed[i, :, y, x])
    classes = torch.arange(num_classes, device=embed.device).repeat(b)
    return torch.stack(rows), classes, torch.tensor(valid, device=embed.device)


def loop_enqueue(bank: ClassMemoryBank, means: Tensor, classes: Tensor, valid: Tensor) -> None:
    """Loop version of ``ClassMemoryBank.enqueue``: write valid rows one by one."""
    queue, filled, ptr = bank.queue.clone(), bank.filled.clone(), bank.ptr.clone()
    for i in range(means.shape[0]):
        if not bool(valid[i].item()):
            continue
        c = int(classes[i].item())
        p = int(ptr[c].item())
        queue[c, p] = means[i].detach()
        filled[c, p] = True
        ptr[c] = (p + 1) % bank.size
    bank.queue, bank.filled, bank.ptr = queue, filled, ptr


def loop_contrast_loss(
    anchors: Tensor,
    anchor_classes: Tensor,
    anchor_valid: Tensor,
    bank: ClassMemoryBank,
    temperature: float = 0.07,
) -> Tensor:
    """Loop version of ``pixel_contrast_loss`` (one anchor at a time, the formula as written)."""
    losses = []
    for i in range(anchors.shape[0]):
        if not bool(anchor_valid[i].item()):
            continue
        c = int(anchor_classes[i].item())
        positives = bank.queue[c][bank.filled[c]]
        others = [bank.queue[k][bank.filled[k]] for k in range(bank.num_classes) if k != c]
        negatives = torch.cat(others) if others else anchors.new_zeros(0, anchors.shape[1])
        if positives.shape[0] == 0 or negatives.shape[0] == 0:
            continue
        neg_sum = torch.exp(negatives @ anchors[i] / temperature).sum()
        s_pos = positives @ anchors[i] / temperature  # the formula as written, no logsumexp
        losses.append(-(s_pos - torch.log(torch.exp(s_pos) + neg_sum)).mean())
    if not losses:
        return anchors.sum() * 0.0
    return torch.stack(losses).mean()


def loop_ugpcl_contrast(
    embed: Tensor,
    labels: Tensor,
    preds: Tensor,
    bank: ClassMemoryBank,
    temperature: float = 0.07,
) -> ContrastOutput:
    """Loop version of ``ugpcl_contrast`` (what a straightforward implementation costs)."""
    size = (embed.shape[2], embed.shape[3])
    small_labels, small_preds = downsample_labels(labels, size), downsample_labels(preds, size)
    c = bank.num_classes
    anchors, classes, valid = loop_sample_anchors(embed, small_labels, small_preds, c)
    loss = loop_contrast_loss(anchors, classes, valid, bank, temperature)
    means, mean_classes, mean_valid = loop_region_means(embed, small_labels, c)
    return ContrastOutput(loss, means, mean_classes, mean_valid)
