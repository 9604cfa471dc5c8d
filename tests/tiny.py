"""The tiny network configuration shared by fast tests (a few thousand parameters)."""

from __future__ import annotations

from ugpcl_engine.config import ModelConfig

TINY_MODEL = ModelConfig(
    num_classes=3,
    encoder_channels=(4, 8, 8, 16, 16),
    decoder_channels=(16, 8, 8, 4, 4),
    tf_dims=(8, 8, 16, 16),
    tf_heads=(2, 2, 1),
    tf_depth=1,
    embed_dim=8,
)
