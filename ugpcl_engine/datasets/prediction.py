"""Slice-wise prediction of whole volumes for dataset evaluation and validation.

``nearest`` is the published 2-D protocol (SSL4MIS ``test_single_volume``): each slice is resized
with nearest-neighbour sampling to the network's S×S, segmented by the CNN decoder, and the
labels are resized back with nearest-neighbour sampling. Sampling is at pixel centres
(``nearest-exact``), so enlarging and shrinking back returns every pixel to itself. ``model`` runs
the checkpoint's own inference graph instead (``inference.torch_segmenter``: its normalisation,
geometry and crop, bilinear), as the app and ``predict`` do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ugpcl_engine.checkpoint import Checkpoint
from ugpcl_engine.data.normalisation import apply_window
from ugpcl_engine.data.slices import put_slices, take_slices
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter

RESAMPLING = ("nearest", "model")
Decode = Callable[[torch.Tensor], torch.Tensor]
"""(B, 1, S, S) normalised slices → (B, C, S, S) logits of the CNN decoder."""


def resize_nearest(stack: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize (pixel centres) of (B, H, W) or (B, 1, H, W) to ``size``."""
    squeeze = stack.ndim == 3
    x = stack[:, None] if squeeze else stack
    out = F.interpolate(x.float(), size=size, mode="nearest-exact")
    return out[:, 0] if squeeze else out


class VolumePredictor:
    """Predicts label volumes slice by slice along the checkpoint's axis (datasets: z).

    Args:
        ckpt: the checkpoint (normalisation window, network size S).
        decode: the network's CNN-decoder logits; ``None``: the checkpoint's own network.
        device: where the network runs.
        resample: ``nearest`` (published protocol) or ``model`` (the checkpoint's graph).
        batch_size: slices per forward pass.
    """

    def __init__(
        self,
        ckpt: Checkpoint,
        decode: Decode | None = None,
        device: torch.device | str = "cpu",
        resample: str = "nearest",
        batch_size: int = 16,
    ) -> None:
        if resample not in RESAMPLING:
            raise ValueError(f"resample must be one of {RESAMPLING}, got {resample!r}")
        self.ckpt = ckpt
        self.device = torch.device(device)
        self.resample = resample
        self.batch_size = batch_size
        self._segmenter: TorchSegmenter | None = None
        if decode is None:
            net = ckpt.build_net(self.device)
            if resample == "model":
                self._segmenter = TorchSegmenter(
                    net, ckpt.network_size, self.device, ckpt.network_scale
                )

            def decode(x: torch.Tensor) -> torch.Tensor:
                return net.forward_decoders(x)[0]

        self._decode = decode

    def predict(self, image_zyx: np.ndarray) -> np.ndarray:
        """Labels (Z, Y, X) uint8 of a raw volume (normalised here with the checkpoint's rule)."""
        if self._segmenter is not None:
            return self._segmenter.segment(image_zyx, self.ckpt, self.batch_size)[0]
        window = self.ckpt.window_for(image_zyx)
        stack = np.ascontiguousarray(apply_window(take_slices(image_zyx, self.ckpt.axis), window))
        out = np.zeros(stack.shape, np.uint8)
        side = self.ckpt.network_size
        with torch.no_grad():
            for start in range(0, stack.shape[0], self.batch_size):
                x = torch.from_numpy(stack[start : start + self.batch_size]).to(self.device)
                logits = self._decode(resize_nearest(x[:, None], (side, side)))
                labels = resize_nearest(logits.argmax(1), stack.shape[1:])
                out[start : start + len(x)] = labels.to(torch.uint8).cpu().numpy()
        return put_slices(out, self.ckpt.axis)
