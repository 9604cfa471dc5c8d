"""Data-parallel training with ``torch.distributed``: NCCL on GPUs, gloo on CPUs.

Each rank trains the same network on its own share of every global batch (``DatasetSampler``
shards each draw, so no two ranks see the same slice in a step). After ``backward`` the
gradients are averaged over the ranks in one flat all-reduce (``GradientSync``); every rank then
takes the same optimiser step, so parameters stay identical.

Why not ``DistributedDataParallel``: its reducer expects every parameter to get a gradient
through its own ``forward`` in every step, but the UGPCL step leaves the projection head out
during the contrastive warm-up and the supervised baseline calls ``forward_decoders`` only;
``find_unused_parameters`` would hide that with a graph walk per step. Here a parameter without
a gradient on every rank is simply skipped (as a single process leaves it alone), and one that
has a gradient on some rank only gets zeros elsewhere.

Also:

- the memory bank is identical on every rank: the region means of all ranks are gathered (in
  rank order) before each enqueue (``GatheredBank``);
- batch norm: ``SyncBatchNorm`` on CUDA; on CPU (where torch has no SyncBatchNorm) each rank
  normalises with its own batch statistics and the running statistics are broadcast from rank 0
  after each step, as DDP's ``broadcast_buffers`` does;
- logged losses are averaged over the ranks; events, checkpoints and validation come from rank 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor, nn

from ugpcl_engine.errors import InputError
from ugpcl_engine.losses import ClassMemoryBank

RANK_SEED_STRIDE = 1_000_003
"""Per-rank offset of the augmentation and dropout seeds (the model's initial weights are the
same on every rank: seeded before the offset, then broadcast from rank 0)."""


@dataclass(frozen=True)
class Ranks:
    """This process's place in a distributed run.

    Attributes:
        rank: global rank (0 writes files and yields events).
        world: number of processes.
        device: this rank's device (``cuda:LOCAL_RANK`` on GPUs).
    """

    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0


def from_environment(device_name: str) -> Ranks | None:
    """Join the process group ``torchrun`` describes in the environment (``WORLD_SIZE`` > 1).

    Args:
        device_name: ``auto``, ``cpu`` or ``cuda`` (the run's ``--device``).

    Returns:
        The ranks, or ``None`` for a single process.

    Raises:
        InputError: ``cuda`` asked for without a GPU for this local rank.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = device_name != "cpu" and torch.cuda.is_available()
    if device_name == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda under torchrun, but no CUDA GPU is available.")
    if cuda and local >= torch.cuda.device_count():
        raise InputError(
            f"Local rank {local} has no GPU (this node has {torch.cuda.device_count()}); "
            "give torchrun --nproc_per_node at most the GPU count."
        )
    device = torch.device(f"cuda:{local}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return Ranks(dist.get_rank(), dist.get_world_size(), device)


def prepare_module(net: nn.Module, ranks: Ranks) -> nn.Module:
    """SyncBatchNorm on CUDA; rank 0's parameters and buffers on every rank."""
    if ranks.device.type == "cuda":
        net = nn.SyncBatchNorm.convert_sync_batchnorm(net)  # type: ignore[no-untyped-call]
    broadcast_state(net)
    return net


def broadcast_state(module: nn.Module, buffers_only: bool = False) -> None:
    """Copy rank 0's parameters (unless ``buffers_only``) and buffers to every rank."""
    tensors = [] if buffers_only else [p.data for p in module.parameters()]
    tensors += [b for b in module.buffers() if b.is_floating_point() or b.dtype == torch.int64]
    for tensor in tensors:
        dist.broadcast(tensor, src=0)


class GradientSync:
    """Averages the gradients of ``params`` over the ranks, in one all-reduce.

    Args:
        params: the network's parameters (same order on every rank).
        world: number of ranks.
    """

    def __init__(self, params: Iterable[nn.Parameter], world: int) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.world = world

    def __call__(self) -> None:
        """Average; parameters without a gradient on any rank are left without one."""
        present = torch.tensor(
            [p.grad is not None for p in self.params], dtype=torch.int32, device=self._device()
        )
        dist.all_reduce(present, op=dist.ReduceOp.MAX)
        chosen = [p for p, flag in zip(self.params, present.tolist(), strict=True) if flag]
        for p in chosen:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        if not chosen:
            return
        grads = [p.grad for p in chosen if p.grad is not None]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for g in grads:
            g.copy_(flat[offset : offset + g.numel()].view_as(g))
            offset += g.numel()

    def _device(self) -> torch.device:
        return self.params[0].device if self.params else torch.device("cpu")


class GatheredBank(ClassMemoryBank):
    """A memory bank that enqueues the region means of every rank, so all ranks hold one bank.

    The loss of each rank is computed against the bank before the enqueue, as in one process.
    """

    def enqueue(self, means: Tensor, classes: Tensor, valid: Tensor) -> None:
        """All-gather ``means``, ``classes`` and ``valid`` (rank order), then enqueue them."""
        if not dist.is_initialized() or dist.get_world_size() == 1:
            super().enqueue(means, classes, valid)
            return
        world = dist.get_world_size()
        parts = []
        for tensor in (means.detach().contiguous(), classes.contiguous(), valid.contiguous()):
            gathered = [torch.empty_like(tensor) for _ in range(world)]
            dist.all_gather(gathered, tensor)
            parts.append(torch.cat(gathered))
        super().enqueue(parts[0], parts[1], parts[2])


def mean_over_ranks(values: dict[str, float], device: torch.device) -> dict[str, float]:
    """Average logged numbers over the ranks (every rank must call it)."""
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return {k: float(v) / dist.get_world_size() for k, v in zip(keys, t.tolist(), strict=True)}


def any_rank(flag: bool, device: torch.device) -> bool:
    """Whether ``flag`` is set on any rank (every rank must call it)."""
    t = torch.tensor([int(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


class Group:
    """Collective helpers of a run; in a single process (``ranks`` None) they do nothing.

    Args:
        ranks: this process's place, or ``None``.
    """

    def __init__(self, ranks: Ranks | None) -> None:
        self.ranks = ranks

    @property
    def main(self) -> bool:
        """Whether this process writes files and yields events (rank 0, or the only one)."""
        return self.ranks is None or self.ranks.main

    @property
    def rank(self) -> int:
        """This process's rank."""
        return 0 if self.ranks is None else self.ranks.rank

    @property
    def world(self) -> int:
        """Number of processes."""
        return 1 if self.ranks is None else self.ranks.world

    def any(self, flag: bool) -> bool:
        """``flag`` on any rank."""
        return flag if self.ranks is None else any_rank(flag, self.ranks.device)

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Logged numbers averaged over the ranks."""
        return values if self.ranks is None else mean_over_ranks(values, self.ranks.device)

    def barrier(self) -> None:
        """Wait for every rank (after rank 0's validation)."""
        if self.ranks is not None:
            dist.barrier()

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` in rank order on rank 0; ``[]`` on the others."""
        if self.ranks is None:
            return [value]
        out: list[Any] | None = [None] * self.world if self.main else None
        dist.gather_object(value, out, dst=0)
        return out or []
