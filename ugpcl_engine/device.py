"""Which device training and the prediction after it run on, and the CUDA speed settings.

One rule for every place that trains and then predicts (the CLI ``train``, the app's child
process, the benchmarks' ``simulation.train_and_segment`` and calibration): the prediction runs
on the device the training resolved to, never silently on the CPU.
"""

from __future__ import annotations

import torch

from ugpcl_engine.errors import InputError


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available else CPU; ``cuda`` without CUDA → InputError."""
    if name == "cuda" and not torch.cuda.is_available():
        raise InputError("CUDA was requested but no CUDA GPU is available; use --device cpu.")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def configure_device(device: torch.device | str) -> None:
    """On CUDA, let cuDNN pick the fastest kernels and use TF32 for float32 matmul and conv.

    ``cudnn.benchmark`` pays off because training and inference run the same input shapes over
    and over; TF32 keeps float32's range with a 10-bit mantissa on tensor cores (bf16 autocast
    covers most of the step anyway). Process-wide flags, set only for a CUDA device: CPU runs
    leave every flag as it was.

    Args:
        device: the device about to be used.
    """
    if torch.device(device).type != "cuda":
        return
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True


def prediction_device(training_device: str) -> torch.device:
    """The device for the whole-volume prediction that follows a training run.

    The same device the training ran on (``resolve_device`` of the same setting), with the CUDA
    settings of ``configure_device`` applied.

    Args:
        training_device: the run's ``spec.training.device`` (``"auto"``, ``"cpu"``, ``"cuda"``).

    Returns:
        The resolved device.

    Raises:
        InputError: ``"cuda"`` without a CUDA GPU (as for training).
    """
    device = resolve_device(training_device)
    configure_device(device)
    return device
