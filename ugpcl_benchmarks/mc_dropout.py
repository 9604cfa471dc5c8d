"""MC-dropout uncertainty, the baseline of the calibration benchmark (what MONAI Label uses).

The UGPCL network has no dropout in its segmentation path, so MC dropout is added from outside,
without touching the model code: element-wise ``F.dropout(p, training=True)`` on every feature
map entering the CNN decoder (f1..f5, skips included), through a forward pre-hook.

- ``decoder_dropout(p)``: while the context is open, every ``CNNDecoder`` *in training mode*
  drops its input features (a process-wide module hook): train the model with it so that the
  network has learned under the same dropout it is sampled with (a fair comparison).
- ``MCDropoutNet``: T stochastic passes (encoder + CNN decoder, dropout on), the mean softmax,
  its argmax and entropy: the same contract as ``InferenceNet``.
- ``predict_volume``: any of the two wrappers over a whole volume, with the confidence (largest
  mean probability) that the calibration measures need.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.modules.module import register_module_forward_pre_hook

from ugpcl_engine.data.normalisation import IntensityWindow, apply_window
from ugpcl_engine.data.slices import put_slices, take_slices
from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.model import UGPCLNet
from ugpcl_engine.model.cnn_decoder import CNNDecoder


def _drop_features(args: tuple[Any, ...], p: float) -> tuple[Any, ...]:
    feats = tuple(F.dropout(f, p, training=True) for f in args[0])
    return (feats, *args[1:])


@contextmanager
def decoder_dropout(p: float) -> Iterator[None]:
    """Drop the CNN decoder's input features with probability ``p`` while training.

    Args:
        p: dropout probability in [0, 1).

    Raises:
        ValueError: ``p`` outside [0, 1).
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout p must lie in [0, 1), got {p}")

    def hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if isinstance(module, CNNDecoder) and module.training and p > 0:
            return _drop_features(args, p)
        return None

    handle = register_module_forward_pre_hook(hook)  # type: ignore[arg-type]
    try:
        yield
    finally:
        handle.remove()


class MCDropoutNet(InferenceNet):
    """T stochastic passes of encoder + CNN decoder with dropout on the decoder's input.

    Same grid handling and outputs as ``InferenceNet``; labels are the argmax of the mean.

    Args:
        net: trained network (kept in eval mode: batch norm uses its running statistics).
        size: square network input size S of training.
        p: dropout probability.
        passes: number of stochastic passes T.
        scale: the checkpoint's ``network_scale`` (``None``: legacy S×S geometry).
    """

    def __init__(
        self,
        net: UGPCLNet,
        size: int,
        p: float = 0.2,
        passes: int = 5,
        scale: float | None = None,
    ) -> None:
        super().__init__(net, size, scale)
        if not 0 < p < 1 or passes < 1:
            raise ValueError(f"need 0 < p < 1 and passes >= 1, got p={p}, passes={passes}")
        self.p = float(p)
        self.passes = int(passes)

    def _decode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        total: Tensor | None = None
        for _ in range(self.passes):
            feats, stem = self.net.encode(x)  # recomputed each pass, as MC dropout tools do
            dropped = tuple(F.dropout(f, self.p, training=True) for f in feats)
            soft = torch.softmax(self.net.decoder(dropped, stem), 1)
            total = soft if total is None else total + soft
        assert total is not None
        mean = total / self.passes
        return mean, mean


@torch.no_grad()
def predict_volume(
    model: nn.Module,
    image_zyx: np.ndarray,
    window: IntensityWindow,
    axis: str = "z",
    batch_size: int = 16,
    device: torch.device | str = "cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run an ``InferenceNet``-like model over a volume.

    Args:
        model: maps (B, 1, H, W) normalised slices to (probs, labels, entropy).
        image_zyx: raw volume (Z, Y, X).
        window: intensity window of training (``Checkpoint.window_for``).
        axis: slicing axis of training.
        batch_size: slices per forward.
        device: where ``model`` lives.

    Returns:
        labels_zyx (uint8), entropy_zyx (float32), confidence_zyx (float32, largest mean
        probability), all on the input grid.
    """
    model.eval()
    stack = take_slices(image_zyx, axis)
    outputs: list[list[np.ndarray]] = [[], [], []]
    for start in range(0, stack.shape[0], batch_size):
        chunk = apply_window(stack[start : start + batch_size], window)[:, None]
        x = torch.from_numpy(np.ascontiguousarray(chunk)).to(device)
        probs, labels, entropy = model(x)
        outputs[0].append(labels.to(torch.uint8).cpu().numpy())
        outputs[1].append(entropy.float().cpu().numpy())
        outputs[2].append(probs.amax(1).float().cpu().numpy())
    labels_n, entropy_n, conf_n = (np.concatenate(o) for o in outputs)
    return put_slices(labels_n, axis), put_slices(entropy_n, axis), put_slices(conf_n, axis)
