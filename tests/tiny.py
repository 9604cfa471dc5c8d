"""The tiny network configuration shared by fast tests (a few thousand parameters)."""

from __future__ import annotations

from ugpcl_engine.checkpoint import Checkpoint
from ugpcl_engine.config import ModelConfig, RunSpec, TrainingConfig
from ugpcl_engine.data.normalisation import IntensityWindow

TINY_MODEL = ModelConfig(
    num_classes=3,
    encoder_channels=(4, 8, 8, 16, 16),
    decoder_channels=(16, 8, 8, 4, 4),
    tf_dims=(8, 8, 16, 16),
    tf_heads=(2, 2, 1),
    tf_depth=1,
    embed_dim=8,
)


def tiny_checkpoint(
    model_version: str = "tiny0001",
    window: IntensityWindow | None = None,
    network_scale: float | None = None,
) -> Checkpoint:
    """A randomly initialised (seed 0), untrained tiny model: 3 classes, network size 64
    (``network_scale`` None: the legacy stretch-to-64² geometry)."""
    import torch

    from ugpcl_engine.model import build_model
    from ugpcl_engine.volume import LabelTable

    torch.manual_seed(0)
    return Checkpoint(
        spec=RunSpec(TINY_MODEL, TrainingConfig(steps=1)),
        state_dict=build_model(TINY_MODEL).state_dict(),
        bank_state={},
        label_table=LabelTable.default(3),
        axis="z",
        network_size=64,
        window=window or IntensityWindow("ct", -1000.0, 1000.0),
        model_version=model_version,
        network_scale=network_scale,
    )
