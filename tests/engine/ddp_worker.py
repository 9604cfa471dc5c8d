"""One rank of the 2-process gloo test (``test_distributed``): imported by spawned processes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from tiny import TINY_MODEL

from ugpcl_engine.datasets import open_dataset
from ugpcl_engine.datasets.training import dataset_spec, prepare_job
from ugpcl_engine.training import dataset_trainer
from ugpcl_engine.training.distributed import Ranks

STEPS = 3


def worker(rank: int, world: int, data: str, tmp: str) -> None:
    """Train ``STEPS`` steps on ``data`` as ``rank``; save what the test compares."""
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{tmp}/store", rank=rank, world_size=world)
    try:
        dataset = open_dataset(data)
        spec = dataset_spec(
            "quick", dataset, 32, steps=STEPS, batch_labeled=2, batch_unlabeled=2, log_every=1,
            device="cpu",
        )  # fmt: skip
        spec = replace(spec, model=replace(TINY_MODEL, num_classes=4))
        out = Path(tmp) / f"out{rank}"
        out.mkdir()
        ranks = Ranks(rank, world, torch.device("cpu"))
        job = prepare_job(dataset, ["patient003"], spec, out, ranks=ranks, checkpoint_every=1)
        seen: dict[str, Any] = {}
        real_save = dataset_trainer._save_last

        def keep_state(job: Any, state: Any) -> None:
            seen["params"] = {k: v.clone() for k, v in state.run.net.named_parameters()}
            seen["buffers"] = {k: v.clone() for k, v in state.run.net.named_buffers()}
            seen["bank"] = {k: v.clone() for k, v in state.run.bank.state_dict().items()}
            real_save(job, state)

        dataset_trainer._save_last = keep_state
        events = list(dataset_trainer.train_dataset(job))
        seen["events"] = [type(e).__name__ for e in events]
        torch.save(seen, Path(tmp) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def resume_worker(
    rank: int, world: int, data: str, tmp: str, name: str, stop_after: int, resume: bool
) -> None:
    """Train ``2 * STEPS`` steps into ``tmp/name`` as ``rank`` (rank 0 cancels after
    ``stop_after`` steps when it is not 0; ``resume`` continues from ``last.pt``); save the
    losses each rank logged."""
    from ugpcl_engine.training.cancel import CancelToken
    from ugpcl_engine.training.events import Progress

    torch.set_num_threads(1)
    store = f"file://{tmp}/store-{name}-{int(resume)}"
    dist.init_process_group("gloo", init_method=store, rank=rank, world_size=world)
    try:
        dataset = open_dataset(data)
        spec = dataset_spec(
            "quick", dataset, 32, steps=2 * STEPS, batch_labeled=2, batch_unlabeled=2,
            log_every=1, device="cpu",
        )  # fmt: skip
        spec = replace(spec, model=replace(TINY_MODEL, num_classes=4))
        out = Path(tmp) / name
        ranks = Ranks(rank, world, torch.device("cpu"))
        job = prepare_job(
            dataset, ["patient003"], spec, out, ranks=ranks, checkpoint_every=1, resume=resume
        )
        cancel = CancelToken()
        losses = []
        for event in dataset_trainer.train_dataset(job, cancel):
            if isinstance(event, Progress):
                losses.append(event.losses)
                if rank == 0 and stop_after and event.step == stop_after:
                    cancel.cancel()
        torch.save(losses, Path(tmp) / f"{name}-{int(resume)}-rank{rank}.pt")
    finally:
        dist.destroy_process_group()
