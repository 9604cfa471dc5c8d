"""A training step never waits for the device: it runs whole on the ``meta`` device.

Meta tensors have shapes but no data, so every op whose result the host must read (``.item()``,
``float(t)``, ``bool(t)`` / ``if t.any()``, ``nonzero``, boolean-mask indexing, ``.tolist()``,
a copy to the CPU) raises there. A step that runs on ``meta`` therefore has no data-dependent
host-device sync on CUDA either. No GPU is needed.
"""

from __future__ import annotations

import contextlib
from typing import Literal

import pytest
import torch
from tiny import TINY_MODEL

from ugpcl_engine.config import RunSpec, TrainingConfig
from ugpcl_engine.losses import ClassMemoryBank
from ugpcl_engine.model import build_model
from ugpcl_engine.training import trainer
from ugpcl_engine.training.step import StepSchedule

META = torch.device("meta")
SIZE = 64


class _MetaSampler:
    """Stands in for ``TwoStreamSampler`` (its own test covers it: its generator cannot live on
    ``meta``)."""

    def __init__(self, n_labeled: int, n_unlabeled: int) -> None:
        self.n_labeled, self.n_unlabeled = n_labeled, n_unlabeled

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (
            torch.empty(self.n_labeled, 1, SIZE, SIZE, device=META),
            torch.empty(self.n_labeled, SIZE, SIZE, dtype=torch.long, device=META),
            torch.empty(self.n_unlabeled, 1, SIZE, SIZE, device=META),
        )


def test_meta_tensors_refuse_every_host_read() -> None:
    """The premise of this file."""
    t = torch.zeros(3, device=META)
    for read in (
        lambda: t.sum().item(),
        lambda: bool(t.any()),
        lambda: float(t.sum()),
        lambda: t.nonzero(),
        lambda: t[t > 0],
        lambda: t.tolist(),
        lambda: t.cpu(),
    ):
        with pytest.raises((RuntimeError, NotImplementedError)):
            read()


@pytest.mark.parametrize(
    ("supervised_only", "optimizer"), [(False, "adamw"), (False, "sgd"), (True, "sgd")]
)
def test_training_step_runs_on_meta(
    monkeypatch: pytest.MonkeyPatch, supervised_only: bool, optimizer: Literal["sgd", "adamw"]
) -> None:
    # torch.autocast does not know the meta device type; the step's maths does not depend on it
    monkeypatch.setattr(torch, "autocast", lambda *args, **kwargs: contextlib.nullcontext())
    cfg = TrainingConfig(
        steps=4,
        batch_labeled=2,
        batch_unlabeled=2,
        optimizer=optimizer,
        supervised_only=supervised_only,
        contrast_warmup_fraction=0.5,
        bank_size=8,
    )
    spec = RunSpec(TINY_MODEL, cfg)
    net = build_model(TINY_MODEL).to(META)
    net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    params = list(net.parameters())
    opt: torch.optim.Optimizer = (
        torch.optim.AdamW(params, lr=cfg.lr)
        if optimizer == "adamw"
        else torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum)
    )
    n_l = cfg.batch_labeled + (cfg.batch_unlabeled if supervised_only else 0)
    sampler = _MetaSampler(n_l, 0 if supervised_only else cfg.batch_unlabeled)
    run = trainer._Run(
        net=net,
        bank=ClassMemoryBank(TINY_MODEL.num_classes, TINY_MODEL.embed_dim, 8).to(META),
        optimiser=opt,
        sampler=sampler,  # type: ignore[arg-type]
        generator=None,  # type: ignore[arg-type]  # global RNG: no generator on meta
        device=META,
        start_step=0,
    )
    meter = trainer._LossMeter()
    for step in range(cfg.steps):  # contrast off, then on (warm-up fraction 0.5)
        meter.add(trainer._one_step(run, spec, StepSchedule(step, cfg.steps, cfg)))
    assert all(v.device == META and v.shape == () for v in meter._sums.values())
    assert set(meter._sums) == (
        {"total", "sup"} if supervised_only else {"total", "sup", "con", "rot", "contrast"}
    )
