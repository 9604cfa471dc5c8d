"""The inference graph: resize → both decoders → softmax mean → resize back → labels, entropy.

This module is what ONNX export traces and what every torch inference path runs, so the app's
onnxruntime path and the trainer's previews apply exactly the same preprocessing. Input
intensities are already normalised (``ugpcl_engine.data.normalisation``).

As in the paper, the label map comes from the CNN decoder alone; the uncertainty is the entropy
of the *mean* of both decoders' softmax. Measured on the chest CT (quick preset, k = 5): CNN
labels 0.797 mean Dice, two-decoder mean 0.788, transformer alone 0.671: the transformer
decoder is the weaker one, and averaging with it loses thin structures.
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
            probs (B, C, H, W) mean softmax of the two decoders, labels (B, H, W) int64 argmax
            of the CNN decoder's softmax, entropy (B, H, W) float32 ``-Σ m log(m + 1e-6)`` of
            the mean (nats).
        """
        h, w = image.shape[-2], image.shape[-1]
        x = F.interpolate(image, size=(self.size, self.size), mode="bilinear", align_corners=False)
        seg, seg_tf = self.net.forward_decoders(x)
        p = torch.softmax(seg, 1)
        mean = 0.5 * (p + torch.softmax(seg_tf, 1))
        both = F.interpolate(
            torch.cat([mean, p], 1), size=(h, w), mode="bilinear", align_corners=False
        )
        probs, cnn = both[:, : p.shape[1]], both[:, p.shape[1] :]
        entropy = -(probs * torch.log(probs + ENTROPY_EPS)).sum(1)
        return probs, cnn.argmax(1), entropy
