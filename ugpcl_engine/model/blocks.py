"""Small building blocks shared by the encoders, decoders and heads.

Everything here works on ``(B, C, H, W)`` tensors unless the name says ``tokens`` (channels-last
``(B, H, W, C)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import torch
import torch.utils.checkpoint
from torch import Tensor, nn

Features = tuple[Tensor, Tensor, Tensor, Tensor, Tensor]
"""Encoder output f1..f5: ``(B, C_i, H / 2^i, W / 2^i)`` for i = 1..5."""


class ConvBNAct(nn.Sequential):
    """3×3 (or ``kernel``) convolution, batch norm and an activation.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        stride: convolution stride.
        kernel: odd kernel size (padding keeps the size at stride 1).
        act: ``"relu"`` or ``"leaky"`` (LeakyReLU 0.01, as in SSL4MIS).
    """

    def __init__(
        self, in_ch: int, out_ch: int, stride: int = 1, kernel: int = 3, act: str = "relu"
    ) -> None:
        activation: nn.Module = nn.ReLU(inplace=True) if act == "relu" else nn.LeakyReLU(0.01, True)
        super().__init__(
            nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(out_ch),
            activation,
        )


class DoubleConv(nn.Sequential):
    """Two ``ConvBNAct`` blocks: ``in_ch → out_ch → out_ch``; the first may have a stride.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        act: activation name, see ``ConvBNAct``.
        stride: stride of the first convolution.
    """

    def __init__(self, in_ch: int, out_ch: int, act: str = "relu", stride: int = 1) -> None:
        super().__init__(
            ConvBNAct(in_ch, out_ch, stride=stride, act=act), ConvBNAct(out_ch, out_ch, act=act)
        )


class DropPath(nn.Module):
    """Stochastic depth: drop a whole residual branch per sample while training.

    Args:
        rate: probability of dropping the branch (0 disables it).
    """

    def __init__(self, rate: float) -> None:
        super().__init__()
        self.rate = float(rate)

    def forward(self, x: Tensor) -> Tensor:
        """Scale kept samples by ``1 / (1 - rate)``; identity in eval mode.

        Args:
            x: ``(B, ...)`` branch output.

        Returns:
            Tensor of the same shape.
        """
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        mask = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class SinusoidalPositionEmbedding2d(nn.Module):
    """Fixed absolute 2-D sinusoidal position embedding, evaluated for any map size.

    Channels are split in four groups: ``sin(y·ω)``, ``cos(y·ω)``, ``sin(x·ω)``, ``cos(x·ω)``
    with ``ω_k = 10000^(-k/K)``, ``K = dim // 4``; leftover channels (``dim % 4``) are zero.
    Positions are integer indices of the token grid, so a token's embedding does not depend on
    the image size.

    Design choice (UGPCL_METHOD §4): the reference implementation kept its embedding table in an
    unregistered attribute, so it never followed ``.to(device)`` and was never saved. Here the
    frequency table is a registered persistent buffer: it moves with the module, is saved in
    ``state_dict`` and, being a closed-form function of (y, x), needs no fixed maximum size.

    Args:
        dim: embedding channels.
    """

    inv_freq: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        n_freq = dim // 4
        self.n_freq = n_freq
        exponent = torch.arange(n_freq, dtype=torch.float32) / max(n_freq, 1)
        self.register_buffer("inv_freq", torch.exp(-math.log(10000.0) * exponent))

    def forward(self, height: int, width: int) -> Tensor:
        """Embedding of a ``height × width`` grid.

        Args:
            height: rows of the token grid.
            width: columns of the token grid.

        Returns:
            ``(height, width, dim)`` float32 tensor on the buffer's device.
        """
        dev = self.inv_freq.device
        ys = torch.arange(height, device=dev, dtype=torch.float32)[:, None] * self.inv_freq
        xs = torch.arange(width, device=dev, dtype=torch.float32)[:, None] * self.inv_freq
        y_emb = torch.cat([ys.sin(), ys.cos()], dim=1)[:, None, :].expand(-1, width, -1)
        x_emb = torch.cat([xs.sin(), xs.cos()], dim=1)[None, :, :].expand(height, -1, -1)
        emb = torch.cat([y_emb, x_emb], dim=2)
        rest = self.dim - 4 * self.n_freq
        if rest:
            emb = torch.cat([emb, emb.new_zeros(height, width, rest)], dim=2)
        return emb


@contextmanager
def _batch_norm_stats_kept(module: nn.Module) -> Iterator[None]:
    """Restore every batch norm's running statistics (and counter) in ``module`` on exit."""
    buffers = [
        b
        for m in module.modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm)
        for b in m.buffers()
    ]
    saved = [b.clone() for b in buffers]
    try:
        yield
    finally:
        for buffer, value in zip(buffers, saved, strict=True):
            buffer.copy_(value)


def checkpointed(fn: Callable[[Tensor], Tensor], x: Tensor, owner: nn.Module) -> Tensor:
    """``fn(x)`` whose activations are recomputed in the backward pass instead of kept.

    Only while ``owner`` trains with gradients on; otherwise a plain call. The recomputation
    replays the random state (drop-path masks) and leaves the running statistics of the batch
    norms in ``owner`` as the forward pass left them (a second update would count the batch
    twice), so values, gradients and buffers equal those of the plain call.

    Args:
        fn: the piece to run (its parameters may live anywhere in ``owner``).
        x: its input.
        owner: the module whose training flag decides and whose batch norms are kept.

    Returns:
        ``fn(x)``.
    """
    if not (owner.training and torch.is_grad_enabled()):
        return fn(x)

    def contexts() -> tuple[AbstractContextManager[None], AbstractContextManager[None]]:
        return nullcontext(), _batch_norm_stats_kept(owner)

    out: Tensor = torch.utils.checkpoint.checkpoint(fn, x, use_reentrant=False, context_fn=contexts)
    return out
