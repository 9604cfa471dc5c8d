"""Projection head (pixel embeddings for the contrastive loss) and rotation head."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class ProjectionHead(nn.Module):
    """1×1 conv C→C, BN, ReLU, 1×1 conv → ``embed_dim``, L2-normalised over channels.

    Args:
        in_ch: channels of the input map (f3, 1/8).
        embed_dim: embedding channels.
    """

    def __init__(self, in_ch: int, embed_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_ch, in_ch, 1, bias=False),
            nn.BatchNorm2d(in_ch),
            nn.ReLU(inplace=True),
            nn.Conv2d(in_ch, embed_dim, 1),
        )

    def forward(self, x: Tensor) -> Tensor:
        """Embed every pixel of the map.

        Args:
            x: ``(B, in_ch, h, w)``.

        Returns:
            ``(B, embed_dim, h, w)`` with unit L2 norm over the channel axis.
        """
        return F.normalize(self.net(x), dim=1)


class RotationHead(nn.Module):
    """Global average pool, dropout, linear → 4 rotation classes (k · 90°, k = 0..3).

    Args:
        in_ch: channels of the input map (f5, 1/32).
        dropout: dropout rate before the classifier.
    """

    def __init__(self, in_ch: int, dropout: float) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_ch, 4)

    def forward(self, x: Tensor) -> Tensor:
        """Classify the rotation of each image.

        Args:
            x: ``(B, in_ch, h, w)``.

        Returns:
            ``(B, 4)`` logits.
        """
        pooled = x.mean(dim=(2, 3))
        out: Tensor = self.fc(self.dropout(pooled))
        return out
