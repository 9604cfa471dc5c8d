"""Swin-Unet style transformer decoder over the encoder's f2..f5 (any input size)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ugpcl_engine.config import ModelConfig
from ugpcl_engine.model.blocks import Features, SinusoidalPositionEmbedding2d
from ugpcl_engine.model.swin import SwinStage


class TokenEmbed(nn.Module):
    """Feature map → tokens: 1×1 conv, LayerNorm, plus fixed 2-D sinusoidal positions.

    Args:
        in_ch: channels of the feature map.
        dim: token channels.
    """

    def __init__(self, in_ch: int, dim: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.pos = SinusoidalPositionEmbedding2d(dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_ch, h, w)`` → ``(B, h, w, dim)`` tokens."""
        tokens: Tensor = self.norm(self.proj(x).permute(0, 2, 3, 1))
        pos: Tensor = self.pos(tokens.shape[1], tokens.shape[2])
        return tokens + pos.to(tokens.dtype)


class PatchExpand(nn.Module):
    """Linear to ``scale² · out_dim`` channels, rearranged into a ``scale×`` larger map, LayerNorm.

    Args:
        in_dim: input token channels.
        out_dim: output token channels.
        scale: upsampling factor per axis.
    """

    def __init__(self, in_dim: int, out_dim: int, scale: int) -> None:
        super().__init__()
        self.scale = scale
        self.out_dim = out_dim
        self.expand = nn.Linear(in_dim, scale * scale * out_dim, bias=False)
        self.norm = nn.LayerNorm(out_dim)

    def forward(self, x: Tensor) -> Tensor:
        """``(B, h, w, in_dim)`` → ``(B, scale·h, scale·w, out_dim)``."""
        b, h, w, _ = x.shape
        s, c = self.scale, self.out_dim
        x = self.expand(x).view(b, h, w, s, s, c).permute(0, 1, 3, 2, 4, 5)
        out: Tensor = self.norm(x.reshape(b, h * s, w * s, c))
        return out


class UpStage(nn.Module):
    """Patch-expand ×2, concat the skip tokens, linear to the stage dim, Swin blocks.

    Args:
        in_dim: token channels coming from the coarser stage.
        dim: token channels of this stage (and of its skip).
        heads: attention heads.
        depth: Swin blocks.
        cfg: model configuration (window, MLP ratio).
        drop_paths: stochastic-depth rates of the blocks.
    """

    def __init__(
        self,
        in_dim: int,
        dim: int,
        heads: int,
        depth: int,
        cfg: ModelConfig,
        drop_paths: list[float],
    ) -> None:
        super().__init__()
        self.expand = PatchExpand(in_dim, dim, 2)
        self.fuse = nn.Linear(2 * dim, dim)
        self.swin = SwinStage(dim, heads, depth, cfg.window_size, cfg.mlp_ratio, drop_paths)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        """``(B, h, w, in_dim)`` and skip ``(B, 2h, 2w, dim)`` → ``(B, 2h, 2w, dim)``."""
        x = self.fuse(torch.cat([self.expand(x), skip], dim=-1))
        out: Tensor = self.swin(x)
        return out


class TransformerDecoder(nn.Module):
    """Expanding path 1/32 → 1/16 → 1/8 → 1/4 with Swin stages, then ×4 to full resolution.

    Stochastic depth grows linearly from 0 (last block at 1/4) to ``cfg.drop_path`` (first block at
    1/16), mirroring Swin-Unet, where the decoder stage next to the bottleneck drops most.

    Args:
        cfg: model configuration (``tf_dims`` at 1/4..1/32, ``tf_heads`` at 1/16, 1/8, 1/4,
            ``tf_depth``, ``window_size``, ``mlp_ratio``, ``drop_path``).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        dims = cfg.tf_dims
        self.embeds = nn.ModuleList(
            TokenEmbed(c, d) for c, d in zip(cfg.feature_channels[1:], dims, strict=True)
        )
        depth = cfg.tf_depth
        n_blocks = 3 * depth
        rates = [cfg.drop_path * (n_blocks - 1 - i) / max(n_blocks - 1, 1) for i in range(n_blocks)]
        self.stages = nn.ModuleList(
            UpStage(
                dims[3 - i], dims[2 - i], cfg.tf_heads[i], depth, cfg, rates[i * depth :][:depth]
            )
            for i in range(3)
        )
        self.final_expand = PatchExpand(dims[0], dims[0], 4)
        self.head = nn.Linear(dims[0], cfg.num_classes)

    def forward(self, feats: Features) -> Tensor:
        """Decode to class logits.

        Args:
            feats: f1..f5 from the encoder (f1 is not used).

        Returns:
            ``(B, num_classes, H, W)`` logits at the input resolution (4 × f2's size).
        """
        tokens = [embed(f) for embed, f in zip(self.embeds, feats[1:], strict=True)]
        x = tokens[3]
        for i, stage in enumerate(self.stages):
            x = stage(x, tokens[2 - i])
        logits: Tensor = self.head(self.final_expand(x))
        return logits.permute(0, 3, 1, 2).contiguous()
