"""One UGPCL optimisation step (UGPCL_METHOD.md §3), fully on the device.

The labeled half comes first in the batch. Each softmax is computed once and reused. The
contrastive loss is computed against the memory bank *before* the bank is updated with this
step's detached region means. Loss values stay tensors: logging calls ``.item()`` every N steps
only, so a step has no host-device sync.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ugpcl_engine.config import TrainingConfig
from ugpcl_engine.losses import (
    ClassMemoryBank,
    consistency_loss,
    dice_ce_loss,
    sigmoid_rampup,
)
from ugpcl_engine.losses.guidance import (
    certain_pseudo_labels,
    entropy_of_mean,
    uncertainty_threshold,
)
from ugpcl_engine.losses.pixel_contrast import ContrastOutput, ugpcl_contrast
from ugpcl_engine.model import UGPCLNet

ContrastFn = Callable[..., ContrastOutput]


@dataclass(frozen=True)
class StepBatch:
    """An augmented batch.

    Attributes:
        images: (Bl + Bu, 1, S, S) labeled images first.
        targets: (Bl, S, S) int64 labels of the labeled images.
        rotations: (Bl + Bu,) int64 rot90 classes (targets of the rotation head).
    """

    images: torch.Tensor
    targets: torch.Tensor
    rotations: torch.Tensor


@dataclass(frozen=True)
class StepSchedule:
    """Where the run stands: step index and the schedule lengths derived from the config."""

    step: int
    total: int
    config: TrainingConfig

    @property
    def consistency_weight(self) -> float:
        """λ_con(t) = w_con · sigmoid_rampup(t, ramp)."""
        ramp = self.config.con_ramp_fraction * self.total
        return self.config.w_con * sigmoid_rampup(self.step, ramp)

    @property
    def contrast_active(self) -> bool:
        """The contrastive loss starts after ``contrast_warmup_fraction`` of the run."""
        return self.step >= math.floor(self.config.contrast_warmup_fraction * self.total)


def supervised_loss(
    seg: torch.Tensor,
    seg_tf: torch.Tensor,
    p: torch.Tensor,
    q: torch.Tensor,
    y: torch.Tensor,
    config: TrainingConfig,
) -> torch.Tensor:
    """L_sup = L_ds(p, y) + w_sup_tf · L_ds(q, y) on the labeled sub-batch (shapes (Bl, C, S, S));
    the Dice term counts background when ``config.dice_background``."""
    bg = config.dice_background
    return dice_ce_loss(seg, p, y, bg) + config.w_sup_tf * dice_ce_loss(seg_tf, q, y, bg)


def ugpcl_losses(
    net: UGPCLNet,
    bank: ClassMemoryBank,
    batch: StepBatch,
    sched: StepSchedule,
    generator: torch.Generator | None = None,
    contrast_fn: ContrastFn = ugpcl_contrast,
) -> dict[str, torch.Tensor]:
    """Forward the batch and return every loss term (tensors; ``total`` is the one to minimise).

    Args:
        net: the UGPCL network.
        bank: per-class memory bank (updated here, after the loss is computed).
        batch: augmented batch, labeled half first.
        sched: step index and schedule.
        generator: random source for anchor sampling.
        contrast_fn: the contrastive term (the step benchmark swaps in a loop-based one).

    Returns:
        ``total``, ``sup``, ``con``, ``rot``, ``contrast`` (scalar tensors).
    """
    cfg = sched.config
    nl = batch.targets.shape[0]
    out = net(batch.images)
    p, q = torch.softmax(out.seg, 1), torch.softmax(out.seg_tf, 1)
    sup = supervised_loss(out.seg[:nl], out.seg_tf[:nl], p[:nl], q[:nl], batch.targets, cfg)
    con = consistency_loss(p[nl:], q[nl:]) if p.shape[0] > nl else sup * 0
    rot = F.cross_entropy(out.rot_logits, batch.rotations)
    with torch.no_grad():
        mean_probs, entropy = entropy_of_mean(p.detach(), q.detach())
        thr = uncertainty_threshold(
            sched.step, cfg.uncertainty_ramp_fraction * sched.total, p.shape[1], cfg.entropy_scale
        )
        pseudo = certain_pseudo_labels(mean_probs[nl:], entropy[nl:], thr)
        labels = torch.cat([batch.targets, pseudo], 0)
    # the bank is filled from step 0 so that it is full when the contrastive loss starts
    contrast_out = contrast_fn(
        out.embed, labels, p.detach().max(1).indices, bank, cfg.temperature, generator
    )
    contrast = contrast_out.loss if sched.contrast_active else sup * 0
    bank.enqueue(contrast_out.means.detach(), contrast_out.classes, contrast_out.valid)
    total = sup + sched.consistency_weight * con + cfg.w_rot * rot + cfg.w_contrast * contrast
    return {"total": total, "sup": sup, "con": con, "rot": rot, "contrast": contrast}


def supervised_losses(
    net: UGPCLNet, batch: StepBatch, sched: StepSchedule
) -> dict[str, torch.Tensor]:
    """The supervised-only baseline: every image of the batch is labeled, L_sup only.

    Args:
        net: the network (same as UGPCL's).
        batch: augmented batch whose ``targets`` cover every image.
        sched: step index and schedule.

    Returns:
        ``total`` and ``sup`` (scalar tensors).
    """
    seg, seg_tf = net.forward_decoders(batch.images)
    p, q = torch.softmax(seg, 1), torch.softmax(seg_tf, 1)
    sup = supervised_loss(seg, seg_tf, p, q, batch.targets, sched.config)
    return {"total": sup, "sup": sup}


def poly_lr(step: int, total: int, config: TrainingConfig) -> float:
    """Poly decay ``lr · (1 - t/T)^power``, never below ``lr_floor``."""
    return float(max(config.lr * (1 - step / max(total, 1)) ** config.poly_power, config.lr_floor))
