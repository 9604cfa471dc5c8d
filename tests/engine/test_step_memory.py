"""Memory of a training step: activation checkpointing (same numbers, fewer kept tensors),
gradients freed after the step, freed blocks returned to the system (``paper``)."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest
import torch
from tiny import TINY_MODEL

from ugpcl_engine.config import ModelConfig, RunSpec, TrainingConfig, preset
from ugpcl_engine.model import build_model
from ugpcl_engine.training.loop import build_run, train_step
from ugpcl_engine.training.step import StepSchedule

TINY = replace(TINY_MODEL, tf_depth=2, window_size=3, drop_path=0.5)  # drop-path draws
TINY_R50 = replace(TINY, backbone="resnet50", decoder_channels=(8, 8, 8, 4, 4))
BOTH = {"checkpoint_encoder": True, "checkpoint_decoder": True}


def _saved_bytes_and_results(cfg: ModelConfig) -> tuple[int, dict[str, torch.Tensor]]:
    """Bytes kept for backward (outside checkpointed pieces), and everything a step changes."""
    torch.manual_seed(0)
    net = build_model(cfg).train()
    params = {id(p) for p in net.parameters()}
    kept: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in params:
            kept[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    x = torch.rand(2, 1, 64, 64, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)  # drop-path masks
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = net(x)
        loss = sum((t.float() ** 2).mean() for t in out)
    assert isinstance(loss, torch.Tensor)
    loss.backward()  # type: ignore[no-untyped-call]
    results = {f"out{i}": t.detach() for i, t in enumerate(out)}
    results |= {f"grad.{k}": p.grad for k, p in net.named_parameters() if p.grad is not None}
    results |= {f"buffer.{k}": b for k, b in net.named_buffers()}
    return sum(kept.values()), results


@pytest.mark.parametrize("cfg", [TINY, TINY_R50], ids=["light", "resnet50"])
def test_checkpointing_keeps_outputs_gradients_and_batch_norm_statistics(cfg: ModelConfig) -> None:
    plain_bytes, plain = _saved_bytes_and_results(cfg)
    ckpt_bytes, ckpt = _saved_bytes_and_results(replace(cfg, **BOTH))
    assert ckpt.keys() == plain.keys()
    for key, value in plain.items():
        # running statistics too: the recomputation must not count the batch a second time
        torch.testing.assert_close(ckpt[key], value, rtol=1e-5, atol=1e-6, msg=key)
    assert ckpt_bytes < 0.6 * plain_bytes


def test_checkpointing_is_off_in_eval_mode_and_without_gradients() -> None:
    net = build_model(replace(TINY_R50, **BOTH)).eval()
    x = torch.rand(1, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(net(x).seg, net(x).seg)
    net.train()
    with torch.no_grad():  # validation inside a training run: plain calls, no recomputation
        assert net(x).seg.grad_fn is None


def test_paper_preset_checkpoints_encoder_and_decoder() -> None:
    model = preset("paper", 4).model
    assert model.checkpoint_encoder and model.checkpoint_decoder
    net = build_model(replace(TINY_R50, **BOTH))
    assert net.encoder.checkpoint and net.tf_decoder.checkpoint


class _Source:
    def __init__(self) -> None:
        gen = torch.Generator().manual_seed(0)
        self.images = torch.rand(4, 1, 64, 64, generator=gen)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        targets = (self.images[:2, 0] * 3).long().clamp(max=2)
        return self.images[:2], targets, self.images[2:]


def test_train_step_frees_the_gradients_it_has_used() -> None:
    spec = RunSpec(TINY_MODEL, TrainingConfig(steps=4, batch_labeled=2, batch_unlabeled=2))
    run = build_run(spec, _Source(), torch.device("cpu"), None)
    before = [p.detach().clone() for p in run.net.parameters()]
    for step in range(2):
        train_step(run, spec, StepSchedule(step, 4, spec.training))
        # not held through the next forward pass, where the activations peak
        assert all(p.grad is None for p in run.net.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(before, run.net.parameters(), strict=True))


RSS_PROBE = """
import os, sys
import torch
from ugpcl_engine.training.memory import release_freed_memory

def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

if sys.argv[1] == "release":
    assert release_freed_memory()
big = torch.ones(4 << 20)  # 16 MiB, mapped and unmapped: glibc raises its threshold to it
del big
base = rss()
block = torch.ones(2 << 20)  # 8 MiB: from the heap after that, unless the threshold is fixed
del block
print(rss() - base)
"""


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc's mallopt"
)
def test_release_memory_returns_freed_blocks_to_the_system() -> None:
    def kept_after_free(mode: str) -> int:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(RSS_PROBE), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        return int(done.stdout.strip())

    assert kept_after_free("default") >= 6 << 20  # the freed 8 MiB stay in the heap
    assert kept_after_free("release") < 1 << 20  # unmapped when freed
