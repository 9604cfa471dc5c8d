"""The UGPCL network: one shared encoder, CNN and transformer decoders, two auxiliary heads."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from ugpcl_engine.config import ModelConfig
from ugpcl_engine.data.slices import SIZE_MULTIPLE
from ugpcl_engine.errors import InputError
from ugpcl_engine.model.blocks import Features
from ugpcl_engine.model.cnn_decoder import CNNDecoder
from ugpcl_engine.model.encoders import LightEncoder, build_encoder
from ugpcl_engine.model.heads import ProjectionHead, RotationHead
from ugpcl_engine.model.resnet import load_resnet50_weights
from ugpcl_engine.model.transformer_decoder import TransformerDecoder
from ugpcl_engine.model.weight_init import kaiming_init


class NetOutput(NamedTuple):
    """Everything one forward pass produces.

    Attributes:
        seg: ``(B, C, H, W)`` CNN decoder logits.
        seg_tf: ``(B, C, H, W)`` transformer decoder logits.
        embed: ``(B, E, H/8, W/8)`` pixel embeddings, unit L2 norm over channels.
        rot_logits: ``(B, 4)`` logits of the rotation class k (k · 90°).
    """

    seg: Tensor
    seg_tf: Tensor
    embed: Tensor
    rot_logits: Tensor


class UGPCLNet(nn.Module):
    """Shared encoder feeding a CNN decoder, a Swin decoder, a projection and a rotation head.

    Args:
        cfg: model configuration.
        load_pretrained: read ``cfg.pretrained_path`` (resnet50 only) into the encoder. Pass
            ``False`` when the weights come from a checkpoint anyway.

    Raises:
        InputError: ``pretrained_path`` is set for the light backbone, or the file is missing or
            incompatible (see ``load_resnet50_weights``).
    """

    def __init__(self, cfg: ModelConfig, *, load_pretrained: bool = True) -> None:
        super().__init__()
        self.cfg = cfg
        ch = cfg.feature_channels
        self.encoder = build_encoder(cfg)
        stem = cfg.encoder_channels[0] if cfg.full_res_skip else 0
        self.decoder = CNNDecoder(ch, cfg.decoder_channels, cfg.num_classes, stem)
        self.tf_decoder = TransformerDecoder(cfg)
        self.projection = ProjectionHead(ch[2], cfg.embed_dim)
        self.rotation = RotationHead(ch[4], cfg.rot_dropout)
        if cfg.kaiming_init:
            for part in (self.decoder, self.projection, self.rotation):
                kaiming_init(part)
        if cfg.pretrained_path is not None and load_pretrained:
            if cfg.backbone != "resnet50":
                raise InputError(
                    "pretrained_path only applies to the resnet50 backbone; "
                    "choose backbone='resnet50' or unset pretrained_path."
                )
            load_resnet50_weights(self.encoder, cfg.pretrained_path)
        # channels-last convolution weights make the convolutions pick the NHWC kernels
        # (about 15 % faster forward+backward on CPU, and the layout tensor cores prefer);
        # the outputs are returned contiguous (NCHW) so callers see ordinary tensors.
        for param in self.parameters():
            if param.dim() == 4:
                param.data = param.data.contiguous(memory_format=torch.channels_last)

    def _check(self, x: Tensor) -> None:
        if torch.onnx.is_in_onnx_export():
            return  # sizes are symbolic while exporting
        if x.dim() != 4 or x.shape[1] != self.cfg.in_channels:
            raise ValueError(
                f"expected (B, {self.cfg.in_channels}, H, W) input, got {tuple(x.shape)}"
            )
        if x.shape[2] % SIZE_MULTIPLE or x.shape[3] % SIZE_MULTIPLE:
            raise ValueError(
                f"input height and width must be multiples of {SIZE_MULTIPLE}, "
                f"got {x.shape[2]}×{x.shape[3]}"
            )

    def forward(self, x: Tensor) -> NetOutput:
        """Run all four heads.

        Args:
            x: ``(B, in_channels, H, W)``, H and W multiples of 32 (any, non-square allowed).

        Returns:
            ``NetOutput`` (seg, seg_tf, embed, rot_logits).

        Raises:
            ValueError: wrong channel count or a size that is not a multiple of 32.
        """
        self._check(x)
        feats, stem = self.encode(x)
        return NetOutput(
            seg=self.decoder(feats, stem).contiguous(),
            seg_tf=self.tf_decoder(feats),
            embed=self.projection(feats[2]).contiguous(),
            rot_logits=self.rotation(feats[4]),
        )

    def forward_decoders(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Both decoders only (inference, uncertainty maps, ONNX export).

        Args:
            x: ``(B, in_channels, H, W)``, H and W multiples of 32.

        Returns:
            ``(seg, seg_tf)``, each ``(B, C, H, W)`` logits.

        Raises:
            ValueError: see ``forward``.
        """
        self._check(x)
        feats, stem = self.encode(x)
        return self.decoder(feats, stem).contiguous(), self.tf_decoder(feats)

    def encode(self, x: Tensor) -> tuple[Features, Tensor | None]:
        """Encoder features f1..f5 and, with ``full_res_skip``, the full-resolution f0."""
        if self.cfg.full_res_skip and isinstance(self.encoder, LightEncoder):
            stem, feats = self.encoder.forward_with_stem(x)
            return feats, stem
        return self.encoder(x), None


def build_model(cfg: ModelConfig, *, load_pretrained: bool = True) -> UGPCLNet:
    """Build the UGPCL network for ``cfg`` (weights from ``cfg.pretrained_path`` if set).

    Args:
        cfg: model configuration.
        load_pretrained: see ``UGPCLNet``.

    Returns:
        The network in training mode, on the CPU.

    Raises:
        InputError: see ``UGPCLNet``.
    """
    return UGPCLNet(cfg, load_pretrained=load_pretrained)
