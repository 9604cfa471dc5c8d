"""Whole-volume inference with torch (training previews, the CLI ``train`` output, parity)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ugpcl_engine.checkpoint import Checkpoint
from ugpcl_engine.data.slices import foreground_box, take_slices
from ugpcl_engine.device import configure_device
from ugpcl_engine.inference.volume_runner import segment_volume
from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.model import UGPCLNet


class TorchSegmenter:
    """Segments slices and volumes with a torch model.

    Args:
        net: trained network (switched to eval mode here).
        network_size: the checkpoint's ``network_size``.
        device: where to run (on CUDA, ``configure_device`` turns on cuDNN autotuning and TF32).
        scale: the checkpoint's ``network_scale`` (``None``: legacy S×S geometry).
    """

    def __init__(
        self,
        net: UGPCLNet,
        network_size: int,
        device: torch.device | str = "cpu",
        scale: float | None = None,
    ) -> None:
        self.device = torch.device(device)
        configure_device(self.device)
        self.model = InferenceNet(net, network_size, scale).to(self.device).eval()

    @classmethod
    def from_checkpoint(
        cls, ckpt: Checkpoint, device: torch.device | str = "cpu"
    ) -> TorchSegmenter:
        """Build from a loaded checkpoint."""
        return cls(ckpt.build_net(device), ckpt.network_size, device, ckpt.network_scale)

    @torch.no_grad()
    def run_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment (B, 1, H, W) normalised float32 slices → labels (B,H,W) uint8, entropy."""
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        _, labels, entropy = self.model(x)
        return labels.to(torch.uint8).cpu().numpy(), entropy.float().cpu().numpy()

    def segment(
        self,
        image_zyx: np.ndarray,
        ckpt: Checkpoint,
        batch_size: int = 16,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Segment a raw volume along the checkpoint's axis with its normalisation.

        A model trained on the foreground's box sees only that box of the occupied slices (as
        in training); the rest is background with zero uncertainty.

        Returns:
            labels_zyx (uint8) and entropy_zyx (float32) on the input grid.
        """
        was_training = self.model.training
        self.model.eval()
        window = ckpt.window_for(image_zyx)
        box = None
        if ckpt.foreground_crop:
            box = foreground_box(take_slices(image_zyx, ckpt.axis), window.low, window.high)
        try:
            return segment_volume(
                image_zyx, window, ckpt.axis, self.run_batch, batch_size, progress, box=box
            )
        finally:
            self.model.train(was_training)
