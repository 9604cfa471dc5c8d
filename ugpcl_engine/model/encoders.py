"""Encoders behind one interface: five feature maps f1..f5 at 1/2, 1/4, 1/8, 1/16 and 1/32.

Every encoder is an ``nn.Module`` whose ``forward(x)`` returns a ``Features`` tuple and whose
``out_channels`` attribute gives the channels of f1..f5 (``ModelConfig.feature_channels``). The
decoders and heads only see that interface, so they do not care which backbone produced it.
"""

from __future__ import annotations

import itertools

from torch import Tensor, nn

from ugpcl_engine.config import ModelConfig
from ugpcl_engine.model.blocks import ConvBNAct, DoubleConv, Features, checkpointed
from ugpcl_engine.model.resnet import ResNet50Encoder


class LightEncoder(nn.Module):
    """Light U-Net encoder (SSL4MIS style): conv-BN-LeakyReLU pairs, max-pool between scales.

    The first block keeps one convolution at full resolution and reaches 1/2 with a strided
    convolution, so fine edges reach f1 while the rest of the network never runs at full size.

    Args:
        in_channels: image channels.
        channels: channels of f1..f5.
        checkpoint: while training, recompute each stage in the backward pass instead of
            keeping its activations (``blocks.checkpointed``).
    """

    def __init__(
        self, in_channels: int, channels: tuple[int, int, int, int, int], checkpoint: bool = False
    ) -> None:
        super().__init__()
        self.out_channels = channels
        self.checkpoint = checkpoint
        first = nn.Sequential(
            ConvBNAct(in_channels, channels[0], act="leaky"),  # full resolution
            ConvBNAct(channels[0], channels[0], stride=2, act="leaky"),  # → 1/2
        )
        stages: list[nn.Module] = [first]
        for c_in, c_out in itertools.pairwise(channels):
            stages.append(nn.Sequential(nn.MaxPool2d(2), DoubleConv(c_in, c_out, act="leaky")))
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor) -> Features:
        """Encode an image batch.

        Args:
            x: ``(B, in_channels, H, W)``, H and W multiples of 32.

        Returns:
            f1..f5 (see ``Features``).
        """
        return self.forward_with_stem(x)[1]

    def forward_with_stem(self, x: Tensor) -> tuple[Tensor, Features]:
        """Encode and also return f0, the full-resolution convolution's output.

        Args:
            x: ``(B, in_channels, H, W)``, H and W multiples of 32.

        Returns:
            ``(f0 (B, channels[0], H, W), f1..f5)``.
        """
        first = self.stages[0]
        assert isinstance(first, nn.Sequential)
        pieces = [first[0], first[1], *self.stages[1:]]
        outs = []
        for piece in pieces:
            x = checkpointed(piece, x, self) if self.checkpoint else piece(x)
            outs.append(x)
        return outs[0], (outs[1], outs[2], outs[3], outs[4], outs[5])


def build_encoder(cfg: ModelConfig) -> LightEncoder | ResNet50Encoder:
    """Encoder named by ``cfg.backbone`` (no weights are loaded here).

    Args:
        cfg: model configuration.

    Returns:
        ``LightEncoder`` or ``ResNet50Encoder`` with ``out_channels == cfg.feature_channels``.
    """
    if cfg.backbone == "resnet50":
        return ResNet50Encoder(cfg.in_channels, cfg.checkpoint_encoder)
    return LightEncoder(cfg.in_channels, cfg.encoder_channels, cfg.checkpoint_encoder)
