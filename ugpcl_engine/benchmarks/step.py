"""Benchmark ``step``: the price of the method and of Python loops, per training step on CPU.

Side by side in one run, same model and batch: the full UGPCL step vs the supervised-only step
(forward on the same images, supervised loss only), and our vectorised step vs the same step with
the loop-based contrastive term (``ugpcl_engine.losses.reference``). Light and ResNet-50
backbones at 128² and 256²; medians of interleaved repeats; ratios are the result.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from ugpcl_engine.benchmarks import BenchmarkResult, format_table
from ugpcl_engine.config import ModelConfig, TrainingConfig, preset
from ugpcl_engine.data.batches import augment
from ugpcl_engine.losses import ClassMemoryBank
from ugpcl_engine.losses.reference import loop_ugpcl_contrast
from ugpcl_engine.model import build_model
from ugpcl_engine.training.step import StepBatch, StepSchedule, supervised_losses, ugpcl_losses

BATCH = 8  # 4 labeled + 4 unlabeled


def _model_config(backbone: str, classes: int) -> ModelConfig:
    return (
        preset("paper", classes) if backbone == "resnet50" else preset("standard", classes)
    ).model


def _loop_contrast(
    embed: Any, labels: Any, preds: Any, bank: Any, tau: float, generator: Any = None
) -> Any:
    return loop_ugpcl_contrast(embed, labels, preds, bank, tau)


def _time_steps(backbone: str, size: int, repeats: int) -> dict[str, float]:
    classes = 8
    torch.manual_seed(0)
    mcfg = _model_config(backbone, classes)
    net = build_model(mcfg).train()
    bank = ClassMemoryBank(classes, mcfg.embed_dim, 500)
    tcfg = TrainingConfig(steps=1000, batch_labeled=BATCH // 2, batch_unlabeled=BATCH // 2)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    gen = torch.Generator().manual_seed(0)
    images = torch.rand(BATCH, 1, size, size, generator=gen)
    targets = (images[:, 0] * classes).long().clamp(max=classes - 1)
    sched = StepSchedule(500, 1000, tcfg)  # contrastive loss active

    def run(kind: str) -> float:
        imgs, tg, k = augment(images, targets, tcfg.augmentation, gen)
        assert tg is not None
        start = time.perf_counter()
        if kind == "supervised":
            losses = supervised_losses(net, StepBatch(imgs, tg, k), sched)
        else:
            fn: Callable[..., Any] | None = _loop_contrast if kind == "loop" else None
            batch = StepBatch(imgs, tg[: BATCH // 2], k)
            losses = (
                ugpcl_losses(net, bank, batch, sched, gen, fn)
                if fn
                else ugpcl_losses(net, bank, batch, sched, gen)
            )
        opt.zero_grad()
        losses["total"].backward()  # type: ignore[no-untyped-call]
        opt.step()
        return time.perf_counter() - start

    kinds = ("ugpcl", "supervised", "loop")
    for kind in kinds:  # warm-up (allocator, bank filling)
        run(kind)
    times: dict[str, list[float]] = {k: [] for k in kinds}
    for _ in range(repeats):
        for kind in kinds:
            times[kind].append(run(kind))
    return {k: statistics.median(v) for k, v in times.items()}


def run(args: argparse.Namespace) -> BenchmarkResult:
    """Time the steps for every backbone × size; see the module docstring."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    quick = getattr(args, "budget", "quick") == "quick"
    rows: list[list[Any]] = []
    summary: dict[str, float] = {}
    for backbone in ("light", "resnet50"):
        for size in (128, 256):
            repeats = 3 if (quick and backbone == "resnet50") else 5
            t = _time_steps(backbone, size, repeats)
            ratio = t["ugpcl"] / t["supervised"]
            loop_ratio = t["loop"] / t["ugpcl"]
            summary[f"ugpcl_over_supervised_{backbone}_{size}"] = round(ratio, 3)
            summary[f"loop_over_vectorised_{backbone}_{size}"] = round(loop_ratio, 3)
            summary[f"ugpcl_step_s_{backbone}_{size}"] = round(t["ugpcl"], 3)
            rows.append(
                [backbone, f"{size}²", t["supervised"], t["ugpcl"], t["loop"], ratio, loop_ratio]
            )
    table = format_table(
        ["backbone", "size", "supervised s", "ugpcl s", "loop-based s", "ugpcl/sup", "loop/ugpcl"],
        rows,
    )
    header = f"training step on {torch.get_num_threads()} CPU threads, batch {BATCH} (4+4)\n"
    return BenchmarkResult(header + table, summary, {"rows": rows, "batch": BATCH})
