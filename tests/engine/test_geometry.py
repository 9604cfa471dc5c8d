"""The network grid: native pixels (or a uniform scale), centred padding, crops, round trips.

Training prepares slices on a canvas (``training.preparation``) and the inference graph
(``inference.wrapper``) pads and crops the same way, so a label map goes through unchanged at
scale 1 and the coarse-train / fine-predict path keeps the volume's geometry exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import TINY_MODEL, tiny_checkpoint

from ugpcl_engine.checkpoint import load_checkpoint, save_checkpoint
from ugpcl_engine.config import AugmentationConfig, ModelConfig, RunSpec, TrainingConfig
from ugpcl_engine.data.batches import augment
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.data.slices import (
    FOREGROUND_MARGIN,
    centre_pad,
    foreground_box,
    network_canvas,
    network_scale,
    padded_side,
    scaled_side,
)
from ugpcl_engine.inference.onnx_export import export_onnx
from ugpcl_engine.inference.ort_segmenter import OrtSegmenter
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.model import build_model
from ugpcl_engine.training.preparation import TrainingVolume, prepare_slices, training_boxes


def test_scale_is_native_unless_the_slice_exceeds_the_cap() -> None:
    assert network_scale([(91, 73)], None, 256) == 1.0
    assert network_scale([(233, 197)], None, 256) == 1.0
    assert network_scale([(512, 400)], None, 256) == 0.5
    assert network_scale([(100, 50)], 200, 256) == 2.0  # an explicit input size wins
    assert network_canvas([(91, 73)], 1.0) == (96, 96)
    assert network_canvas([(233, 197), (100, 260)], 1.0) == (256, 288)
    assert network_canvas([(512, 400)], 0.5) == (256, 224)
    assert scaled_side(91, 1.0) == 91 and scaled_side(91, 0.5) == 45
    assert padded_side(1) == 32 and padded_side(64) == 64 and padded_side(65) == 96


def test_centre_pad_centres_with_the_extra_pixel_after() -> None:
    stack = np.ones((2, 3, 5), np.float32)
    out = centre_pad(stack, (6, 8))
    assert out.shape == (2, 6, 8)
    assert np.array_equal(np.argwhere(out[0].any(1)).ravel(), [1, 2, 3])  # top 1, bottom 2
    assert np.array_equal(np.argwhere(out[0].any(0)).ravel(), [1, 2, 3, 4, 5])
    with pytest.raises(ValueError, match="do not fit"):
        centre_pad(stack, (2, 8))


def _thin_labels(shape: tuple[int, int, int]) -> np.ndarray:
    """Labels with one-pixel lines and single pixels: what any resampling would damage."""
    labels = np.zeros(shape, np.uint8)
    labels[:, ::4, :] = 1
    labels[:, :, 1::5] = 2
    labels[:, 3, 7] = 0
    return labels


def test_training_slices_keep_labels_exactly_at_native_scale() -> None:
    labels = _thin_labels((4, 37, 29))
    image = labels.astype(np.float32) * 100
    volume = TrainingVolume(image, labels, [1, 2])
    window = IntensityWindow("mr", 0.0, 200.0)
    canvas = network_canvas([(37, 29)], 1.0)
    slices = prepare_slices([volume], [window], "z", 1.0, canvas, 3)
    assert slices.canvas_hw == (64, 32) and slices.scale == 1.0
    top, left = (64 - 37) // 2, (32 - 29) // 2
    inner = slices.labeled_targets[:, top : top + 37, left : left + 29]
    assert np.array_equal(inner, labels[[1, 2]].astype(np.int64))  # not one pixel moved
    assert slices.labeled_targets.sum() == labels[[1, 2]].astype(np.int64).sum()  # pad is 0
    assert np.allclose(slices.labeled_images[:, top : top + 37, left : left + 29] * 200, image[1:3])


class _Echo(torch.nn.Module):
    """A stand-in network whose 'logits' are the input itself, to follow pixels through."""

    def forward_decoders(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        assert x.shape[-2] % 32 == 0 and x.shape[-1] % 32 == 0
        logits = torch.cat([x * 0, x * 50], 1)  # class 1 where the pixel is bright
        return logits, logits


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_inference_graph_pads_and_crops_back_to_the_same_pixels(scale: float) -> None:
    model = InferenceNet(_Echo(), 64, scale)  # type: ignore[arg-type]
    mask = torch.from_numpy(_thin_labels((1, 45, 70)) > 0)[:, None].float()
    if scale != 1.0:  # coarse grids keep blocks, not single pixels
        mask = torch.zeros(1, 1, 45, 70)
        mask[..., 10:30, 20:50] = 1
    _, labels, _ = model(mask)
    assert labels.shape == (1, 45, 70)
    if scale == 1.0:
        assert torch.equal(labels.bool(), mask[:, 0].bool())
    else:  # the block survives the coarse grid; its border moves by at most a pixel
        inner = labels[0, 12:28, 22:48]
        assert (
            bool(inner.all()) and not bool(labels[0, :8].any()) and not bool(labels[0, 32:].any())
        )


def test_augment_crops_a_window_of_the_canvas_with_labels_in_register() -> None:
    gen = torch.Generator().manual_seed(0)
    ramp = torch.arange(64 * 96, dtype=torch.float32).reshape(1, 1, 64, 96)
    images = ramp.repeat(4, 1, 1, 1)
    targets = (ramp[:, 0].long() % 7).repeat(4, 1, 1)
    cfg = AugmentationConfig(flip_p=0, intensity_range=(1, 1), rotate_deg=0, rot90_labeled=False)
    out, out_t, _ = augment(images, targets, cfg, gen, (32, 32))
    assert out.shape == (4, 1, 32, 32) and out_t is not None and out_t.shape == (4, 32, 32)
    for i in range(4):
        crop = out[i, 0]
        assert float(crop.min()) > 0  # inside the canvas: no zero padding sampled
        # rows and columns of the canvas, unrotated: consecutive pixels differ by 1 and by 96
        assert torch.allclose(crop[:, 1:] - crop[:, :-1], torch.ones(32, 31), atol=1e-3)
        assert torch.allclose(crop[1:] - crop[:-1], torch.full((31, 32), 96.0), atol=1e-3)
        assert torch.equal(out_t[i], crop.round().long() % 7)
    starts = {float(out[i, 0, 0, 0]) for i in range(4)}
    assert len(starts) > 1  # each image gets its own place
    with pytest.raises(ValueError, match="larger than the canvas"):
        augment(images, targets, cfg, gen, (128, 32))


def test_rotation_keeps_pixel_distances_on_a_non_square_canvas() -> None:
    image = torch.zeros(1, 1, 64, 96)
    image[0, 0, 32, 58] = 1.0  # 10 pixels right of the centre (32, 48)
    cfg = AugmentationConfig(flip_p=0, intensity_range=(1, 1), rotate_deg=0, rot90_labeled=True)
    gen = torch.Generator().manual_seed(3)
    seen = set()
    for _ in range(12):
        out, _, k = augment(image, None, cfg, gen)
        y, x = np.unravel_index(int(out[0, 0].argmax()), (64, 96))
        distance = float(np.hypot(y - 31.5, x - 47.5))
        assert 9.0 <= distance <= 11.0, (int(k), y, x)
        seen.add(int(k))
    assert len(seen) > 1


def test_checkpoint_keeps_the_scale_and_old_checkpoints_load_as_legacy(tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    scaled = tiny_checkpoint(network_scale=0.5)
    save_checkpoint(folder / "a.pt", scaled)
    assert load_checkpoint(folder / "a.pt").network_scale == 0.5
    save_checkpoint(folder / "b.pt", tiny_checkpoint())
    assert load_checkpoint(folder / "b.pt").network_scale is None


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_onnx_export_of_the_scaled_grid_matches_torch_at_odd_sizes(
    tmp_path: object, scale: float
) -> None:
    from pathlib import Path

    ckpt = tiny_checkpoint(network_scale=scale)
    path = Path(str(tmp_path)) / "m.onnx"
    report = export_onnx(ckpt, path)
    assert report.max_abs_diff_probs <= 1e-4
    seg = OrtSegmenter(path, device="cpu", threads=1)
    model = InferenceNet(ckpt.build_net(), ckpt.network_size, scale).eval()
    for shape in [(1, 1, 40, 72), (2, 1, 33, 95), (1, 1, 64, 64)]:
        batch = np.random.default_rng(1).random(shape, dtype=np.float32)
        with torch.no_grad():
            probs, labels, _ = model(torch.from_numpy(batch))
        o_probs, o_labels, _ = seg.session.run(None, {"image": batch})
        assert o_probs.shape == tuple(probs.shape)
        assert np.abs(o_probs - probs.numpy()).max() < 1e-4
        assert (o_labels == labels.numpy()).mean() >= 0.999


def test_coarse_train_fine_predict_returns_the_volume_grid() -> None:
    ckpt = tiny_checkpoint(network_scale=0.5)
    image = np.random.default_rng(0).normal(0, 300, (3, 70, 90)).astype(np.int16)
    labels, entropy = TorchSegmenter.from_checkpoint(ckpt).segment(image, ckpt)
    assert labels.shape == image.shape and entropy.shape == image.shape
    assert np.isfinite(entropy).all()


def test_full_resolution_skip_feeds_the_last_decoder_block() -> None:
    cfg = ModelConfig(**{**TINY_MODEL.__dict__, "full_res_skip": True})
    net = build_model(cfg).eval()
    plain = build_model(TINY_MODEL).decoder.blocks[-1][0][0].in_channels
    assert plain == TINY_MODEL.decoder_channels[3]  # block 4's output alone
    # block 4's output + f0
    assert net.decoder.blocks[-1][0][0].in_channels == plain + TINY_MODEL.encoder_channels[0]
    out = net(torch.rand(2, 1, 64, 96))
    assert out.seg.shape == (2, 3, 64, 96)
    # a one-pixel change of the input reaches the CNN logits at that pixel through f0
    x = torch.zeros(1, 1, 64, 64)
    y = x.clone()
    y[0, 0, 20, 20] = 1.0
    with torch.no_grad():
        diff = (net.forward_decoders(y)[0] - net.forward_decoders(x)[0]).abs().sum(1)[0]
    assert float(diff[20, 20]) > 0
    spec = RunSpec(cfg, TrainingConfig(steps=1))
    assert RunSpec.from_dict(spec.to_dict()) == spec
    old = spec.to_dict()
    del old["model"]["full_res_skip"]
    assert RunSpec.from_dict(old).model.full_res_skip is False
    with pytest.raises(ValueError, match="light backbone"):
        ModelConfig(backbone="resnet50", full_res_skip=True)


def _scan(shape: tuple[int, int, int] = (8, 60, 80)) -> np.ndarray:
    """A dark scan with a bright body in slices 2..5, rows 20..39, columns 30..59."""
    image = np.zeros(shape, np.float32)
    image[2:6, 20:40, 30:60] = 100.0
    return image


def test_foreground_box_holds_the_content_with_a_margin_and_its_slices() -> None:
    box = foreground_box(_scan(), 0.0, 100.0)
    m = FOREGROUND_MARGIN
    assert box.rows == (20 - m, 40 + m) and box.cols == (30 - m, 60 + m)
    assert box.occupied == (2, 3, 4, 5) and box.shape_hw == (20 + 2 * m, 30 + 2 * m)
    empty = foreground_box(np.zeros((3, 10, 12)), 0.0, 1.0)
    assert empty.rows == (0, 10) and empty.cols == (0, 12) and empty.occupied == ()


def test_training_boxes_give_up_when_a_label_lies_outside_the_content() -> None:
    image = _scan()
    labels = np.zeros(image.shape, np.uint8)
    labels[3, 25:30, 35:40] = 1
    window = IntensityWindow("mr", 0.0, 100.0)
    boxes = training_boxes([TrainingVolume(image, labels, [3])], [window], "z")
    assert boxes is not None and boxes[0].occupied == (2, 3, 4, 5)
    painted_air = labels.copy()
    painted_air[3, 0:3, 0:3] = 1  # the user painted the dark corner: keep whole slices
    assert training_boxes([TrainingVolume(image, painted_air, [3])], [window], "z") is None
    on_empty = labels.copy()
    on_empty[7, 25:30, 35:40] = 1  # a label on a slice without content
    assert training_boxes([TrainingVolume(image, on_empty, [3, 7])], [window], "z") is None


def test_cropped_training_drops_empty_unlabeled_slices() -> None:
    image = _scan()
    labels = (image > 0).astype(np.uint8)
    window = IntensityWindow("mr", 0.0, 100.0)
    volume = TrainingVolume(image, labels, [3])
    boxes = training_boxes([volume], [window], "z")
    assert boxes is not None
    canvas = network_canvas([boxes[0].shape_hw], 1.0)
    slices = prepare_slices([volume], [window], "z", 1.0, canvas, 2, boxes)
    assert slices.canvas_hw == (64, 64)  # 36 × 46 box, not the 60 × 80 slice
    assert len(slices.unlabeled_images) == 3  # slices 2, 4, 5: the empty ones are left out
    assert int(slices.labeled_targets.sum()) == int(labels[3].sum())  # every label kept


def test_inference_on_the_box_fills_the_rest_with_background() -> None:
    image = _scan()
    ckpt = tiny_checkpoint(network_scale=1.0, window=IntensityWindow("ct", 0.0, 100.0))
    _, whole_entropy = TorchSegmenter.from_checkpoint(ckpt).segment(image, ckpt)
    ckpt.foreground_crop = True
    calls: list[tuple[int, ...]] = []
    seg = TorchSegmenter.from_checkpoint(ckpt)
    run_batch = seg.run_batch

    def spy(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(batch.shape)
        return run_batch(batch)

    seg.run_batch = spy  # type: ignore[method-assign]
    labels, entropy = seg.segment(image, ckpt)
    m = FOREGROUND_MARGIN
    assert calls == [(4, 1, 20 + 2 * m, 30 + 2 * m)]  # only the occupied slices, only the box
    assert labels.shape == image.shape and not labels[[0, 1, 6, 7]].any()
    assert not entropy[[0, 1, 6, 7]].any() and not labels[:, : 20 - m].any()
    assert entropy[2:6, 20 - m : 40 + m, 30 - m : 60 + m].min() > 0
    assert whole_entropy[0].min() > 0  # without the box every slice went through the model


def test_zoom_and_shift_move_a_dot_as_asked() -> None:
    image = torch.zeros(1, 1, 64, 64)
    image[0, 0, 32, 42] = 1.0  # 10 pixels right of the centre
    still = AugmentationConfig(flip_p=0, intensity_range=(1, 1), rotate_deg=0, rot90_labeled=False)
    zoomed = AugmentationConfig(**{**still.__dict__, "zoom_range": (2.0, 2.0)})
    labeled = torch.zeros(1, 64, 64, dtype=torch.long)  # a labeled image: never turned by 90°
    out, _, _ = augment(image, labeled, zoomed, torch.Generator().manual_seed(0))
    y, x = np.unravel_index(int(out[0, 0].argmax()), (64, 64))
    assert abs(y - 32) <= 1 and 50 <= x <= 53  # twice as far from the centre
    shifted = AugmentationConfig(**{**still.__dict__, "shift": 0.25})
    moved = set()
    for seed in range(4):
        out, _, _ = augment(image, labeled, shifted, torch.Generator().manual_seed(seed))
        y, x = np.unravel_index(int(out[0, 0].argmax()), (64, 64))
        assert abs(y - 32) <= 16 and abs(x - 42) <= 16  # at most a quarter of a side
        moved.add((int(y), int(x)))
    assert len(moved) > 1
