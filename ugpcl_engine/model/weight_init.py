"""The authors' weight initialisations, for the ``paper`` preset (``docs/PAPER_FIDELITY.md``).

Torch initialises convolutions and linear layers with ``kaiming_uniform_(a=√5)``; the authors'
code re-initialises some parts of the network after building it. These functions do the same on
any module tree; ``ModelConfig.trunc_normal_init`` and ``ModelConfig.kaiming_init`` say where.
"""

from __future__ import annotations

from torch import nn

TRUNC_NORMAL_STD = 0.02
"""Std of the truncated normal for linear layers (Swin's and the authors' value)."""


def _linear_trunc_normal(module: nn.Linear) -> None:
    nn.init.trunc_normal_(module.weight, std=TRUNC_NORMAL_STD)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def trunc_normal_init(root: nn.Module, skip: tuple[nn.Module, ...] = ()) -> None:
    """Linear layers: truncated normal (std 0.02), zero bias; LayerNorms: weight 1, bias 0.

    Args:
        root: the module tree to initialise in place.
        skip: modules left as they are (the transformer decoder's class head, which the
            authors' 1×1 output convolution leaves at torch's default).
    """
    for module in root.modules():
        if any(module is s for s in skip):
            continue
        if isinstance(module, nn.Linear):
            _linear_trunc_normal(module)
        elif isinstance(module, nn.LayerNorm) and module.elementwise_affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


def kaiming_init(root: nn.Module) -> None:
    """Convolutions: ``kaiming_normal_`` (fan-in, gain √2; biases as torch left them); batch
    norms: weight 1, bias 0; linear layers: truncated normal (std 0.02), zero bias.

    Args:
        root: the module tree to initialise in place.
    """
    for module in root.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm) and module.affine:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Linear):
            _linear_trunc_normal(module)
