"""Swin transformer blocks that work on any map size (channels-last tokens ``(B, H, W, C)``).

Windows of any size: the map is padded to a multiple of the window and padded tokens are masked
as attention keys. A window larger than the map therefore acts exactly like the window clipped to
the map (the real tokens see the same neighbours and the same relative-position biases), and the
shifted partition is only used when the map is larger than the window along that axis. The
shifted partition is computed by a cyclic shift of the padded map with a mask that keeps the
wrapped-around pieces apart (as in Swin), so its result equals padding each partial window.

All of this is written with tensor ops on sizes taken from ``x.shape`` (no Python branches on
sizes), so a traced/ONNX graph stays correct at every input size, not only the exported one.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ugpcl_engine.model.blocks import DropPath

MASKED = -1.0e4
"""Additive attention logit of a masked key (finite: a fully masked padded query gives no NaN)."""


class WindowPlan(NamedTuple):
    """How one map is cut into windows (shared by the blocks of a stage with the same shift).

    Attributes:
        gather_h, gather_w: ``(Hp,)``, ``(Wp,)`` source row/column of each padded, shifted
            position; ``H`` / ``W`` points at an appended zero row/column (padding).
        scatter_h, scatter_w: ``(H,)``, ``(W,)`` position of each real row/column in the padded,
            shifted map (to undo the gather).
        mask: ``(nW, N, N)`` additive attention mask per window, ``N = window²``.
    """

    gather_h: Tensor
    gather_w: Tensor
    scatter_h: Tensor
    scatter_w: Tensor
    mask: Tensor


def _axis(n: int, window: int, shift: int, device: torch.device) -> tuple[Tensor, ...]:
    """Padded, cyclically shifted positions along one axis of length ``n``."""
    s = shift * (n > window)  # shift only when the map is larger than the window
    n_pad = (n + window - 1) // window * window
    pos = torch.arange(n_pad, device=device) + s
    wrapped = pos >= n_pad
    pos = pos - wrapped.long() * n_pad
    valid = pos < n
    gather = torch.where(valid, pos, n)
    scatter = (torch.arange(n, device=device) - s + n_pad) % n_pad
    return gather, scatter, valid, wrapped


def _partition(x: Tensor, window: int) -> Tensor:
    """``(B, Hp, Wp, C)`` → ``(B·nW, window², C)``, windows in row-major order."""
    b, hp, wp, c = x.shape
    x = x.view(b, hp // window, window, wp // window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, window * window, c)


def _merge(x: Tensor, window: int, b: int, hp: int, wp: int) -> Tensor:
    """Inverse of ``_partition``: ``(B·nW, window², C)`` → ``(B, Hp, Wp, C)``."""
    c = x.shape[-1]
    x = x.view(b, hp // window, wp // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, hp, wp, c)


def window_plan(
    height: int, width: int, window: int, shift: int, device: torch.device
) -> WindowPlan:
    """Plan the (shifted) window partition of a ``height × width`` map.

    Args:
        height, width: map size (any positive values).
        window: window side.
        shift: cyclic shift (``window // 2`` for shifted blocks, 0 otherwise); applied per axis
            only where the map is larger than the window.
        device: device of the index tensors.

    Returns:
        The ``WindowPlan``.
    """
    gh, sh, vh, wh = _axis(height, window, shift, device)
    gw, sw, vw, ww = _axis(width, window, shift, device)
    valid = (vh[:, None] & vw[None, :]).float()
    code = wh.float()[:, None] * 2.0 + ww.float()[None, :]
    # code of a padded token never matches a real one: -1 - 4·(1 - valid) ≠ 0..3
    code = code * valid - 4.0 * (1.0 - valid)
    code_w = _partition(code[None, :, :, None], window)[..., 0]  # (nW, N)
    differ = code_w[:, :, None] != code_w[:, None, :]
    mask = differ.float() * MASKED
    return WindowPlan(gh, gw, sh, sw, mask)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with a learned relative position bias.

    Args:
        dim: token channels.
        heads: attention heads (``dim % heads == 0``).
        window: window side.
    """

    rel_index: Tensor

    def __init__(self, dim: int, heads: int, window: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rel_bias = nn.Parameter(torch.zeros((2 * window - 1) ** 2, heads))
        nn.init.trunc_normal_(self.rel_bias, std=0.02)
        coords = torch.stack(
            torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij")
        ).flatten(1)  # (2, N)
        rel = (coords[:, :, None] - coords[:, None, :]) + (window - 1)  # (2, N, N), >= 0
        self.register_buffer("rel_index", rel[0] * (2 * window - 1) + rel[1], persistent=False)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        """Attend within each window.

        Args:
            x: ``(B·nW, N, dim)`` window tokens.
            mask: ``(nW, N, N)`` additive mask (0 or ``MASKED``).

        Returns:
            ``(B·nW, N, dim)``.
        """
        bw, n, c = x.shape
        qkv = self.qkv(x).view(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (B·nW, heads, N, d)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.rel_bias[self.rel_index].permute(2, 0, 1)  # (heads, N, N)
        n_win = mask.shape[0]
        attn = attn.view(-1, n_win, self.heads, n, n) + bias[None, None] + mask[None, :, None]
        attn = attn.softmax(dim=-1).view(bw, self.heads, n, n)
        out = (attn @ v).transpose(1, 2).reshape(bw, n, c)
        result: Tensor = self.proj(out)
        return result


class SwinBlock(nn.Module):
    """Pre-norm Swin block: (shifted) window attention and an MLP, each with a residual.

    Args:
        dim: token channels.
        heads: attention heads.
        window: window side.
        mlp_ratio: hidden width of the MLP relative to ``dim``.
        drop_path: stochastic-depth rate of both residual branches.
    """

    def __init__(
        self, dim: int, heads: int, window: int, mlp_ratio: float, drop_path: float
    ) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = max(1, round(dim * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: Tensor, plan: WindowPlan) -> Tensor:
        """Apply the block.

        Args:
            x: ``(B, H, W, dim)`` tokens.
            plan: window plan of this map for this block's shift.

        Returns:
            ``(B, H, W, dim)``.
        """
        b = x.shape[0]
        hp, wp = plan.gather_h.shape[0], plan.gather_w.shape[0]
        y = F.pad(self.norm1(x), (0, 0, 0, 1, 0, 1))  # zero row/column for padded positions
        y = y.index_select(1, plan.gather_h).index_select(2, plan.gather_w)
        y = self.attn(_partition(y, self.window), plan.mask)
        y = _merge(y, self.window, b, hp, wp)
        y = y.index_select(1, plan.scatter_h).index_select(2, plan.scatter_w)
        x = x + self.drop_path(y)
        mlp_out: Tensor = self.drop_path(self.mlp(self.norm2(x)))
        return x + mlp_out


class SwinStage(nn.Module):
    """``depth`` Swin blocks, every second one with shifted windows.

    Args:
        dim: token channels.
        heads: attention heads.
        depth: number of blocks.
        window: window side.
        mlp_ratio: MLP expansion.
        drop_paths: stochastic-depth rate of each block (length ``depth``).
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        depth: int,
        window: int,
        mlp_ratio: float,
        drop_paths: list[float],
    ) -> None:
        super().__init__()
        self.window = window
        self.blocks = nn.ModuleList(
            SwinBlock(dim, heads, window, mlp_ratio, drop_paths[i]) for i in range(depth)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Apply the blocks to ``(B, H, W, dim)`` tokens; returns the same shape."""
        _, h, w, _ = x.shape
        shifts = (0, self.window // 2)[: len(self.blocks)]
        plans = [window_plan(h, w, self.window, shift, x.device) for shift in shifts]
        for i, block in enumerate(self.blocks):
            x = block(x, plans[i % 2])
        return x
