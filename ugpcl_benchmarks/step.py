"""Benchmark ``step``: the price of the method and of Python loops, per training step.

Side by side in one run, same model and batch: the full UGPCL step vs the supervised-only step
(forward on the same images, supervised loss only), and our vectorised step vs the same step with
the loop-based contrastive term (``ugpcl_benchmarks.contrast_reference``). Light and ResNet-50
backbones at 128² and 256²; medians of interleaved repeats; ratios are the result.

On the CPU by default; ``--device cuda`` times the same steps on the GPU as the trainer runs them
(bf16 autocast when the preset asks for it, cuDNN autotuning and TF32 on, a device synchronise
before each clock read).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from ugpcl_benchmarks.contrast_reference import loop_ugpcl_contrast
from ugpcl_benchmarks.runner import BenchmarkResult, format_table
from ugpcl_engine.config import ModelConfig, TrainingConfig, preset
from ugpcl_engine.data.batches import augment
from ugpcl_engine.device import configure_device, resolve_device
from ugpcl_engine.losses import ClassMemoryBank
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


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _time_steps(
    backbone: str, size: int, repeats: int, device: torch.device | None = None
) -> dict[str, float]:
    device = device or torch.device("cpu")
    configure_device(device)
    classes = 8
    torch.manual_seed(0)
    mcfg = _model_config(backbone, classes)
    net = build_model(mcfg).train().to(device)
    bank = ClassMemoryBank(classes, mcfg.embed_dim, 500).to(device)
    tcfg = TrainingConfig(steps=1000, batch_labeled=BATCH // 2, batch_unlabeled=BATCH // 2)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    gen = torch.Generator(device=device).manual_seed(0)
    images = torch.rand(BATCH, 1, size, size, generator=gen, device=device)
    targets = (images[:, 0] * classes).long().clamp(max=classes - 1)
    sched = StepSchedule(500, 1000, tcfg)  # contrastive loss active
    use_amp = tcfg.amp and device.type == "cuda"

    def run(kind: str) -> float:
        imgs, tg, k = augment(images, targets, tcfg.augmentation, gen)
        assert tg is not None
        _sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            losses = _losses(kind, imgs, tg, k)
        opt.zero_grad()
        losses["total"].backward()  # type: ignore[no-untyped-call]
        opt.step()
        _sync(device)
        return time.perf_counter() - start

    def _losses(kind: str, imgs: Any, tg: Any, k: Any) -> dict[str, torch.Tensor]:
        if kind == "supervised":
            return supervised_losses(net, StepBatch(imgs, tg, k), sched)
        fn: Callable[..., Any] | None = _loop_contrast if kind == "loop" else None
        batch = StepBatch(imgs, tg[: BATCH // 2], k)
        if fn:
            return ugpcl_losses(net, bank, batch, sched, gen, fn)
        return ugpcl_losses(net, bank, batch, sched, gen)

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
    name = getattr(args, "device", "auto")
    device = resolve_device("cpu" if name == "auto" else name)  # auto: the CPU, as before
    rows: list[list[Any]] = []
    summary: dict[str, float] = {}
    for backbone in ("light", "resnet50"):
        for size in (128, 256):
            repeats = 3 if (quick and backbone == "resnet50") else 5
            t = _time_steps(backbone, size, repeats, device)
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
    where = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{torch.get_num_threads()} CPU threads"
    )
    header = f"training step on {where}, batch {BATCH} (4+4)\n"
    details = {"rows": rows, "batch": BATCH, "device": where, "torch": torch.__version__}
    return BenchmarkResult(header + table, summary, details)
