"""U-Net (CNN) decoder: f5 upsampled back to full resolution with skips f4..f1."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ugpcl_engine.model.blocks import DoubleConv, Features


class CNNDecoder(nn.Module):
    """Five blocks (nearest ×2 upsample, concat skip, 2 × (3×3 conv, BN, ReLU)) and a 3×3 head.

    Blocks 1..4 take the skips f4, f3, f2, f1; block 5 reaches full resolution with the
    full-resolution features f0 as its skip when ``stem_channels`` > 0, else without a skip.

    Args:
        feature_channels: channels of f1..f5.
        decoder_channels: output channels of the five blocks, coarse to fine.
        num_classes: output classes.
        stem_channels: channels of f0 (0: no full-resolution skip).
    """

    def __init__(
        self,
        feature_channels: tuple[int, int, int, int, int],
        decoder_channels: tuple[int, int, int, int, int],
        num_classes: int,
        stem_channels: int = 0,
    ) -> None:
        super().__init__()
        skips = (*feature_channels[3::-1], stem_channels)  # f4, f3, f2, f1, f0 or none
        inputs = (feature_channels[4], *decoder_channels[:-1])
        self.blocks = nn.ModuleList(
            DoubleConv(c_in + c_skip, c_out)
            for c_in, c_skip, c_out in zip(inputs, skips, decoder_channels, strict=True)
        )
        self.head = nn.Conv2d(decoder_channels[-1], num_classes, 3, padding=1)

    def forward(self, feats: Features, stem: Tensor | None = None) -> Tensor:
        """Decode to class logits.

        Args:
            feats: f1..f5 from the encoder.
            stem: f0 (full resolution) when the decoder was built with ``stem_channels``.

        Returns:
            ``(B, num_classes, H, W)`` logits at the input resolution (2 × f1's size).
        """
        skips = (feats[3], feats[2], feats[1], feats[0], *(() if stem is None else (stem,)))
        x = feats[4]
        for i, block in enumerate(self.blocks):
            x = F.interpolate(x, scale_factor=2.0, mode="nearest")
            if i < len(skips):
                x = torch.cat([x, skips[i]], dim=1)
            x = block(x)
        out: Tensor = self.head(x)
        return out
