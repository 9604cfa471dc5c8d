"""The UGPCL network: shapes at odd sizes, heads, gradients, saving, ResNet weights, ONNX."""

from __future__ import annotations

import io
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny import TINY_MODEL
from torch import nn

from ugpcl_engine.config import ModelConfig, preset
from ugpcl_engine.errors import InputError
from ugpcl_engine.model import NetOutput, UGPCLNet, build_model, load_resnet50_weights
from ugpcl_engine.model.blocks import DropPath
from ugpcl_engine.model.resnet import ResNet50Encoder
from ugpcl_engine.model.swin import MASKED, window_plan

TINY = replace(TINY_MODEL, tf_depth=2, window_size=3)  # two Swin blocks: shifted windows too
TINY_R50 = replace(TINY, backbone="resnet50", decoder_channels=(8, 8, 8, 4, 4))


@pytest.fixture(scope="module")
def r50_net() -> UGPCLNet:
    torch.manual_seed(0)
    return build_model(TINY_R50)


def _check_output(out: NetOutput, cfg: ModelConfig, b: int, h: int, w: int) -> None:
    assert out.seg.shape == (b, cfg.num_classes, h, w)
    assert out.seg_tf.shape == (b, cfg.num_classes, h, w)
    assert out.embed.shape == (b, cfg.embed_dim, h // 8, w // 8)
    assert out.rot_logits.shape == (b, 4)
    assert all(torch.isfinite(t).all() for t in out)
    norms = out.embed.norm(dim=1)
    torch.testing.assert_close(norms, torch.ones_like(norms))


@pytest.mark.parametrize(("b", "h", "w"), [(1, 32, 96), (3, 64, 160), (2, 96, 32), (1, 160, 224)])
@pytest.mark.parametrize("window", [3, 7])
def test_light_shapes_at_odd_sizes(b: int, h: int, w: int, window: int) -> None:
    cfg = replace(TINY, window_size=window)
    out = build_model(cfg)(torch.randn(b, 1, h, w))
    _check_output(out, cfg, b, h, w)


def test_resnet50_shapes(r50_net: UGPCLNet) -> None:
    r50_net.train()
    out = r50_net(torch.randn(2, 1, 64, 96))
    _check_output(out, TINY_R50, 2, 64, 96)
    assert r50_net.encoder(torch.randn(1, 1, 64, 64))[4].shape == (1, 2048, 2, 2)


def test_forward_decoders_matches_forward() -> None:
    net = build_model(TINY).eval()
    x = torch.randn(2, 1, 64, 96)
    with torch.no_grad():
        seg, seg_tf = net.forward_decoders(x)
        full = net(x)
    torch.testing.assert_close(seg, full.seg)
    torch.testing.assert_close(seg_tf, full.seg_tf)


def test_bad_input_size_is_rejected() -> None:
    net = build_model(TINY)
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.randn(1, 1, 48, 64))
    with pytest.raises(ValueError, match="expected"):
        net(torch.randn(1, 2, 64, 64))


def _plain_same_window(n: int, window: int, shift: int) -> np.ndarray:
    """Reference: rows i, j share a window of the (shifted) partition of an n-long axis."""
    s = shift if n > window else 0
    ids = [(i - s) // window for i in range(n)]  # windows start at s + k·window
    return np.array([[a == b for b in ids] for a in ids])


@pytest.mark.parametrize(("h", "w", "window", "shift"), [(2, 6, 3, 1), (8, 5, 7, 3), (7, 16, 7, 3)])
def test_window_plan_matches_plain_partition(h: int, w: int, window: int, shift: int) -> None:
    plan = window_plan(h, w, window, shift, torch.device("cpu"))
    # original (row, col) of each slot of each window; -1 = padding
    rows, cols = plan.gather_h.numpy(), plan.gather_w.numpy()
    hp, wp = len(rows), len(cols)
    assert hp % window == 0 and wp % window == 0
    token = np.where((rows[:, None] < h) & (cols[None, :] < w), rows[:, None] * w + cols, -1)
    blocks = token.reshape(hp // window, window, wp // window, window).transpose(0, 2, 1, 3)
    slots = blocks.reshape(-1, window * window)
    allowed = np.zeros((h * w, h * w), dtype=bool)
    for win, ids in enumerate(slots):
        for a, ta in enumerate(ids):
            for bb, tb in enumerate(ids):
                if ta >= 0 and tb >= 0 and plan.mask[win, a, bb] == 0:
                    allowed[ta, tb] = True
                if ta >= 0 and tb < 0:  # padded keys are always masked for real queries
                    assert plan.mask[win, a, bb] == MASKED
    assert sorted(t for t in slots.ravel() if t >= 0) == list(range(h * w))
    same_h, same_w = _plain_same_window(h, window, shift), _plain_same_window(w, window, shift)
    expected = (same_h[:, None, :, None] & same_w[None, :, None, :]).reshape(h * w, h * w)
    np.testing.assert_array_equal(allowed, expected)


def test_gradients_reach_every_parameter() -> None:
    torch.manual_seed(0)
    net = build_model(TINY)
    out = net(torch.randn(2, 1, 64, 96))
    loss = sum((t.float() ** 2).mean() for t in out)
    assert isinstance(loss, torch.Tensor)
    loss.backward()
    for name, p in net.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_drop_path_is_active_only_in_training() -> None:
    net = build_model(replace(TINY, drop_path=0.5))
    rates = [m.rate for m in net.modules() if isinstance(m, DropPath)]
    assert max(rates) == pytest.approx(0.5) and min(rates) == 0.0
    x = torch.randn(2, 1, 64, 64)
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x).seg_tf, net(x).seg_tf)


def test_position_embeddings_are_saved_and_round_trip() -> None:
    torch.manual_seed(0)
    net = build_model(TINY).eval()
    state = net.state_dict()
    pos_keys = [k for k in state if k.endswith("pos.inv_freq")]
    assert len(pos_keys) == 4
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    torch.manual_seed(1)
    other = build_model(TINY).eval()
    other.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(1, 1, 64, 96)
    with torch.no_grad():
        a, b = net(x), other(x)
    for ta, tb in zip(a, b, strict=True):
        torch.testing.assert_close(ta, tb, rtol=0, atol=0)


def test_parameter_counts_are_sensible() -> None:
    def count(module: nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    quick, standard = build_model(preset("quick", 4).model), build_model(ModelConfig(num_classes=4))
    assert 0.3e6 < count(quick) < count(standard) < 5e6
    assert 0.5e6 < count(standard.encoder) < 3e6  # SSL4MIS-sized light encoder
    assert count(ResNet50Encoder()) == 23_508_032  # torchvision resnet50 minus fc
    assert sum(1 for m in standard.modules() if type(m).__name__ == "SwinBlock") == 6


def test_resnet50_weights_load_from_local_file(tmp_path: Path, r50_net: UGPCLNet) -> None:
    torch.manual_seed(3)
    source = ResNet50Encoder(in_channels=3)
    state = dict(source.state_dict())
    state["fc.weight"], state["fc.bias"] = torch.zeros(1000, 2048), torch.zeros(1000)
    path = tmp_path / "resnet50.pth"
    torch.save(state, path)
    load_resnet50_weights(r50_net.encoder, path)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(r50_net.encoder.state_dict()[key], value, rtol=0, atol=0)


def test_resnet50_weight_errors(tmp_path: Path) -> None:
    encoder = ResNet50Encoder()
    with pytest.raises(InputError, match="not found"):
        load_resnet50_weights(encoder, tmp_path / "missing.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7)}, wrong)
    with pytest.raises(InputError, match="missing keys"):
        load_resnet50_weights(encoder, wrong)
    bad_shape = tmp_path / "shape.pth"
    torch.save(ResNet50Encoder(in_channels=2).state_dict(), bad_shape)
    with pytest.raises(InputError, match="wrong shape"):
        load_resnet50_weights(encoder, bad_shape)
    with pytest.raises(InputError, match="only applies to the resnet50"):
        build_model(replace(TINY, pretrained_path=str(wrong)))
    # a checkpoint warm start can skip the (possibly absent) ImageNet file
    net = build_model(replace(TINY_R50, pretrained_path=str(tmp_path / "x")), load_pretrained=False)
    assert isinstance(net, UGPCLNet)


class _Decoders(nn.Module):
    def __init__(self, net: UGPCLNet) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net.forward_decoders(x)


def test_onnx_export_is_size_generic(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    net = build_model(TINY).eval()
    path = tmp_path / "net.onnx"
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*Constant folding.*")
        # a size baked into the graph as a constant would show up as a TracerWarning
        warnings.filterwarnings("error", message=".*might cause the trace to be incorrect.*")
        torch.onnx.export(
            _Decoders(net).eval(),
            (torch.randn(1, 1, 64, 64),),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["seg", "seg_tf"],
            dynamic_axes={"image": axes, "seg": axes, "seg_tf": axes},
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    # other sizes than the export: shift / no-shift and padding decisions differ per stage
    for shape in [(2, 1, 96, 160), (1, 1, 32, 96)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            expected = net.forward_decoders(x)
        got = session.run(None, {"image": x.numpy()})
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_allclose(g, e.numpy(), rtol=1e-4, atol=1e-4)
