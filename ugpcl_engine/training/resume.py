"""What a run needs to continue bit for bit where it stopped, beyond the weights and the bank.

``capture`` gathers the optimiser state, the step, the poly schedule, every random state the
step draws from (the augmentation generator, torch's global generator for dropout and drop-path,
CUDA's when training there) and the sampler's position in its epochs; ``restore`` puts them
back into a freshly built run. Stored in a checkpoint's ``resume`` entry (``last.pt``).
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from ugpcl_engine.config import TrainingConfig
from ugpcl_engine.errors import InputError
from ugpcl_engine.training.loop import Run

FORMAT_VERSION = 1


@runtime_checkable
class Stateful(Protocol):
    """A batch source that can save and restore its position."""

    def state_dict(self) -> dict[str, Any]:
        """Its position and random state."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Go back to a saved position."""
        ...


def capture(run: Run, step: int, cfg: TrainingConfig, rng: list[dict[str, Any]]) -> dict[str, Any]:
    """The run's resumable state after ``step`` steps.

    Args:
        run: the live run.
        step: steps done.
        cfg: the training configuration (records the schedule).
        rng: ``capture_rng`` of every rank, in rank order (one entry in a single process).

    Returns:
        A dict of tensors and plain values (``torch.load(weights_only=True)`` reads it). The
        optimiser and sampler states are the same on every rank; only the random states differ.
    """
    return {
        "format_version": FORMAT_VERSION,
        "step": step,
        "optimiser": run.optimiser.state_dict(),
        "scheduler": {"kind": "poly", "power": cfg.poly_power, "total": cfg.steps},
        "sampler": run.sampler.state_dict() if isinstance(run.sampler, Stateful) else None,
        "rng": rng,
    }


def capture_rng(run: Run) -> dict[str, Any]:
    """This rank's random states: the augmentation generator, torch's global generator (dropout,
    drop-path) and CUDA's when training there."""
    cuda = run.device.type == "cuda"
    return {
        "generator": run.generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state(run.device) if cuda else None,
    }


def restore(run: Run, state: dict[str, Any], rank: int = 0, world: int = 1) -> int:
    """Put a captured state back into a freshly built run (network and bank loaded apart).

    Args:
        run: the new run.
        state: from ``capture``.
        rank, world: this process's rank and the number of processes.

    Returns:
        The steps already done.

    Raises:
        InputError: a state written by another version, by another number of processes or for
            another sampler.
    """
    if state.get("format_version") != FORMAT_VERSION:
        raise InputError(
            "last.pt was written by another version of ugpcl-studio; start a new run "
            "in another --out folder."
        )
    if len(state["rng"]) != world:
        raise InputError(
            f"last.pt was written by {len(state['rng'])} processes, this run has {world}; "
            "resume with as many processes as the run started with."
        )
    run.optimiser.load_state_dict(state["optimiser"])
    rng = state["rng"][rank]
    run.generator.set_state(rng["generator"])
    torch.set_rng_state(rng["torch_rng"])
    if rng.get("cuda_rng") is not None and run.device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda_rng"], run.device)
    sampler = state.get("sampler")
    if (sampler is None) == isinstance(run.sampler, Stateful):
        raise InputError("last.pt holds no sampler position for this run; start a new run.")
    if sampler is not None and isinstance(run.sampler, Stateful):
        run.sampler.load_state_dict(sampler)
    return int(state["step"])
