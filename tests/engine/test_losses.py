"""Supervised, consistency and uncertainty-guidance losses on tiny hand-checkable inputs."""

from __future__ import annotations

import math

import pytest
import torch

from ugpcl_engine.losses import (
    certain_pseudo_labels,
    consistency_loss,
    cross_entropy,
    dice_ce_loss,
    dice_loss,
    entropy_of_mean,
    sigmoid_rampup,
    uncertainty_threshold,
)

EPS = 1e-5


def _two_class_probs(fg: list[list[float]]) -> torch.Tensor:
    """(1, 2, H, W) probabilities with the given foreground map."""
    p1 = torch.tensor(fg).unsqueeze(0)
    return torch.stack([1 - p1, p1], dim=1)


def test_sigmoid_rampup_values() -> None:
    assert sigmoid_rampup(0, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(50, 100) == pytest.approx(math.exp(-5 * 0.25))
    assert sigmoid_rampup(100, 100) == 1.0
    assert sigmoid_rampup(250, 100) == 1.0
    assert sigmoid_rampup(-10, 100) == pytest.approx(math.exp(-5))
    assert sigmoid_rampup(3, 0) == 1.0
    with pytest.raises(ValueError, match="length"):
        sigmoid_rampup(1, -1)


def test_dice_perfect_prediction_is_zero() -> None:
    target = torch.tensor([[[0, 1, 2], [2, 1, 0]]])
    probs = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).float()
    assert dice_loss(probs, target).item() == pytest.approx(0.0, abs=1e-7)


def test_dice_disjoint_prediction_is_one() -> None:
    target = torch.tensor([[[1, 1], [0, 0]]])
    probs = _two_class_probs([[0.0, 0.0], [1.0, 1.0]])
    # 1 - eps / (2 + 2 + eps)
    assert dice_loss(probs, target).item() == pytest.approx(1 - EPS / (4 + EPS))


def test_dice_known_2x2_case() -> None:
    target = torch.tensor([[[1, 0], [1, 0]]])
    probs = _two_class_probs([[0.8, 0.2], [0.6, 0.0]])
    # Σpg = 1.4, Σp² = 0.64 + 0.04 + 0.36 = 1.04, Σg² = 2
    expected = 1 - (2 * 1.4 + EPS) / (1.04 + 2 + EPS)
    assert dice_loss(probs, target).item() == pytest.approx(expected, rel=1e-5)


def test_dice_is_batch_dice_and_skips_background() -> None:
    # two images: sums run over the whole batch, not per image
    target = torch.tensor([[[1, 0]], [[0, 0]]])
    probs = torch.cat([_two_class_probs([[1.0, 0.0]]), _two_class_probs([[0.5, 0.0]])])
    expected = 1 - (2 * 1.0 + EPS) / (1.0 + 0.25 + 1.0 + EPS)
    assert dice_loss(probs, target).item() == pytest.approx(expected, rel=1e-5)
    # three classes: background probabilities do not matter, an absent class predicted absent
    # scores 0, and the loss is the mean over classes 1..C-1
    target3 = torch.tensor([[[1, 1, 0, 0]]])
    probs3 = torch.tensor([[[[0.3, 0.7, 0.0, 0.5]], [[1.0, 1.0, 0.0, 0.0]], [[0.0] * 4]]])
    assert dice_loss(probs3, target3).item() == pytest.approx(0.0, abs=1e-6)
    probs3[0, 2, 0, 0] = 1.0  # class 2 now has Σp² = 1, Σpg = 0: its loss ≈ 1, the mean ≈ 0.5
    assert dice_loss(probs3, target3).item() == pytest.approx(0.5 * (1 - EPS / (1 + EPS)))


def test_dice_ignores_minus_one_pixels() -> None:
    target = torch.tensor([[[1, 0, -1]]])
    probs = _two_class_probs([[0.8, 0.2, 0.9]])
    expected = dice_loss(_two_class_probs([[0.8, 0.2]]), torch.tensor([[[1, 0]]]))
    assert dice_loss(probs, target).item() == pytest.approx(expected.item(), rel=1e-6)


def test_dice_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="expected"):
        dice_loss(torch.rand(1, 2, 3, 3), torch.zeros(1, 4, 4, dtype=torch.int64))


def test_cross_entropy_and_dice_ce_by_hand() -> None:
    logits = torch.zeros(1, 4, 2, 2)
    target = torch.tensor([[[0, 1], [2, 3]]])
    probs = logits.softmax(1)
    assert cross_entropy(logits, target).item() == pytest.approx(math.log(4))
    # each fg class: Σpg = 0.25, Σp² = 4·0.0625 = 0.25, Σg² = 1
    dice = 1 - (0.5 + EPS) / (1.25 + EPS)
    expected = 0.5 * dice + 0.5 * math.log(4)
    assert dice_ce_loss(logits, probs, target).item() == pytest.approx(expected, rel=1e-5)


def test_cross_entropy_all_ignored_is_zero_not_nan() -> None:
    logits = torch.randn(1, 3, 2, 2, requires_grad=True)
    loss = cross_entropy(logits, torch.full((1, 2, 2), -1))
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_consistency_loss() -> None:
    p = torch.tensor([[[[1.0]], [[0.0]]]])
    q = torch.tensor([[[[0.5]], [[0.5]]]], requires_grad=True)
    loss = consistency_loss(p, q)
    assert loss.item() == pytest.approx(0.25)
    loss.backward()
    assert q.grad is not None and torch.allclose(q.grad, torch.tensor([[[[-0.5]], [[0.5]]]]))


def test_entropy_of_mean() -> None:
    p = torch.tensor([[[[1.0, 1.0]], [[0.0, 0.0]]]])
    q = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])
    m, entropy = entropy_of_mean(p, q)
    assert torch.allclose(m, torch.tensor([[[[0.5, 1.0]], [[0.5, 0.0]]]]))
    assert entropy.shape == (1, 1, 2)
    assert entropy[0, 0, 0].item() == pytest.approx(-math.log(0.5 + 1e-6))
    assert entropy[0, 0, 1].item() == pytest.approx(0.0, abs=1e-5)


def test_uncertainty_threshold_ramp_and_scale() -> None:
    ln2 = math.log(2)
    assert uncertainty_threshold(0, 100, 4) == pytest.approx((0.75 + 0.25 * math.exp(-5)) * ln2)
    assert uncertainty_threshold(100, 100, 4) == pytest.approx(ln2)
    assert uncertainty_threshold(500, 100, 4, "lnC") == pytest.approx(math.log(4))
    assert uncertainty_threshold(0, 0, 3, "lnC") == pytest.approx(math.log(3))
    mid = uncertainty_threshold(50, 100, 2)
    assert 0.75 * ln2 < mid < ln2
    with pytest.raises(ValueError, match="scale"):
        uncertainty_threshold(0, 10, 4, "log")


def test_certain_pseudo_labels() -> None:
    m = torch.tensor([[[[0.9, 0.5, 0.2]], [[0.1, 0.5, 0.8]]]], requires_grad=True)
    entropy = torch.tensor([[[0.3, 0.69, 0.5]]])
    labels = certain_pseudo_labels(m, entropy, threshold=0.5)
    assert labels.dtype == torch.int64
    assert not labels.requires_grad
    assert labels.tolist() == [[[0, -1, 1]]]  # entropy == threshold counts as certain
