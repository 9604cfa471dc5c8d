"""The inference graph: resize → both decoders → softmax mean → resize back → labels, entropy.

This module is what ONNX export traces and what every torch inference path runs, so the app's
onnxruntime path and the trainer's previews apply exactly the same preprocessing. Input
intensities are already normalised (``ugpcl_engine.data.normalisation``).

Choice: the prediction is the argmax of the *mean* of the two decoders' softmax (the quantity
whose entropy is the uncertainty), not of the CNN decoder alone as in the paper; both decoders
are trained to agree and the mean is never worse in our runs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ugpcl_engine.model import UGPCLNet

ENTROPY_EPS = 1e-6


class InferenceNet(nn.Module):
    """Wraps a trained ``UGPCLNet`` for inference at native slice size.

    Args:
        net: the trained network.
        size: square network input size S used in training.
    """

    def __init__(self, net: UGPCLNet, size: int) -> None:
        super().__init__()
        self.net = net
        self.size = int(size)

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Segment a batch of normalised slices.

        Args:
            image: (B, 1, H, W) float32 in [0, 1], any H, W.

        Returns:
            probs (B, C, H, W) mean softmax of the two decoders, labels (B, H, W) int64 argmax,
            entropy (B, H, W) float32 ``-Σ m log(m + 1e-6)`` (nats).
        """
        h, w = image.shape[-2], image.shape[-1]
        x = F.interpolate(image, size=(self.size, self.size), mode="bilinear", align_corners=False)
        seg, seg_tf = self.net.forward_decoders(x)
        mean = 0.5 * (torch.softmax(seg, 1) + torch.softmax(seg_tf, 1))
        probs = F.interpolate(mean, size=(h, w), mode="bilinear", align_corners=False)
        entropy = -(probs * torch.log(probs + ENTROPY_EPS)).sum(1)
        return probs, probs.argmax(1), entropy
