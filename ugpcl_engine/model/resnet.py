"""ResNet-50 encoder (paper backbone) and loading of local ImageNet weights.

Parameter names follow the common torchvision ``resnet50`` state_dict layout (``conv1``, ``bn1``,
``layer1`` .. ``layer4`` with ``conv1..3``, ``bn1..3`` and ``downsample.0/1`` per bottleneck; the
stride sits on the 3×3 convolution, "v1.5"), so an ImageNet weight file loads as is; the
classifier (``fc.*``) is ignored. Weights are never downloaded: only an explicit local file is read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ugpcl_engine.errors import InputError
from ugpcl_engine.model.blocks import checkpointed

RESNET50_LAYERS = (3, 4, 6, 3)


class Bottleneck(nn.Module):
    """1×1 reduce, 3×3 (strided), 1×1 expand ×4, with an identity or projected shortcut.

    Args:
        in_ch: input channels.
        width: bottleneck width (output channels are ``4 * width``).
        stride: stride of the 3×3 convolution.
    """

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1) -> None:
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: Tensor) -> Tensor:
        """Residual bottleneck: ``(B, in_ch, H, W) → (B, 4·width, H/stride, W/stride)``."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return torch.relu(out + identity)


class ResNet50Encoder(nn.Module):
    """ResNet-50 trunk exposing f1..f5: 64@1/2, 256@1/4, 512@1/8, 1024@1/16, 2048@1/32.

    A one-channel (grey) input is replicated to the three channels ImageNet weights expect; any
    other channel count feeds ``conv1`` directly.

    Args:
        in_channels: image channels.
        checkpoint: while training, recompute each of the five stages in the backward pass
            instead of keeping its activations (``blocks.checkpointed``).
    """

    def __init__(self, in_channels: int = 1, checkpoint: bool = False) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.checkpoint = checkpoint
        self.out_channels = (64, 256, 512, 1024, 2048)
        self.conv1 = nn.Conv2d(3 if in_channels == 1 else in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._layer(64, 64, RESNET50_LAYERS[0], stride=1)
        self.layer2 = self._layer(256, 128, RESNET50_LAYERS[1], stride=2)
        self.layer3 = self._layer(512, 256, RESNET50_LAYERS[2], stride=2)
        self.layer4 = self._layer(1024, 512, RESNET50_LAYERS[3], stride=2)
        self._init_weights()

    @staticmethod
    def _layer(in_ch: int, width: int, blocks: int, stride: int) -> nn.Sequential:
        layers = [Bottleneck(in_ch, width, stride)]
        layers += [Bottleneck(width * Bottleneck.expansion, width) for _ in range(blocks - 1)]
        return nn.Sequential(*layers)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        for module in self.modules():
            # zero-init the last BN of each residual branch: every block starts as identity
            if isinstance(module, Bottleneck):
                nn.init.zeros_(module.bn3.weight)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
        """Encode an image batch.

        Args:
            x: ``(B, in_channels, H, W)``, H and W multiples of 32.

        Returns:
            f1..f5, ``(B, C_i, H / 2^i, W / 2^i)``.
        """
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        stages: tuple[Callable[[Tensor], Tensor], ...] = (
            self._stem,
            self._layer1,
            self.layer2,
            self.layer3,
            self.layer4,
        )
        feats = []
        for stage in stages:
            x = checkpointed(stage, x, self) if self.checkpoint else stage(x)
            feats.append(x)
        return feats[0], feats[1], feats[2], feats[3], feats[4]

    def _stem(self, x: Tensor) -> Tensor:
        out: Tensor = self.relu(self.bn1(self.conv1(x)))
        return out

    def _layer1(self, x: Tensor) -> Tensor:
        out: Tensor = self.layer1(self.maxpool(x))
        return out


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if not path.is_file():
        raise InputError(
            f"ResNet-50 weight file not found: {path}. Point pretrained_path at a local "
            "torchvision-style resnet50 state_dict (.pth), or leave it unset to start from scratch."
        )
    try:
        data: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any unreadable/unsafe file is a user error
        raise InputError(
            f"Cannot read ResNet-50 weights from {path}: {exc}. Save a plain state_dict "
            "(torch.save(model.state_dict(), path))."
        ) from exc
    if isinstance(data, Mapping) and isinstance(data.get("state_dict"), Mapping):
        data = data["state_dict"]
    if not isinstance(data, Mapping) or not all(isinstance(v, Tensor) for v in data.values()):
        raise InputError(f"{path} does not hold a ResNet-50 state_dict (name → tensor mapping).")
    return {str(k).removeprefix("module."): v for k, v in data.items()}


def load_resnet50_weights(encoder: nn.Module, path: str | Path) -> None:
    """Load ImageNet ResNet-50 weights from an explicit local file into ``encoder``.

    Keys ``fc.*`` are ignored, a ``module.`` prefix (DataParallel) is stripped, and a file lacking
    only ``num_batches_tracked`` counters (older torchvision) is accepted.

    Args:
        encoder: a ``ResNet50Encoder``.
        path: local ``.pth`` file with a torchvision-layout state_dict (optionally wrapped as
            ``{"state_dict": ...}``).

    Raises:
        InputError: the file is missing or unreadable, or its keys or shapes do not match.
    """
    path = Path(path)
    source = {k: v for k, v in _read_state_dict(path).items() if not k.startswith("fc.")}
    target = encoder.state_dict()
    missing = [k for k in target if k not in source and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in source if k not in target]
    if missing or unexpected:
        raise InputError(
            f"{path} is not a ResNet-50 state_dict: {len(missing)} missing keys "
            f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})."
        )
    wrong = [k for k, v in source.items() if v.shape != target[k].shape]
    if wrong:
        k = wrong[0]
        raise InputError(
            f"{path}: {len(wrong)} tensors have the wrong shape, e.g. {k} is "
            f"{tuple(source[k].shape)} but the model needs {tuple(target[k].shape)} "
            "(ImageNet weights need in_channels 1 or 3)."
        )
    encoder.load_state_dict(source, strict=False)
