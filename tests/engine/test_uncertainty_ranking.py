"""Slice and region ranking on synthetic uncertainty maps; AUROC and ECE on hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.uncertainty import (
    auroc,
    expected_calibration_error,
    rank_slices,
    reliability_curve,
    slice_scores,
    uncertain_regions,
)


def _volume(hot: dict[int, float], n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Prediction: a square on every slice; entropy: ``value`` on that square of each hot slice."""
    prediction = np.zeros((n, 16, 16), np.uint8)
    prediction[:, 4:12, 4:12] = 1
    entropy = np.full(prediction.shape, 0.05, np.float32)
    for z, value in hot.items():
        entropy[z, 4:12, 4:12] = value
    return entropy, prediction


def test_slice_scores_by_hand() -> None:
    entropy = np.zeros((2, 2, 2))
    prediction = np.zeros((2, 2, 2), np.uint8)
    prediction[0, 0, :] = 1
    entropy[0] = [[0.4, 0.2], [1.0, 0.0]]  # foreground mean 0.3, one voxel above 0.5
    entropy[1] = [[0.6, 0.6], [0.0, 0.0]]  # no foreground, two voxels above 0.5
    scores = slice_scores(entropy, prediction, threshold=0.5)
    assert scores == pytest.approx([0.5 * 1 + 0.5 * 0.5, 0.5 * 0 + 0.5 * 1])
    # default threshold: half the maximum entropy (0.5 here), same answer
    assert slice_scores(entropy, prediction) == pytest.approx(scores)
    assert slice_scores(np.zeros((3, 2, 2)), np.zeros((3, 2, 2))) == pytest.approx([0, 0, 0])
    with pytest.raises(InputError, match="same shape"):
        slice_scores(entropy, prediction[:1])


def test_single_hot_slice_ranks_first() -> None:
    entropy, prediction = _volume({7: 0.9})
    picks = rank_slices(entropy, prediction, labeled=[], top=3)
    assert picks[0].index == 7 and picks[0].score == pytest.approx(1.0)
    assert all(p.score < picks[0].score for p in picks[1:])


def test_adjacent_duplicates_are_suppressed() -> None:
    entropy, prediction = _volume({7: 0.9, 8: 0.85, 6: 0.8, 15: 0.5})
    picks = rank_slices(entropy, prediction, labeled=[], top=2, min_gap=2)
    assert [p.index for p in picks] == [7, 15]
    wide = rank_slices(entropy, prediction, labeled=[], top=20, min_gap=3)
    indices = [p.index for p in wide]
    assert all(abs(a - b) >= 3 for i, a in enumerate(indices) for b in indices[i + 1 :])
    assert len(indices) == len(set(indices)) and 6 not in indices and 8 not in indices


def test_labeled_slices_are_never_suggested() -> None:
    entropy, prediction = _volume({7: 0.9, 15: 0.5})
    picks = rank_slices(entropy, prediction, labeled=[7], top=3, min_gap=2)
    assert picks[0].index == 15 and all(p.index not in (6, 7, 8) for p in picks)
    every = rank_slices(entropy, prediction, labeled=[0, 7, 19], top=50, min_gap=1)
    assert sorted(p.index for p in every) == sorted(set(range(20)) - {0, 7, 19})
    with pytest.raises(ValueError, match="min_gap"):
        rank_slices(entropy, prediction, labeled=[], min_gap=0)


def test_ranking_along_another_axis() -> None:
    entropy, prediction = _volume({7: 0.9})
    picks = rank_slices(
        np.moveaxis(entropy, 0, 2), np.moveaxis(prediction, 0, 2), labeled=[], axis="x"
    )
    assert picks[0].index == 7


def test_uncertain_regions() -> None:
    entropy = np.zeros((20, 30))
    entropy[2:4, 3:8] = 0.9  # 10 px, mass 9
    entropy[10:16, 20:25] = 0.6  # 30 px, mass 18
    entropy[18, 0] = 1.0  # 1 px: below min_size
    regions = uncertain_regions(entropy, threshold=0.5, min_size=2)
    assert [(r.label, r.size) for r in regions] == [(1, 30), (2, 10)]
    big, small = regions
    assert big.score == pytest.approx(0.6) and small.score == pytest.approx(0.9)
    assert big.bbox == (10, 20, 16, 25) and big.centroid == pytest.approx((12.5, 22.0))
    diagonal = np.zeros((4, 4))
    diagonal[[0, 1, 2], [0, 1, 2]] = 1.0
    assert [r.size for r in uncertain_regions(diagonal, 0.5, min_size=1)] == [3]  # 8-connected
    assert uncertain_regions(np.zeros((5, 5)), 0.5) == []
    with pytest.raises(InputError, match="2-D"):
        uncertain_regions(np.zeros((2, 5, 5)), 0.5)


def test_auroc_known_answers() -> None:
    errors = np.array([0, 0, 1, 1], bool)
    assert auroc(np.array([0.1, 0.2, 0.8, 0.9]), errors) == 1.0
    assert auroc(np.array([0.9, 0.8, 0.2, 0.1]), errors) == 0.0
    assert auroc(np.full(4, 0.3), errors) == 0.5
    # pairs (error, correct): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4 → 3/4
    assert auroc(np.array([0.1, 0.4, 0.35, 0.8]), errors) == pytest.approx(0.75)
    # one tie between an error and a correct sample counts a half: (1 + 0.5 + 1 + 1) / 4
    assert auroc(np.array([0.1, 0.4, 0.4, 0.8]), errors) == pytest.approx(0.875)
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([0, 0], bool)))
    assert math.isnan(auroc(np.array([0.1, 0.2]), np.array([1, 1], bool)))
    assert auroc(np.array([0.1, np.nan, 0.9]), np.array([0, 0, 1], bool)) == 1.0


def test_expected_calibration_error_by_hand() -> None:
    confidence = np.array([0.9, 0.9, 0.6, 0.6])
    correct = np.array([1, 0, 1, 1], bool)
    # bin 0.9: accuracy 0.5, gap 0.4; bin 0.6: accuracy 1.0, gap 0.4; each half the samples
    assert expected_calibration_error(confidence, correct, bins=10) == pytest.approx(0.4)
    curve = reliability_curve(confidence, correct, bins=10)
    assert curve.counts.tolist() == [0, 0, 0, 0, 0, 0, 2, 0, 0, 2]
    assert curve.accuracy[9] == pytest.approx(0.5) and math.isnan(curve.accuracy[0])
    assert curve.bin_edges[0] == 0.0 and curve.bin_edges[-1] == 1.0
    calibrated = np.array([0.75] * 4)
    assert expected_calibration_error(calibrated, np.array([1, 1, 1, 0], bool)) == 0.0
    assert reliability_curve(np.array([1.0]), np.array([True]), bins=4).counts[-1] == 1
    assert math.isnan(expected_calibration_error(np.array([]), np.array([], bool)))


def test_coverage_prefers_an_unexplored_stretch_to_a_hot_slice_beside_a_label() -> None:
    # slice 3 is the hottest but sits 2 slices from the label at 1; slice 15 is almost as hot
    # and 14 slices from it: with coverage it comes first, without it slice 3 does
    entropy, prediction = _volume({3: 0.9, 15: 0.8}, n=20)
    with_cov = rank_slices(entropy, prediction, labeled=[1], top=2)
    assert [p.index for p in with_cov][:1] == [15]
    assert with_cov[0].score < rank_slices(entropy, prediction, [1], coverage=False)[0].score
    plain = rank_slices(entropy, prediction, labeled=[1], top=2, coverage=False)
    assert [p.index for p in plain] == [3, 15]
    # the distance counts earlier picks too: the second pick keeps away from the first
    flat, pred = _volume({z: 0.9 for z in range(20)}, n=20)
    picks = rank_slices(flat, pred, labeled=[0], top=2)
    assert picks[0].index == 19 and 8 <= picks[1].index <= 11


def test_slices_without_predicted_foreground_are_not_suggested() -> None:
    # slices 0-2 and 17-19 are empty (as the brain template's end slices): far from the label at
    # 9 and uncertain, coverage alone would pick them first
    entropy, prediction = _volume({z: 0.9 for z in range(20)}, n=20)
    prediction[:3] = 0
    prediction[17:] = 0
    prediction[3] = 0
    prediction[3, 4:6, 4:6] = 1  # 4 of 64 pixels: under 10 % of the fullest slice
    picks = rank_slices(entropy, prediction, labeled=[9], top=3)
    assert [p.index for p in picks] == [16, 4, 12]
    # min_foreground=0 lets the empty slices back in
    every = rank_slices(entropy, prediction, [9], top=20, min_gap=1)
    assert {p.index for p in every} == set(range(4, 17)) - {9}
    anything = rank_slices(entropy, prediction, [9], top=20, min_gap=1, min_foreground=0)
    assert {p.index for p in anything} == set(range(20)) - {9}
    # nothing predicted anywhere: no slice is excluded
    nothing = rank_slices(entropy, np.zeros_like(prediction), labeled=[9], top=1)
    assert len(nothing) == 1
    with pytest.raises(ValueError, match="min_foreground"):
        rank_slices(entropy, prediction, [9], min_foreground=1.5)


def test_distance_beyond_the_outermost_labels_counts_double() -> None:
    # labels at 6 and 27 of 34 equally uncertain slices: the middle (16) is 10 slices from a
    # label, the ends (0, 33) 6. Plain distance picks the middle; a label on one side only counts
    # double (12 > 10), so an end comes first, then the other end, then the middle
    entropy, prediction = _volume({z: 0.9 for z in range(34)}, n=34)
    plain = rank_slices(entropy, prediction, labeled=[6, 27], top=1, edge_weight=1.0)
    assert [p.index for p in plain] == [16]
    picks = rank_slices(entropy, prediction, labeled=[6, 27], top=3)
    assert [p.index for p in picks] == [0, 33, 16]
    # labels at both ends: every slice lies between them, the distance is the plain one
    inside = rank_slices(entropy, prediction, labeled=[0, 33], top=1)
    assert [p.index for p in inside] == [16]
    with pytest.raises(ValueError, match="edge_weight"):
        rank_slices(entropy, prediction, [6], edge_weight=0.5)


def test_edge_weight_never_lets_a_pick_break_the_gap_rule() -> None:
    # regression: the doubled distance once fed the gap test too, so slice 11, one slice from
    # the label at 10 (and beyond it), passed a min_gap of 2
    entropy, prediction = _volume({z: 0.9 for z in range(12)}, n=12)
    picks = [p.index for p in rank_slices(entropy, prediction, labeled=[10], top=6, min_gap=2)]
    assert all(abs(a - b) >= 2 for a in [*picks, 10] for b in [*picks, 10] if a != b)
