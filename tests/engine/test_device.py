"""The device rule shared by training and the prediction after it, and the CUDA speed flags."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import TINY_MODEL, tiny_checkpoint

from ugpcl_engine import device as device_mod
from ugpcl_engine.config import RunSpec, TrainingConfig
from ugpcl_engine.device import configure_device, prediction_device, resolve_device
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference import torch_segmenter
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.training import loop, trainer
from ugpcl_engine.training.events import Finished
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.training.trainer import train
from ugpcl_engine.volume import LabelTable


@pytest.fixture
def cuda_flags_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start from every CUDA speed flag off; monkeypatch puts the real values back afterwards."""
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


def _flags() -> tuple[bool, bool, bool]:
    return (
        bool(torch.backends.cudnn.benchmark),
        bool(torch.backends.cudnn.allow_tf32),
        bool(torch.backends.cuda.matmul.allow_tf32),
    )


def test_resolve_device_maps_auto_cuda_and_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(InputError, match="CUDA was requested"):
        resolve_device("cuda")
    assert trainer.resolve_device is resolve_device  # still importable from the trainer


@pytest.mark.usefixtures("cuda_flags_off")
def test_configure_device_sets_cuda_speed_flags_only_for_cuda() -> None:
    configure_device(torch.device("cpu"))
    configure_device("cpu")
    assert _flags() == (False, False, False)
    configure_device(torch.device("cuda"))  # only the device type is read: no GPU needed
    assert _flags() == (True, True, True)


@pytest.mark.usefixtures("cuda_flags_off")
def test_prediction_device_is_the_training_device_configured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert prediction_device("auto") == torch.device("cpu")
    assert prediction_device("cpu") == torch.device("cpu")
    assert _flags() == (False, False, False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert prediction_device("cpu") == torch.device("cpu")
    assert _flags() == (False, False, False)
    assert prediction_device("auto") == torch.device("cuda")
    assert prediction_device("cuda") == torch.device("cuda")
    assert _flags() == (True, True, True)


def test_training_and_torch_inference_configure_their_device(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[torch.device] = []

    def spy(device: torch.device | str) -> None:
        seen.append(torch.device(device))
        device_mod.configure_device(device)

    monkeypatch.setattr(torch_segmenter, "configure_device", spy)
    monkeypatch.setattr(loop, "configure_device", spy)  # the run is built by training.loop
    ckpt = tiny_checkpoint()
    seg = TorchSegmenter.from_checkpoint(ckpt, "cpu")
    labels, _ = seg.run_batch(np.zeros((1, 1, 64, 64), np.float32))
    assert labels.shape == (1, 64, 64)
    assert seen == [torch.device("cpu")]
    image = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    volume = TrainingVolume(image, (image > 0.5).astype(np.uint8), [1, 2])
    training = TrainingConfig(steps=1, batch_labeled=1, batch_unlabeled=1, device="cpu")
    events = list(train([volume], LabelTable.default(3), RunSpec(TINY_MODEL, training), tmp_path))
    assert isinstance(events[-1], Finished)
    assert seen[1:] == [torch.device("cpu")]  # the trainer configured the device it trains on
