"""Slices, normalisation, the two-stream sampler and batched augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ugpcl_engine.config import AugmentationConfig, NormalisationConfig
from ugpcl_engine.data.batches import DeviceSlices, TwoStreamSampler, augment
from ugpcl_engine.data.normalisation import apply_window, resolve_mode, resolve_window
from ugpcl_engine.data.slices import (
    SliceSet,
    check_labeled_slices,
    put_slices,
    take_slices,
)
from ugpcl_engine.errors import InputError


def test_take_and_put_slices_round_trip_every_axis() -> None:
    vol = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    for axis, shape in (("z", (2, 3, 4)), ("y", (3, 2, 4)), ("x", (4, 2, 3))):
        stack = take_slices(vol, axis)
        assert stack.shape == shape
        assert np.array_equal(put_slices(stack, axis), vol)
    assert np.array_equal(take_slices(vol, "y")[1], vol[:, 1, :])


def test_check_labeled_slices_rejects_empty_and_out_of_range() -> None:
    assert check_labeled_slices([5, 1, 5], 10, "z") == [1, 5]
    with pytest.raises(InputError, match="No labeled slice"):
        check_labeled_slices([], 10, "z")
    with pytest.raises(InputError, match=r"out of range.*0\.\.9"):
        check_labeled_slices([10], 10, "z")


def test_ct_window_and_mr_percentiles() -> None:
    cfg = NormalisationConfig()
    ct = resolve_window(np.zeros((2, 2, 2)), "ct", cfg)
    assert (ct.low, ct.high) == (-1000.0, 1000.0)
    out = apply_window(np.array([-2000, -1000, 0, 1000, 3000]), ct)
    assert np.allclose(out, [0, 0, 0.5, 1, 1]) and out.dtype == np.float32
    mr = resolve_window(
        np.arange(1000, dtype=float).reshape(10, 10, 10),
        "mr",
        NormalisationConfig(percentiles=(0, 100)),
    )
    assert (mr.low, mr.high) == (0.0, 999.0)
    flat = resolve_window(np.ones((2, 2, 2)), "mr", cfg)
    assert flat.high > flat.low
    assert resolve_mode(cfg, "CT") == "ct" and resolve_mode(cfg, "MR") == "mr"
    assert resolve_mode(NormalisationConfig(mode="ct"), "MR") == "ct"


def _slices(n_lab: int, n_unl: int, size: int = 8) -> DeviceSlices:
    lab = np.stack([np.full((size, size), i, np.float32) for i in range(n_lab)])
    unl = np.stack([np.full((size, size), 100 + i, np.float32) for i in range(n_unl)])
    targets = np.zeros((n_lab, size, size), np.int64)
    return DeviceSlices.from_slice_set(SliceSet(lab, targets, unl, size), torch.device("cpu"))


def test_sampler_ratio_and_balanced_epochs() -> None:
    sampler = TwoStreamSampler(_slices(3, 7), 2, 6, seed=0)
    lab_counts = np.zeros(3, int)
    unl_counts = np.zeros(7, int)
    for _ in range(21):  # 42 labeled draws = 14 epochs of 3; 126 unlabeled = 18 epochs of 7
        x_l, y_l, x_u = sampler.next()
        assert x_l.shape == (2, 1, 8, 8) and y_l.shape == (2, 8, 8) and x_u.shape == (6, 1, 8, 8)
        assert (x_u >= 100).all() and (x_l < 100).all()  # streams never mix
        for v in x_l[:, 0, 0, 0].tolist():
            lab_counts[int(v)] += 1
        for v in x_u[:, 0, 0, 0].tolist():
            unl_counts[int(v) - 100] += 1
    assert lab_counts.tolist() == [14, 14, 14]
    assert unl_counts.tolist() == [18] * 7


def _draws(sampler: TwoStreamSampler, steps: int) -> tuple[list[int], list[int]]:
    """The labeled and unlabeled indices drawn (read back from the images' constant values)."""
    lab: list[int] = []
    unl: list[int] = []
    for _ in range(steps):
        x_l, _, x_u = sampler.next()
        lab += [int(v) for v in x_l[:, 0, 0, 0].tolist()]
        unl += [int(v) - 100 for v in x_u[:, 0, 0, 0].tolist()]
    return lab, unl


def test_sampler_epochs_are_shuffled_permutations_deterministic_per_seed() -> None:
    lab, unl = _draws(TwoStreamSampler(_slices(3, 7), 2, 5, seed=4), 21)
    # every run of `population` consecutive draws is one whole epoch, also across batches
    assert all(sorted(lab[i : i + 3]) == [0, 1, 2] for i in range(0, len(lab), 3))
    assert all(sorted(unl[i : i + 7]) == list(range(7)) for i in range(0, len(unl), 7))
    assert len({tuple(unl[i : i + 7]) for i in range(0, len(unl), 7)}) > 1  # reshuffled
    assert _draws(TwoStreamSampler(_slices(3, 7), 2, 5, seed=4), 21) == (lab, unl)
    assert _draws(TwoStreamSampler(_slices(3, 7), 2, 5, seed=5), 21)[1] != unl
    # a batch larger than a stream spans several epochs; an empty stream draws nothing
    lab, unl = _draws(TwoStreamSampler(_slices(2, 3), 5, 0, seed=0), 2)
    assert unl == [] and all(sorted(lab[i : i + 2]) == [0, 1] for i in range(0, 10, 2))


def test_sampler_indices_are_drawn_on_the_data_device_without_host_copies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No per-step host work: no numpy, no Python lists, no host-to-device copy of indices.

    There is no GPU here, so the test spies: every epoch must come from ``torch.randperm`` on the
    data's device with a generator there, and anything that would build indices on the host or
    read them back (``torch.tensor``, ``Tensor.to``, ``tolist``, ``item``, numpy's RNG) fails.
    """
    data = _slices(3, 7)
    sampler = TwoStreamSampler(data, 2, 5, seed=0)
    calls: list[tuple[torch.device, torch.device]] = []
    randperm = torch.randperm

    def spy_randperm(n: int, *, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        calls.append((torch.device(device), generator.device))
        return randperm(n, generator=generator, device=device)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("host round trip in the sampler")

    monkeypatch.setattr(torch, "randperm", spy_randperm)
    for name in ("tensor", "as_tensor", "from_numpy"):
        monkeypatch.setattr(torch, name, forbidden)
    for name in ("to", "cpu", "cuda", "tolist", "item", "numpy", "__bool__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, forbidden)
    monkeypatch.setattr(np.random, "default_rng", forbidden)
    batches = [sampler.next() for _ in range(7)]  # 14 labeled, 35 unlabeled draws
    monkeypatch.undo()
    device = data.labeled.device
    assert calls and all(c == (device, device) for c in calls)
    assert len(calls) == 5 + 5  # ceil(14 / 3) labeled + 35 / 7 unlabeled epochs
    assert all(b.device == device for batch in batches for b in batch)


def test_sampler_without_unlabeled_slices_reuses_labeled() -> None:
    lab = np.zeros((2, 8, 8), np.float32)
    data = DeviceSlices.from_slice_set(
        SliceSet(lab, np.zeros((2, 8, 8), np.int64), np.zeros((0, 8, 8), np.float32), 8),
        torch.device("cpu"),
    )
    assert data.unlabeled.shape == (2, 1, 8, 8)


def test_augment_rot90_matches_torch_rot90_and_labels_follow() -> None:
    cfg = AugmentationConfig(flip_p=0.0, intensity_range=(1.0, 1.0), rotate_deg=0.0)
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(6, 1, 16, 16, generator=gen)
    targets = (images[:, 0] > 0.5).long()
    out, out_t, k = augment(images, targets, cfg, torch.Generator().manual_seed(1))
    assert out_t is not None and k.shape == (6,) and set(k.tolist()) <= {0, 1, 2, 3}
    for i in range(6):
        expected = torch.rot90(images[i, 0], int(k[i]), dims=(0, 1))
        assert torch.allclose(out[i, 0], expected, atol=1e-5)
        assert torch.equal(out_t[i], (out[i, 0] > 0.5).long())


def test_augment_without_labeled_rot90_keeps_labeled_upright_and_rotates_unlabeled() -> None:
    cfg = AugmentationConfig(
        flip_p=0.0, intensity_range=(1.0, 1.0), rotate_deg=0.0, rot90_labeled=False
    )
    gen = torch.Generator().manual_seed(3)
    images = torch.rand(64, 1, 8, 8, generator=gen)
    targets = (images[:4, 0] > 0.5).long()
    out, out_t, k = augment(images, targets, cfg, torch.Generator().manual_seed(1))
    assert out_t is not None
    assert k[:4].tolist() == [0, 0, 0, 0]
    assert torch.allclose(out[:4], images[:4], atol=1e-5)
    assert torch.equal(out_t, targets)
    # the unlabeled images still draw every rotation class
    assert set(k[4:].tolist()) == {0, 1, 2, 3}
    for i in range(4, 64):
        expected = torch.rot90(images[i, 0], int(k[i]), dims=(0, 1))
        assert torch.allclose(out[i, 0], expected, atol=1e-5)


def test_augment_free_rotation_and_intensity_keep_label_alignment() -> None:
    cfg = AugmentationConfig(flip_p=0.5, intensity_range=(0.6, 1.4), rotate_deg=20.0)
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    disc = (((yy - 12) ** 2 + (xx - 18) ** 2) < 36).float()
    images = disc.expand(8, 1, 32, 32).clone()
    out, out_t, _ = augment(
        images, disc.long().expand(8, 32, 32), cfg, torch.Generator().manual_seed(0)
    )
    assert out_t is not None
    inside = out[:, 0][out_t == 1]
    outside = out[:, 0][out_t == 0]
    assert inside.mean() > outside.mean() + 0.3
    assert set(out_t.unique().tolist()) <= {0, 1}
