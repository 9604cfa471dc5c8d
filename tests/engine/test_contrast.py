"""Vectorised pixel contrast and memory bank against plain-loop references."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

from ugpcl_benchmarks.contrast_reference import (
    loop_contrast_loss,
    loop_enqueue,
    loop_region_means,
    loop_ugpcl_contrast,
)
from ugpcl_engine.losses import (
    ClassMemoryBank,
    downsample_labels,
    pixel_contrast_loss,
    region_means,
    sample_anchors,
    ugpcl_contrast,
)


def _unit(*shape: int, gen: torch.Generator) -> torch.Tensor:
    return F.normalize(torch.randn(*shape, generator=gen), dim=-1)


def _embed(b: int, d: int, h: int, w: int, gen: torch.Generator) -> torch.Tensor:
    return F.normalize(torch.randn(b, d, h, w, generator=gen), dim=1)


def _filled_bank(c: int, d: int, m: int, rows: int, gen: torch.Generator) -> ClassMemoryBank:
    """A bank after one enqueue of ``rows`` random rows of random classes (partly filled)."""
    bank = ClassMemoryBank(c, d, m)
    classes = torch.randint(0, c, (rows,), generator=gen)
    bank.enqueue(_unit(rows, d, gen=gen), classes, torch.ones(rows, dtype=torch.bool))
    return bank


def _assert_banks_equal(a: ClassMemoryBank, b: ClassMemoryBank) -> None:
    assert torch.equal(a.ptr, b.ptr)
    assert torch.equal(a.filled, b.filled)
    assert torch.equal(a.queue, b.queue)


def test_downsample_labels_nearest_keeps_ignore() -> None:
    labels = torch.arange(16).reshape(1, 4, 4) - 1  # contains -1
    small = downsample_labels(labels, (2, 2))
    assert small.dtype == torch.int64
    assert small.tolist() == [[[-1, 1], [7, 9]]]
    assert downsample_labels(labels, (4, 4)) is labels


def test_region_means_match_loop_reference() -> None:
    gen = torch.Generator().manual_seed(1)
    embed = _embed(3, 8, 5, 6, gen)
    labels = torch.randint(-1, 4, (3, 5, 6), generator=gen)
    labels[1][labels[1] == 2] = 0  # class 2 absent in image 1
    labels[2] = 0
    labels[2, 0, 0] = 3  # class 3 has a single pixel in image 2 → not valid
    means, classes, valid = region_means(embed, labels, 4)
    ref_means, ref_classes, ref_valid = loop_region_means(embed, labels, 4)
    assert means.shape == (12, 8)
    assert torch.allclose(means, ref_means, atol=1e-6)
    assert torch.equal(classes, ref_classes) and torch.equal(valid, ref_valid)
    assert not valid[1 * 4 + 2] and not valid[2 * 4 + 3] and valid[2 * 4 + 0]
    # one by hand: image 2 class 0 is every pixel except (0, 0)
    by_hand = F.normalize(embed[2].flatten(1)[:, 1:].mean(1), dim=0)
    assert torch.allclose(means[8], by_hand, atol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_enqueue_matches_loop_reference(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    c, d, m = 3, 4, 5
    fast, slow = ClassMemoryBank(c, d, m), ClassMemoryBank(c, d, m)
    # partly filled, then wrap-around, then more than M rows of one class in one call
    for n in (4, 7, 3, 13, 1, 0):
        means = _unit(n, d, gen=gen)
        classes = torch.randint(0, c, (n,), generator=gen)
        valid = torch.rand(n, generator=gen) > 0.2
        if n == 13:
            classes[:9] = 1
            valid[:9] = True
        fast.enqueue(means, classes, valid)
        loop_enqueue(slow, means, classes, valid)
        _assert_banks_equal(fast, slow)
    assert fast.filled.any()


def test_enqueue_keeps_the_last_m_rows_in_order() -> None:
    bank = ClassMemoryBank(2, 1, 3)
    bank.enqueue(torch.tensor([[1.0], [2.0]]), torch.tensor([1, 1]), torch.tensor([True, True]))
    rows = torch.arange(3.0, 10.0).unsqueeze(1)  # 7 rows: 3..9, only 7, 8, 9 survive
    bank.enqueue(rows, torch.ones(7, dtype=torch.int64), torch.ones(7, dtype=torch.bool))
    # writing one by one from ptr 2: 3→2, 4→0, 5→1, 6→2, 7→0, 8→1, 9→2
    assert bank.queue[1, :, 0].tolist() == [7.0, 8.0, 9.0]
    assert bank.ptr.tolist() == [0, (2 + 7) % 3]
    assert bank.filled.tolist() == [[False] * 3, [True] * 3]


def test_bank_state_dict_round_trip() -> None:
    gen = torch.Generator().manual_seed(3)
    bank = _filled_bank(3, 4, 6, 10, gen)
    other = ClassMemoryBank(3, 4, 6)
    other.load_state_dict(bank.state_dict())
    _assert_banks_equal(bank, other)
    assert set(bank.state_dict()) == {"queue", "filled", "ptr"}
    with pytest.raises(ValueError, match="expected"):
        bank.enqueue(torch.zeros(2, 5), torch.zeros(2, dtype=torch.int64), torch.ones(2).bool())


@pytest.mark.parametrize("seed", [0, 1])
def test_contrast_loss_matches_loop_reference(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    c, d = 4, 8
    bank = _filled_bank(c, d, 6, 14, gen)  # partly filled, some classes may wrap
    bank.filled[3] = False  # class 3 has no positives: its anchors are skipped
    anchors = _unit(10, d, gen=gen).requires_grad_(True)
    classes = torch.randint(0, c, (10,), generator=gen)
    classes[0] = 3
    valid = torch.rand(10, generator=gen) > 0.3
    valid[1] = True
    loss = pixel_contrast_loss(anchors, classes, valid, bank, 0.1)
    ref = loop_contrast_loss(anchors, classes, valid, bank, 0.1)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-5)
    (grad,) = torch.autograd.grad(loss, anchors)
    (ref_grad,) = torch.autograd.grad(ref, anchors)
    assert torch.allclose(grad, ref_grad, atol=1e-5)
    assert torch.isfinite(grad).all() and grad[valid & (classes != 3)].abs().sum() > 0
    assert grad[~valid].abs().sum() == 0 and grad[0].abs().sum() == 0


def test_contrast_loss_by_hand() -> None:
    tau = 0.5
    bank = ClassMemoryBank(2, 2, 4)
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    bank.enqueue(keys, torch.tensor([0, 0, 1]), torch.ones(3, dtype=torch.bool))
    anchor = torch.tensor([[1.0, 0.0]])
    # s = (2, 0) for the positives, -2 for the negative
    neg = math.exp(-2.0)
    expected = -0.5 * sum(s - math.log(math.exp(s) + neg) for s in (2.0, 0.0))
    loss = pixel_contrast_loss(anchor, torch.tensor([0]), torch.tensor([True]), bank, tau)
    assert loss.item() == pytest.approx(expected, rel=1e-6)


def test_contrast_loss_without_pairs_is_zero_with_graph() -> None:
    anchors = torch.randn(4, 3).requires_grad_(True)
    classes = torch.tensor([0, 1, 0, 1])
    valid = torch.ones(4, dtype=torch.bool)
    bank = ClassMemoryBank(2, 3, 5)
    empty = pixel_contrast_loss(anchors, classes, valid, bank)
    bank.enqueue(torch.eye(3)[:2], torch.tensor([0, 0]), torch.ones(2, dtype=torch.bool))
    one_class = pixel_contrast_loss(anchors, classes, valid, bank)  # no negatives anywhere
    for loss in (empty, one_class):
        assert loss.item() == 0.0 and loss.requires_grad
        (grad,) = torch.autograd.grad(loss, anchors)
        assert torch.equal(grad, torch.zeros_like(grad))


def test_sample_anchors_prefers_easy_pixels() -> None:
    gen = torch.Generator().manual_seed(0)
    embed = _embed(2, 5, 4, 4, gen)
    labels = torch.zeros(2, 4, 4, dtype=torch.int64)
    labels[:, :2] = 1  # class 1: top half
    labels[1, 3, 3] = 2  # class 2: one pixel only → invalid
    labels[0, 3, :] = -1
    preds = torch.ones_like(labels)  # class 1 all easy; class 0 all hard
    preds[0, 0, 1] = 0  # one hard pixel of class 1 in image 0
    preds[1, 2, 0] = 0  # one easy pixel of class 0 in image 1
    for _ in range(20):
        anchors, classes, valid = sample_anchors(embed, labels, preds, 3, gen)
        assert anchors.shape == (6, 5) and classes.tolist() == [0, 1, 2] * 2
        assert valid.tolist() == [True, True, False, True, True, False]
        for b, c in [(0, 0), (0, 1), (1, 0), (1, 1)]:
            row = b * 3 + c
            easy = (labels[b] == c) & (preds[b] == c)
            pool = easy if easy.any() else labels[b] == c
            candidates = embed[b][:, pool].T  # (P, D)
            assert (candidates == anchors[row]).all(dim=1).any(), (b, c)
        assert torch.equal(anchors[1 * 3 + 0], embed[1, :, 2, 0])  # the only easy pixel


def test_sample_anchors_reproducible_and_covers_pool() -> None:
    embed = _embed(1, 3, 3, 3, torch.Generator().manual_seed(0))
    labels = torch.ones(1, 3, 3, dtype=torch.int64)
    first = sample_anchors(embed, labels, labels, 2, torch.Generator().manual_seed(7))[0]
    again = sample_anchors(embed, labels, labels, 2, torch.Generator().manual_seed(7))[0]
    assert torch.equal(first, again)
    gen = torch.Generator().manual_seed(1)
    seen = {tuple(sample_anchors(embed, labels, labels, 2, gen)[0][1].tolist()) for _ in range(200)}
    assert len(seen) == 9  # every easy pixel gets picked


def test_ugpcl_contrast_matches_loop_and_backprops_after_enqueue() -> None:
    gen = torch.Generator().manual_seed(5)
    c, d = 3, 6
    bank = _filled_bank(c, d, 8, 12, gen)
    embed = _embed(2, d, 4, 4, gen).requires_grad_(True)
    # full-size 8×8 labels; on the 4×4 grid each class present has exactly one easy pixel,
    # so both samplers must pick the same anchors
    labels = torch.full((2, 8, 8), -1, dtype=torch.int64)
    preds = torch.full((2, 8, 8), 2, dtype=torch.int64)
    labels[0, 0, 0:4], preds[0, 0, 0] = 0, 0  # grid cells (0,0), (0,1): class 0, one easy
    labels[0, 2, 0:4], preds[0, 2, 2] = 1, 1
    labels[1, 4, 4:8], preds[1, 4, 6] = 2, 0
    preds[1, 4, 4] = 2
    out = ugpcl_contrast(embed, labels, preds, bank, 0.07)
    ref = loop_ugpcl_contrast(embed, labels, preds, bank, 0.07)
    assert out.valid.tolist() == [True, True, False, False, False, True]
    assert out.loss.item() == pytest.approx(ref.loss.item(), rel=1e-5)
    assert torch.allclose(out.means, ref.means, atol=1e-6)
    before = bank.queue.clone()
    bank.enqueue(out.means, out.classes, out.valid)  # after the loss, before backward
    assert not torch.equal(bank.queue, before)
    out.loss.backward()
    assert embed.grad is not None and torch.isfinite(embed.grad).all()
    assert embed.grad.abs().sum() > 0


@pytest.mark.gpu
def test_cuda_step_has_no_host_sync() -> None:
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    dev = torch.device("cuda")
    gen = torch.Generator(device=dev).manual_seed(0)
    bank = ClassMemoryBank(4, 16, 50).to(dev)
    embed = F.normalize(torch.randn(4, 16, 8, 8, device=dev), dim=1).requires_grad_(True)
    labels = torch.randint(-1, 4, (4, 32, 32), device=dev)
    preds = torch.randint(0, 4, (4, 32, 32), device=dev)
    for _ in range(3):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Synchronization debug mode", UserWarning)
            torch.cuda.set_sync_debug_mode("error")
        try:
            out = ugpcl_contrast(embed, labels, preds, bank, 0.07, gen)
            bank.enqueue(out.means, out.classes, out.valid)
            out.loss.backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert bank.filled.any() and embed.grad is not None and torch.isfinite(embed.grad).all()
    anchors, classes, valid = sample_anchors(
        embed.detach(), labels[:, ::4, ::4], preds[:, ::4, ::4], 4, gen
    )
    loss = pixel_contrast_loss(anchors, classes, valid, bank)
    ref = loop_contrast_loss(anchors.cpu(), classes.cpu(), valid.cpu(), bank.cpu())
    assert loss.item() == pytest.approx(ref.item(), rel=1e-4)
