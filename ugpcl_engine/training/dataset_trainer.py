"""Training on a dataset: the engine's one step (``loop.train_step``) fed by a lazy batch
source, with periodic resumable checkpoints and validation that keeps the best model.

Files in ``out_dir``: ``last.pt`` (model + bank + ``resume`` state, every ``checkpoint_every``
steps and at the end or on cancel), ``best.pt`` (the model with the best validation Dice so far)
and ``model.pt`` (the final model). A run resumed from ``last.pt`` draws the same batches and
random numbers as the uninterrupted run, so its losses are the same.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ugpcl_engine.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from ugpcl_engine.config import RunSpec
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.device import resolve_device
from ugpcl_engine.errors import InputError
from ugpcl_engine.model import UGPCLNet
from ugpcl_engine.training import distributed, resume
from ugpcl_engine.training.cancel import CancelToken
from ugpcl_engine.training.distributed import Group, Ranks
from ugpcl_engine.training.events import Event, Failed, Finished, Progress, Started
from ugpcl_engine.training.loop import BatchSource, LossMeter, Run, build_run, train_step
from ugpcl_engine.training.step import StepSchedule, poly_lr
from ugpcl_engine.volume import LabelTable

NAN_MESSAGE = (
    "The loss became NaN or infinite; start a new run with a lower learning rate or check the "
    "dataset for extreme values (last.pt keeps the last good state)."
)
Validate = Callable[[UGPCLNet], float]
"""The network (in eval mode) → mean Dice on the validation split."""


@dataclass(frozen=True)
class Validated:
    """Validation after ``step`` steps: mean Dice, the best so far, and whether this is it."""

    step: int
    dice: float
    best: float
    improved: bool


@dataclass
class DatasetJob:
    """What ``train_dataset`` needs.

    Attributes:
        source: the batch source (a ``resume.Stateful`` one, for ``--resume``).
        label_table: the dataset's classes.
        spec: model and training configuration.
        out_dir: where the checkpoints go.
        window: the intensity rule recorded in the checkpoints.
        network_size: S (slices are stretched to S×S; checkpoints have no ``network_scale``).
        labeled_slices, unlabeled_slices: counts, for ``Started``.
        validate: scores the network on the validation split, or ``None``.
        val_every: steps between validations (0: never).
        checkpoint_every: steps between ``last.pt`` writes (0: only at the end).
        resume: continue from ``out_dir/last.pt``.
        metadata: recorded in every checkpoint's metrics (dataset, labeled split, ...).
        ranks: this process's place in a distributed run (``training.distributed``), or
            ``None`` for a single process.
    """

    source: BatchSource
    label_table: LabelTable
    spec: RunSpec
    out_dir: Path
    window: IntensityWindow
    network_size: int
    labeled_slices: int
    unlabeled_slices: int
    validate: Validate | None = None
    val_every: int = 0
    checkpoint_every: int = 0
    resume: bool = False
    metadata: dict[str, float] = field(default_factory=dict)
    ranks: Ranks | None = None


@dataclass
class _State:
    run: Run
    group: Group
    step: int = 0
    best: float = -math.inf


def _build(job: DatasetJob) -> _State:
    """The run, made data-parallel when ``job.ranks`` is set (see ``training.distributed``)."""
    cfg, ranks = job.spec.training, job.ranks
    device = ranks.device if ranks is not None else resolve_device(cfg.device)
    run = build_run(job.spec, job.source, device, None)
    if ranks is not None:
        run.net = cast(UGPCLNet, distributed.prepare_module(run.net, ranks))
        old = run.bank
        run.bank = distributed.GatheredBank(old.num_classes, old.dim, old.size).to(device)
        run.sync = distributed.GradientSync(run.net.parameters(), ranks.world)
        if device.type != "cuda":
            net = run.net
            run.after_step = lambda: distributed.broadcast_state(net, buffers_only=True)
        # same initial weights everywhere (seeded, then broadcast); own random draws per rank
        offset = cfg.seed + ranks.rank * distributed.RANK_SEED_STRIDE
        run.generator.manual_seed(offset)
        torch.manual_seed(offset)
    return _State(run, Group(ranks))


def train_dataset(
    job: DatasetJob, cancel: CancelToken | None = None
) -> Iterator[Event | Validated]:
    """Train on a dataset; yield events (rank 0 only in a distributed run: the other ranks
    yield nothing, but must be driven to the end as well).

    Yields:
        ``Started``, ``Progress`` every ``log_every`` steps (losses averaged over the ranks),
        ``Validated``, then ``Finished`` (also after a cancel on any rank: the model and
        ``last.pt`` are kept) or ``Failed``.

    Raises:
        InputError: a resume whose ``last.pt`` is missing, unreadable or from other settings
            (before any event).
    """
    cancel = cancel or CancelToken()
    cfg = job.spec.training
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    started = time.perf_counter()
    state = _build(job)
    if job.resume:
        _resume(job, state)
    meter, total, main = LossMeter(), cfg.steps, state.group.main
    state.run.net.train()
    if main:
        yield _started(job, state)
    loop_start, first = time.perf_counter(), state.step
    while state.step < total and not state.group.any(cancel.cancelled):
        meter.add(train_step(state.run, job.spec, StepSchedule(state.step, total, cfg)))
        state.step += 1
        step = state.step
        if step % cfg.log_every == 0 or step == total:
            means = state.group.mean(meter.means())
            if not math.isfinite(means["total"]):
                if main:
                    yield Failed(NAN_MESSAGE, step)
                return
            per_step = (time.perf_counter() - loop_start) / max(step - first, 1)
            elapsed, lr = time.perf_counter() - started, poly_lr(step - 1, total, cfg)
            if main:
                yield Progress(step, total, elapsed, per_step * (total - step), means, lr)
        if job.validate is not None and _due(step, total, job.val_every):
            checked = _validation(job, state)
            if checked is not None:
                yield checked
        if _due(step, total, job.checkpoint_every) and step < total:
            _save_last(job, state)
    _save_last(job, state)
    if main:
        path = job.out_dir / "model.pt"
        save_checkpoint(path, _checkpoint(job, state, None))
        metrics = {"best_val_dice": state.best} if math.isfinite(state.best) else {}
        seconds = time.perf_counter() - started
        yield Finished(str(path), state.step, seconds, state.step < total, metrics)


def _started(job: DatasetJob, state: _State) -> Started:
    run = state.run
    return Started(
        job.spec.training.steps,
        str(run.device),
        sum(p.numel() for p in run.net.parameters()),
        job.labeled_slices,
        job.unlabeled_slices,
        job.network_size,
    )


def _due(step: int, total: int, every: int) -> bool:
    return every > 0 and (step % every == 0 or step == total)


def _validation(job: DatasetJob, state: _State) -> Validated | None:
    """Rank 0 scores the network on the validation split and writes ``best.pt`` when it
    improved; the other ranks wait. Random states are left as they were, so validating changes
    no later batch.
    """
    assert job.validate is not None
    result = None
    if state.group.main:
        net, device = state.run.net, state.run.device
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            net.eval()
            try:
                dice = float(job.validate(net))
            finally:
                net.train()
        improved = dice > state.best
        if improved:
            state.best = dice
            save_checkpoint(job.out_dir / "best.pt", _checkpoint(job, state, None))
        result = Validated(state.step, dice, state.best, improved)
    state.group.barrier()
    return result


def _save_last(job: DatasetJob, state: _State) -> None:
    """Write ``last.pt`` (rank 0) with every rank's random states."""
    rng = state.group.gather(resume.capture_rng(state.run))
    if state.group.main:
        extra = resume.capture(state.run, state.step, job.spec.training, rng)
        extra["best_dice"] = state.best
        save_checkpoint(job.out_dir / "last.pt", _checkpoint(job, state, extra))


def _resume(job: DatasetJob, state: _State) -> None:
    last = job.out_dir / "last.pt"
    ckpt = load_checkpoint(last)
    if ckpt.resume is None:
        raise InputError(f"{last} holds no resume state; start a new run in another --out.")
    if ckpt.spec.config_hash() != job.spec.config_hash():
        raise InputError(
            f"{last} was written with other settings (preset, --steps, seed or model); resume "
            "with the options the run started with, or start a new run in another --out."
        )
    state.run.net.load_state_dict(ckpt.state_dict)
    state.run.bank.load_state_dict(ckpt.bank_state)
    state.step = resume.restore(state.run, ckpt.resume, state.group.rank, state.group.world)
    state.best = float(ckpt.resume.get("best_dice", -math.inf))


def _checkpoint(job: DatasetJob, state: _State, extra: dict[str, Any] | None) -> Checkpoint:
    run = state.run
    metrics = dict(job.metadata)
    if math.isfinite(state.best):
        metrics["best_val_dice"] = state.best
    return Checkpoint(
        spec=job.spec,
        state_dict={k: v.detach().cpu() for k, v in run.net.state_dict().items()},
        bank_state={k: v.detach().cpu() for k, v in run.bank.state_dict().items()},
        label_table=job.label_table,
        axis="z",
        network_size=job.network_size,
        window=job.window,
        step=state.step,
        metrics=metrics,
        model_version=uuid.uuid4().hex[:8],
        resume=extra,
    )
