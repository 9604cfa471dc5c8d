"""The inference graph: to the network grid → both decoders → softmax mean → back → labels, entropy.

The network grid is the training one. Models trained since the geometry change (checkpoints
with a ``network_scale``) resize each slice by that scale (1 = native pixels), pad it centred to
sides that are multiples of 32, and undo both afterwards, exactly as training prepared its slices
(``training.preparation``): the aspect ratio is kept and no label is resampled when the scale is
1. Older checkpoints (``scale=None``) keep their geometry: every slice stretched to S×S.

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

from ugpcl_engine.data.batches import scale_images
from ugpcl_engine.data.slices import SIZE_MULTIPLE
from ugpcl_engine.model import UGPCLNet

ENTROPY_EPS = 1e-6


class InferenceNet(nn.Module):
    """Wraps a trained ``UGPCLNet`` for inference at native slice size.

    Args:
        net: the trained network.
        size: square network input size S of the legacy geometry (records only otherwise).
        scale: network pixels per native pixel of training, or ``None`` for the legacy geometry
            (stretch every slice to S×S).
    """

    def __init__(self, net: UGPCLNet, size: int, scale: float | None = None) -> None:
        super().__init__()
        self.net = net
        self.size = int(size)
        self.scale = None if scale is None else float(scale)

    def _probabilities(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(CNN softmax, two-decoder mean softmax) at the input's own size."""
        h, w = image.shape[-2], image.shape[-1]
        if self.scale is None:
            x = F.interpolate(
                image, size=(self.size, self.size), mode="bilinear", align_corners=False
            )
            p, mean = self._decode(x)
            both = F.interpolate(
                torch.cat([p, mean], 1), size=(h, w), mode="bilinear", align_corners=False
            )
        else:
            x = scale_images(image, self.scale)
            hs, ws = x.shape[-2], x.shape[-1]
            ph = (SIZE_MULTIPLE - hs % SIZE_MULTIPLE) % SIZE_MULTIPLE
            pw = (SIZE_MULTIPLE - ws % SIZE_MULTIPLE) % SIZE_MULTIPLE
            top, left = ph // 2, pw // 2
            p, mean = self._decode(F.pad(x, (left, pw - left, top, ph - top)))
            both = torch.cat([p, mean], 1)[..., top : top + hs, left : left + ws]
            if self.scale != 1.0:
                both = F.interpolate(both, size=(h, w), mode="bilinear", align_corners=False)
        c = both.shape[1] // 2
        return both[:, :c], both[:, c:]

    def _decode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        seg, seg_tf = self.net.forward_decoders(x)
        p = torch.softmax(seg, 1)
        return p, 0.5 * (p + torch.softmax(seg_tf, 1))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Segment a batch of normalised slices.

        Args:
            image: (B, 1, H, W) float32 in [0, 1], any H, W.

        Returns:
            probs (B, C, H, W) mean softmax of the two decoders, labels (B, H, W) int64 argmax
            of the CNN decoder's softmax, entropy (B, H, W) float32 ``-Σ m log(m + 1e-6)`` of
            the mean (nats).
        """
        cnn, probs = self._probabilities(image)
        entropy = -(probs * torch.log(probs + ENTROPY_EPS)).sum(1)
        return probs, cnn.argmax(1), entropy
