"""The ``paper`` preset's switches towards the authors' code (docs/PAPER_FIDELITY.md), each
checked on its own, and the interactive presets left as they were."""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import replace
from types import SimpleNamespace

import pytest
import torch
from tiny import TINY_MODEL
from torch import nn

from ugpcl_engine.config import (
    AugmentationConfig,
    ModelConfig,
    TrainingConfig,
    preset,
    random_encoder_warning,
)
from ugpcl_engine.data.batches import augment
from ugpcl_engine.losses import dice_loss
from ugpcl_engine.model import UGPCLNet, build_model
from ugpcl_engine.model.blocks import DropPath
from ugpcl_engine.model.transformer_decoder import TransformerDecoder, drop_path_rates
from ugpcl_engine.training.step import supervised_loss

PAPER_PARAMETERS = 41_772_550
"""The authors' UNetTF-R50 trainable parameters without their unused ``norm`` (768) and with
our projection conv without its redundant bias: 41 772 358 + the 192 of ``norm_up``."""


@pytest.fixture(scope="module")
def paper_net() -> UGPCLNet:
    torch.manual_seed(0)
    return build_model(preset("paper", 4).model)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_swin_decoder_has_norm_up_and_the_authors_parameter_count(
    paper_net: UGPCLNet,
) -> None:
    norm_up = paper_net.tf_decoder.norm_up
    assert isinstance(norm_up, nn.LayerNorm) and norm_up.normalized_shape == (96,)
    assert _count(paper_net) == PAPER_PARAMETERS
    # norm_up normalises the 1/4 tokens before the ×4 expansion: changing its bias moves seg_tf
    x = torch.rand(1, 1, 64, 64)
    paper_net.eval()
    with torch.no_grad():
        before = paper_net.forward_decoders(x)[1]
        norm_up.bias.add_(1.0)
        after = paper_net.forward_decoders(x)[1]
        norm_up.bias.sub_(1.0)
    assert not torch.allclose(before, after)
    for name in ("quick", "standard"):
        assert build_model(preset(name, 4).model).tf_decoder.norm_up is None


def test_paper_drop_path_follows_the_authors_schedule(paper_net: UGPCLNet) -> None:
    step = 0.1 / 7  # linspace(0, 0.1, 8): the decoder uses the first six
    expected = [4 * step, 5 * step, 2 * step, 3 * step, 0.0, step]  # 1/16, 1/8, 1/4 stages
    rates = drop_path_rates(preset("paper", 4).model)
    assert [r for stage in rates for r in stage] == pytest.approx(expected)
    built = [block.drop_path.rate for s in paper_net.tf_decoder.stages for block in s.swin.blocks]
    assert built == pytest.approx(expected)
    # the committed presets keep the linear schedule: 0.1 first at 1/16 down to 0 last at 1/4
    linear = [r for stage in drop_path_rates(ModelConfig()) for r in stage]
    assert linear == pytest.approx([0.1, 0.08, 0.06, 0.04, 0.02, 0.0])
    assert max(m.rate for m in paper_net.modules() if isinstance(m, DropPath)) < 0.1


def _std(t: torch.Tensor) -> float:
    return float(t.detach().float().std())


def test_paper_linear_layers_start_trunc_normal_and_the_cnn_parts_kaiming(
    paper_net: UGPCLNet,
) -> None:
    tf = paper_net.tf_decoder
    linears = [m for m in tf.modules() if isinstance(m, nn.Linear) and m is not tf.head]
    assert len(linears) == 3 * (2 + 2 * 4) + 1  # expand, fuse and 4 per block; final expand
    for layer in linears:
        assert _std(layer.weight) == pytest.approx(0.02, rel=0.1)
        assert layer.bias is None or not layer.bias.any()
    # the class head keeps torch's default (the authors' 1×1 output convolution is not re-drawn)
    assert _std(tf.head.weight) == pytest.approx(1 / math.sqrt(3 * 96), rel=0.25)
    convs = [m for m in paper_net.decoder.modules() if isinstance(m, nn.Conv2d)]
    convs += [m for m in paper_net.projection.modules() if isinstance(m, nn.Conv2d)]
    for conv in convs:
        fan_in = conv.weight[0].numel()
        assert _std(conv.weight) == pytest.approx(math.sqrt(2 / fan_in), rel=0.15), conv
    assert _std(paper_net.rotation.fc.weight) == pytest.approx(0.02, rel=0.1)
    assert not paper_net.rotation.fc.bias.any()


def test_default_initialisation_is_left_as_torch_draws_it() -> None:
    torch.manual_seed(0)
    tf = TransformerDecoder(replace(preset("paper", 4).model, trunc_normal_init=False))
    expand = tf.final_expand.expand.weight  # Linear(96, 1536): kaiming_uniform(a=√5)
    assert _std(expand) == pytest.approx(1 / math.sqrt(3 * 96), rel=0.05)
    torch.manual_seed(0)
    net = build_model(replace(TINY_MODEL, kaiming_init=False))
    conv = net.decoder.blocks[0][0][0]
    assert isinstance(conv, nn.Conv2d)
    assert _std(conv.weight) < math.sqrt(2 / conv.weight[0].numel()) * 0.6


def test_interactive_presets_draw_the_same_network_as_before() -> None:
    # the switches consume no random numbers when off: the committed quick/standard numbers
    # were trained from these very weights
    for name in ("quick", "standard"):
        cfg = preset(name, 4).model
        assert not (cfg.tf_norm_up or cfg.trunc_normal_init or cfg.kaiming_init)
        assert cfg.drop_path_schedule == "linear" and cfg.pos_embed_scale == 1.0
        assert not (cfg.checkpoint_encoder or cfg.checkpoint_decoder)
        training = preset(name, 4).training
        assert not training.dice_background and not training.release_memory
        aug = training.augmentation
        assert (aug.jitter_p, aug.jitter_clamp, aug.image_sampling) == (1.0, False, "bilinear")


@pytest.mark.parametrize(("scale", "rms"), [(None, 1 / math.sqrt(2)), (0.02 * math.sqrt(2), 0.02)])
def test_position_embedding_scale(scale: float | None, rms: float) -> None:
    cfg = preset("paper", 4).model
    if scale is None:
        cfg = replace(cfg, pos_embed_scale=1.0)
    assert cfg.pos_embed_scale == pytest.approx(scale or 1.0)
    embed = TransformerDecoder(cfg).embeds[1]  # 512 → 192 at 1/8
    x = torch.rand(2, 512, 14, 10)
    with torch.no_grad():
        tokens = embed.norm(embed.proj(x).permute(0, 2, 3, 1))
        added = embed(x) - tokens
    assert float(added.pow(2).mean().sqrt()) == pytest.approx(rms, rel=1e-3)


def test_dice_over_every_class_divides_by_the_class_count() -> None:
    # 2×2 image, target [[0, 1], [1, 1]], both classes predicted at 0.5 everywhere
    target = torch.tensor([[[0, 1], [1, 1]]])
    probs = torch.full((1, 2, 2, 2), 0.5)
    eps = 1e-5
    fg = 1 - (3 + eps) / (4 + eps)  # class 1: Σpg = 1.5, Σp² = 1, Σg² = 3
    bg = 1 - (1 + eps) / (2 + eps)  # class 0: Σpg = 0.5, Σp² = 1, Σg² = 1
    assert float(dice_loss(probs, target)) == pytest.approx(fg, rel=1e-6)
    assert float(dice_loss(probs, target, include_background=True)) == pytest.approx(
        (fg + bg) / 2, rel=1e-6
    )
    logits = probs.log()
    paper, plain = TrainingConfig(dice_background=True), TrainingConfig()
    assert preset("paper", 2).training.dice_background
    with_bg = supervised_loss(logits, logits, probs, probs, target, paper)
    without = supervised_loss(logits, logits, probs, probs, target, plain)
    # L_ds = 0.5 Dice + 0.5 CE on both decoders (1 + 0.4): only the Dice half differs
    assert float(with_bg - without) == pytest.approx(1.4 * 0.5 * ((fg + bg) / 2 - fg), rel=1e-5)


def _still(**fields: object) -> AugmentationConfig:
    """Augmentation that moves no pixel out of place: flips and free rotation off, nearest."""
    base = AugmentationConfig(flip_p=0.0, rotate_deg=0.0, image_sampling="nearest")
    return replace(base, **fields)  # type: ignore[arg-type]


def test_jitter_applies_with_its_probability() -> None:
    images = torch.full((4000, 1, 4, 4), 0.5)  # contrast leaves a flat image as it is
    gen = torch.Generator().manual_seed(0)
    out, _, _ = augment(images, None, _still(jitter_p=0.8), gen)
    changed = (out != 0.5).flatten(1).all(1).float().mean().item()
    assert changed == pytest.approx(0.8, abs=0.03)
    untouched = (out == 0.5).flatten(1).all(1)
    assert bool(((out == 0.5).flatten(1).any(1) == untouched).all())  # whole images or none
    out_all, _, _ = augment(images, None, _still(), torch.Generator().manual_seed(0))
    assert bool((out_all != 0.5).flatten(1).all())


def test_jitter_clamps_to_the_unit_range_in_a_random_order() -> None:
    pattern = torch.tensor([[0.2, 0.9], [0.9, 0.2]])
    images = pattern.expand(2000, 1, 2, 2).contiguous()
    strong = (1.4, 1.4)  # contrast and brightness × 1.4
    gen = torch.Generator().manual_seed(0)
    out, _, _ = augment(images, None, _still(intensity_range=strong, jitter_clamp=True), gen)
    assert float(out.max()) == 1.0 and float(out.min()) >= 0.0
    lows = out.flatten(1).min(1).values
    # contrast first: 0.2 → 0.06 → 0.084; brightness first: 0.2 → 0.28 → mean 0.64 → 0.136
    contrast_first = torch.isclose(lows, torch.tensor(0.084), atol=1e-5)
    brightness_first = torch.isclose(lows, torch.tensor(0.136), atol=1e-5)
    assert bool((contrast_first | brightness_first).all())
    assert float(brightness_first.float().mean()) == pytest.approx(0.5, abs=0.05)
    plain, _, _ = augment(images, None, _still(intensity_range=strong), gen)
    assert float(plain.max()) == pytest.approx(((0.9 - 0.55) * 1.4 + 0.55) * 1.4)


def test_paper_resamples_images_and_labels_with_nearest_neighbours() -> None:
    aug = preset("paper", 3).training.augmentation
    assert aug.image_sampling == "nearest"
    assert (aug.jitter_p, aug.jitter_clamp, aug.intensity_range) == (0.8, True, (0.6, 1.4))
    values = torch.tensor([0.1, 0.3, 0.7])
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(0, 3, (16, 1, 32, 32), generator=gen)
    images, labels = values[idx], idx[:8, 0]
    no_jitter = replace(aug, jitter_p=0.0)  # even a factor of 1 may round a value
    out, out_labels, _ = augment(images, labels, no_jitter, gen)
    assert out_labels is not None
    allowed = torch.cat([values, torch.zeros(1)])
    assert bool(torch.isin(out, allowed).all())  # image values are moved, never blended
    assert bool(torch.isin(out_labels, torch.arange(3)).all())
    # each rotated label still sits on the image value it came with (nearest for both)
    inside = out[:8, 0] > 0
    assert bool((values[out_labels][inside] == out[:8, 0][inside]).all())
    blended, _, _ = augment(images, labels, replace(no_jitter, image_sampling="bilinear"), gen)
    assert not bool(torch.isin(blended, allowed).all())


def test_random_encoder_warning_only_for_resnet50_without_weights() -> None:
    paper = preset("paper", 4).model
    line = random_encoder_warning(paper)
    assert line is not None and "\n" not in line and "--pretrained" in line
    assert random_encoder_warning(replace(paper, pretrained_path="r50.pth")) is None
    assert random_encoder_warning(preset("quick", 4).model) is None


def _cli_args(**fields: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "preset": "paper",
        "seed": 0,
        "device": "cpu",
        "steps": None,
        "time_budget": None,
        "pretrained": None,
        "init": None,
        "input_size": None,
    }
    return argparse.Namespace(**(base | fields))


def test_train_and_train_dataset_warn_in_one_line_when_resnet50_starts_random(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ugpcl_engine.datasets import train_command
    from ugpcl_engine.training import job
    from ugpcl_engine.volume import LabelTable

    dataset = SimpleNamespace(label_table=LabelTable.default(4))
    calls = {
        "train": lambda args: job._spec(args, 4, time.perf_counter(), 1000),
        "train-dataset": lambda args: train_command._spec(args, dataset, True),
    }
    for name, spec_of in calls.items():
        spec_of(_cli_args())
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "random weights" in err and "--pretrained" in err, name
        spec_of(_cli_args(pretrained="r50.pth"))  # read later, when the model is built
        spec_of(_cli_args(preset="quick"))
        assert capsys.readouterr().err == "", name
    job._spec(_cli_args(init="model.pt"), 4, time.perf_counter(), 1000)  # weights from --init
    assert capsys.readouterr().err == ""
