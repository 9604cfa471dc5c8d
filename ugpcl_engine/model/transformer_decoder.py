"""Swin-Unet style transformer decoder over the encoder's f2..f5 (any input size)."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor, nn

from ugpcl_engine.config import ModelConfig
from ugpcl_engine.model.blocks import Features, SinusoidalPositionEmbedding2d, checkpointed
from ugpcl_engine.model.swin import SwinStage
from ugpcl_engine.model.weight_init import trunc_normal_init


class TokenEmbed(nn.Module):
    """Feature map → tokens: 1×1 conv, LayerNorm, plus fixed 2-D sinusoidal positions.

    Args:
        in_ch: channels of the feature map.
        dim: token channels.
        pos_scale: amplitude of the position embedding (``ModelConfig.pos_embed_scale``).
    """

    def __init__(self, in_ch: int, dim: int, pos_scale: float = 1.0) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, 1)
        self.norm = nn.LayerNorm(dim)
        self.pos = SinusoidalPositionEmbedding2d(dim)
        self.pos_scale = pos_scale

    def forward(self, x: Tensor) -> Tensor:
        """``(B, in_ch, h, w)`` → ``(B, h, w, dim)`` tokens."""
        tokens: Tensor = self.norm(self.proj(x).permute(0, 2, 3, 1))
        pos: Tensor = self.pos(tokens.shape[1], tokens.shape[2])
        if self.pos_scale != 1.0:
            pos = pos * self.pos_scale
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


def drop_path_rates(cfg: ModelConfig) -> list[list[float]]:
    """Stochastic-depth rate of each Swin block, per stage in decoding order (1/16, 1/8, 1/4).

    ``"linear"``: from ``cfg.drop_path`` (first block at 1/16) down to 0 (last block at 1/4),
    the stage next to the bottleneck dropping most. ``"swin_unet"``: the authors' schedule,
    ``linspace(0, drop_path, 4·depth)`` with the first ``depth`` rates at 1/4, the next at 1/8
    and the next at 1/16 (the last ``depth`` would be the bottleneck's, which is not built).

    Args:
        cfg: model configuration (``drop_path``, ``drop_path_schedule``, ``tf_depth``).

    Returns:
        Three lists of ``tf_depth`` rates.
    """
    depth = cfg.tf_depth
    if cfg.drop_path_schedule == "swin_unet":
        n = 4 * depth
        rates = [cfg.drop_path * i / (n - 1) for i in range(n)]
        return [rates[s * depth : (s + 1) * depth] for s in (2, 1, 0)]
    n = 3 * depth
    rates = [cfg.drop_path * (n - 1 - i) / max(n - 1, 1) for i in range(n)]
    return [rates[s * depth : (s + 1) * depth] for s in range(3)]


class TransformerDecoder(nn.Module):
    """Expanding path 1/32 → 1/16 → 1/8 → 1/4 with Swin stages, then ×4 to full resolution.

    Stochastic depth per block: ``drop_path_rates``. With ``cfg.tf_norm_up`` a LayerNorm
    (Swin-Unet's ``norm_up``) precedes the final ×4 expansion; with ``cfg.checkpoint_decoder``
    the stages and the final expansion recompute their activations in the backward pass.

    Args:
        cfg: model configuration (``tf_dims`` at 1/4..1/32, ``tf_heads`` at 1/16, 1/8, 1/4,
            ``tf_depth``, ``window_size``, ``mlp_ratio``, ``drop_path`` and the switches above).
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        dims = cfg.tf_dims
        self.embeds = nn.ModuleList(
            TokenEmbed(c, d, cfg.pos_embed_scale)
            for c, d in zip(cfg.feature_channels[1:], dims, strict=True)
        )
        rates = drop_path_rates(cfg)
        self.stages = nn.ModuleList(
            UpStage(dims[3 - i], dims[2 - i], cfg.tf_heads[i], cfg.tf_depth, cfg, rates[i])
            for i in range(3)
        )
        self.norm_up = nn.LayerNorm(dims[0]) if cfg.tf_norm_up else None
        self.final_expand = PatchExpand(dims[0], dims[0], 4)
        self.head = nn.Linear(dims[0], cfg.num_classes)
        self.checkpoint = cfg.checkpoint_decoder
        if cfg.trunc_normal_init:
            trunc_normal_init(self, skip=(self.head,))

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
            skip = tokens[2 - i]
            if self.checkpoint:
                x = checkpointed(partial(stage, skip=skip), x, self)
            else:
                x = stage(x, skip)
        logits = checkpointed(self._to_logits, x, self) if self.checkpoint else self._to_logits(x)
        return logits.permute(0, 3, 1, 2).contiguous()

    def _to_logits(self, x: Tensor) -> Tensor:
        """``(B, h, w, tf_dims[0])`` tokens at 1/4 → ``(B, 4h, 4w, num_classes)`` logits."""
        if self.norm_up is not None:
            x = self.norm_up(x)
        logits: Tensor = self.head(self.final_expand(x))
        return logits
