"""Benchmark ``scale``: data-parallel training on the CPU, and the ``paper`` step's time and memory.

1. Data parallel: the engine's ``train_dataset`` (its distributed path: gradients averaged in
   one all-reduce, the memory bank gathered, batch-norm buffers broadcast) with gloo, one torch
   thread per process, the ``standard`` network at 128² on random images, the same global batch
   8 + 8 split over the processes. Steps per second over the timed steps after a warm-up, for 1
   and for 2 processes; ``scale_efficiency_2proc`` = steps/s(2) / (2 · steps/s(1)) (1: perfect).
2. ``paper`` at 224², batch 8 + 8, with the contrastive loss on: each variant trains a few
   steps in a fresh process (torch's own thread count): the fastest step after the first (the
   machine is shared: the fastest step is the nearest to the step's own cost; the median and
   every step are in the details) and the process's peak resident memory (``ru_maxrss``).
   Variants: the memory switches off (the math of the preset, its memory as before), encoder
   checkpointing alone, the preset (encoder and decoder checkpointing), and the preset with
   ``release_memory``.

``scale-gpu`` runs the ``paper`` preset for a few hundred steps on a CUDA GPU (bf16 autocast as
the trainer does): steps/s and the peak GPU memory, naming the GPU.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.multiprocessing.spawn import spawn

from ugpcl_benchmarks.runner import BenchmarkResult, format_table
from ugpcl_engine.config import RunSpec, preset
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.training.dataset_trainer import DatasetJob, train_dataset
from ugpcl_engine.training.distributed import Ranks
from ugpcl_engine.training.events import Progress
from ugpcl_engine.training.loop import build_run, train_step
from ugpcl_engine.training.step import StepSchedule
from ugpcl_engine.volume import LabelTable

CLASSES = 4
DP_SIDE = 128
DP_BATCH = (8, 8)
PAPER_SIDE = 224
PAPER_BATCH = (8, 8)
VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "no memory switches": {
        "model": {"checkpoint_encoder": False, "checkpoint_decoder": False},
        "training": {"release_memory": False},
    },
    "encoder checkpointing": {
        "model": {"checkpoint_encoder": True, "checkpoint_decoder": False},
        "training": {"release_memory": False},
    },
    "paper preset": {"model": {}, "training": {}},
    "paper + release_memory": {"model": {}, "training": {"release_memory": True}},
}
"""Overrides of the ``paper`` preset, per measured variant."""


class RandomBatches:
    """A fixed global batch of random images and labels; each rank takes its own share.

    Args:
        side: image side.
        batch: (labeled, unlabeled) images of the global batch.
        rank, world: this process's share (``world`` must divide both counts).
        device: where the batches go.
    """

    def __init__(
        self,
        side: int,
        batch: tuple[int, int],
        rank: int = 0,
        world: int = 1,
        device: torch.device | None = None,
    ) -> None:
        gen = torch.Generator().manual_seed(0)
        n_l, n_u = batch[0] // world, batch[1] // world
        images = torch.rand(sum(batch), 1, side, side, generator=gen)
        labeled = images[: batch[0]][rank * n_l : (rank + 1) * n_l]
        unlabeled = images[batch[0] :][rank * n_u : (rank + 1) * n_u]
        device = device or torch.device("cpu")
        self.x_l, self.x_u = labeled.to(device), unlabeled.to(device)
        self.y_l = (self.x_l[:, 0] * CLASSES).long().clamp(max=CLASSES - 1)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This rank's share of the global batch (fresh tensors, as a sampler gives)."""
        return self.x_l.clone(), self.y_l.clone(), self.x_u.clone()


def _dp_spec(steps: int, log_every: int) -> RunSpec:
    return preset(
        "standard",
        CLASSES,
        steps=steps,
        batch_labeled=DP_BATCH[0],
        batch_unlabeled=DP_BATCH[1],
        input_size=DP_SIDE,
        crop_to_foreground=False,
        log_every=log_every,
        device="cpu",
    )


def dp_worker(rank: int, world: int, folder: str, warmup: int, timed: int) -> None:
    """One process of the data-parallel measurement; rank 0 writes ``folder/result.json``."""
    torch.set_num_threads(1)
    ranks = None
    if world > 1:
        store = f"file://{folder}/store"
        dist.init_process_group("gloo", init_method=store, rank=rank, world_size=world)
        ranks = Ranks(rank, world, torch.device("cpu"))
    try:
        out = Path(folder) / f"rank{rank}"
        out.mkdir()
        job = DatasetJob(
            source=RandomBatches(DP_SIDE, DP_BATCH, rank, world),
            label_table=LabelTable.default(CLASSES),
            spec=_dp_spec(warmup + timed, warmup),
            out_dir=out,
            window=IntensityWindow("ct", 0.0, 1.0),
            network_size=DP_SIDE,
            labeled_slices=DP_BATCH[0],
            unlabeled_slices=DP_BATCH[1],
            ranks=ranks,
        )
        # ranks move in lockstep (an all-reduce per step): rank 0's clock times the run
        stamps = {
            e.step: time.perf_counter() for e in train_dataset(job) if isinstance(e, Progress)
        }
        if rank == 0:
            seconds = stamps[warmup + timed] - stamps[warmup]
            result = {"steps_per_s": timed / seconds, "seconds": seconds}
            (Path(folder) / "result.json").write_text(json.dumps(result))
    finally:
        if world > 1:
            dist.destroy_process_group()


def data_parallel(world: int, warmup: int, timed: int) -> dict[str, float]:
    """Steps/s of ``world`` fresh processes (spawned) on the one global batch."""
    with tempfile.TemporaryDirectory(prefix="ugpcl-scale-") as folder:
        spawn(dp_worker, args=(world, folder, warmup, timed), nprocs=world)  # type: ignore[no-untyped-call]
        result: dict[str, float] = json.loads((Path(folder) / "result.json").read_text())
    return result


def paper_spec(variant: str, device: str = "cpu") -> RunSpec:
    """The ``paper`` preset with a variant's overrides (``VARIANTS``)."""
    spec = preset("paper", CLASSES, device=device)
    overrides = VARIANTS[variant]
    model = replace(spec.model, **overrides["model"])
    return RunSpec(model, replace(spec.training, **overrides["training"]), spec.preset)


def paper_steps(variant: str, steps: int, device: str = "cpu") -> dict[str, Any]:
    """Train ``steps`` ``paper`` steps here (mid-run: the contrastive loss on).

    Returns:
        ``step_s`` (seconds of each step), ``peak_rss_mb`` (this process's peak, 10⁶ bytes)
        and, on CUDA, ``peak_gpu_mb`` and the GPU's name.
    """
    spec = paper_spec(variant, device)
    dev = torch.device(device)
    run = build_run(spec, RandomBatches(PAPER_SIDE, PAPER_BATCH, device=dev), dev, None)
    cfg, times = spec.training, []
    for _ in range(steps):
        start = time.perf_counter()
        losses = train_step(run, spec, StepSchedule(cfg.steps // 2, cfg.steps, cfg))
        float(losses["total"])  # waits for the device
        times.append(time.perf_counter() - start)
    out: dict[str, Any] = {
        "step_s": times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6,
    }
    if dev.type == "cuda":
        out["peak_gpu_mb"] = torch.cuda.max_memory_allocated(dev) / 1e6
        out["gpu"] = torch.cuda.get_device_name(dev)
    return out


def _paper_child(variant: str, steps: int, queue: Any) -> None:
    queue.put(paper_steps(variant, steps))


def paper_in_fresh_process(variant: str, steps: int) -> dict[str, Any]:
    """``paper_steps`` in a spawned interpreter, so its peak memory is its own."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_paper_child, args=(variant, steps, queue))
    child.start()
    result: dict[str, Any] = queue.get()
    child.join()
    return result


def run(args: argparse.Namespace) -> BenchmarkResult:
    """``scale`` on the CPU, or ``scale-gpu`` (``args.name``); see the module docstring."""
    if getattr(args, "name", "scale") == "scale-gpu":
        return run_gpu(args)
    full = getattr(args, "budget", "quick") == "full"
    warmup, timed = (2, 12) if full else (2, 6)
    one, two = data_parallel(1, warmup, timed), data_parallel(2, warmup, timed)
    efficiency = two["steps_per_s"] / (2 * one["steps_per_s"])
    summary = {
        "steps_per_s_1proc": round(one["steps_per_s"], 3),
        "steps_per_s_2proc": round(two["steps_per_s"], 3),
        "scale_efficiency_2proc": round(efficiency, 3),
    }
    rows, paper = [], {}
    for variant in VARIANTS:
        result = paper_in_fresh_process(variant, 7 if full else 4)
        timed_s = result["step_s"][1:]  # the first step warms the allocator and caches
        result |= {"fastest_s": min(timed_s), "median_s": statistics.median(timed_s)}
        paper[variant] = result
        rows.append([variant, result["fastest_s"], result["median_s"], result["peak_rss_mb"]])
    summary["paper_step_s"] = round(paper["paper preset"]["fastest_s"], 2)
    summary["paper_peak_rss_mb"] = round(paper["paper preset"]["peak_rss_mb"])
    table = (
        f"data parallel, gloo, 1 thread per process, standard network {DP_SIDE}², global "
        f"batch {DP_BATCH[0]}+{DP_BATCH[1]}: 1 process {one['steps_per_s']:.3f} steps/s, "
        f"2 processes {two['steps_per_s']:.3f} steps/s, efficiency {efficiency:.2f}\n\n"
        f"paper preset at {PAPER_SIDE}², batch {PAPER_BATCH[0]}+{PAPER_BATCH[1]}, "
        f"{torch.get_num_threads()} threads\n"
        + format_table(["variant", "step s (fastest)", "step s (median)", "peak RSS MB"], rows)
    )
    details = {
        "data_parallel": {"1proc": one, "2proc": two, "warmup_steps": warmup, "timed": timed},
        "paper_variants": {v: {**VARIANTS[v], **r} for v, r in paper.items()},
        "cpu_threads": torch.get_num_threads(),
        "os_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "peak_rss_unit": "MB = 10^6 bytes, ru_maxrss of the process that trained",
    }
    return BenchmarkResult(table, summary, details)


def run_gpu(args: argparse.Namespace) -> BenchmarkResult:
    """``paper`` for a few hundred steps on the GPU: steps/s and peak GPU memory."""
    if not torch.cuda.is_available():
        from ugpcl_engine.errors import InputError

        raise InputError("scale-gpu needs a CUDA GPU; run 'benchmark scale' on a CPU.")
    steps = 300 if getattr(args, "budget", "quick") == "full" else 200
    result = paper_steps("paper preset", steps, "cuda")
    warm = result["step_s"][10:]  # cuDNN autotuning and the allocator settle first
    steps_per_s = len(warm) / sum(warm)
    summary = {
        "paper_gpu_steps_per_s": round(steps_per_s, 2),
        "paper_gpu_step_s": round(statistics.median(warm), 4),
        "paper_gpu_peak_mem_mb": round(result["peak_gpu_mb"]),
    }
    table = format_table(
        ["gpu", "steps", "steps/s", "peak GPU MB"],
        [[result["gpu"], steps, steps_per_s, result["peak_gpu_mb"]]],
    )
    details = {
        "gpu": result["gpu"],
        "steps": steps,
        "timed_steps": len(warm),
        "batch": list(PAPER_BATCH),
        "side": PAPER_SIDE,
        "amp": "bf16 autocast",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
    }
    return BenchmarkResult(table, summary, details)
