"""The ``random_forest`` peer baseline (ilastik-style pixel classification, benchmarks only)."""

from __future__ import annotations

import numpy as np
import pytest

from ugpcl_benchmarks.random_forest import (
    DEFAULT_SIGMAS,
    feature_names,
    gaussian_kernel,
    normalise_intensity,
    pixel_features,
    random_forest_segment,
)
from ugpcl_engine.errors import InputError
from ugpcl_engine.metrics import dice_jaccard

SPACING = (2.5, 1.0, 1.0)
LABELED = [3, 6, 9]


def _phantom(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """12 × 40 × 40, 2.5 × 1 × 1 mm: a bright ball (label 5) in a shell (label 2) on label 0,
    plus a small blob (label 7) on slice 0 only; intensities 0, 1, 2 (blob 3) with noise of
    standard deviation 0.45 (a per-voxel intensity threshold misclassifies about 13 %)."""
    z, y, x = np.indices((12, 40, 40)).astype(float)
    r = np.sqrt(((z - 5.5) * SPACING[0]) ** 2 + (y - 19.5) ** 2 + (x - 19.5) ** 2)
    labels = np.zeros((12, 40, 40), np.uint8)
    labels[r < 16] = 2
    labels[r < 9] = 5
    labels[0, 2:6, 2:6] = 7
    mean = np.select([labels == 5, labels == 2, labels == 7], [2.0, 1.0, 3.0], 0.0)
    image = mean + np.random.default_rng(seed).normal(0.0, 0.45, mean.shape)
    return (100.0 * image - 50.0).astype(np.float32), labels


def test_phantom_dice_on_unlabeled_slices_is_high() -> None:
    image, labels = _phantom()
    pred = random_forest_segment(image, labels, LABELED, SPACING, n_trees=30, n_jobs=1)
    assert pred.dtype == np.uint8 and pred.shape == labels.shape
    # only values seen on the labeled slices: the slice-0 blob (7) never is
    assert set(np.unique(pred)) <= {0, 2, 5}
    assert set(np.unique(pred)) == {0, 2, 5}
    assert np.array_equal(pred[LABELED], labels[LABELED])  # the forest fits its training set
    rest = [z for z in range(12) if z not in LABELED and z != 0]
    for value in (2, 5):
        dice, _ = dice_jaccard(pred[rest] == value, labels[rest] == value)
        assert dice > 0.93, (value, dice)  # measured 0.98 and 0.99
    # the raw intensity alone does clearly worse: the smoothed features are what it learns from
    threshold = np.select([image > 100, image > 0], [5, 2], 0)
    dice_raw, _ = dice_jaccard(threshold[rest] == 2, labels[rest] == 2)
    assert dice_raw < 0.8  # measured 0.71


def test_seed_reproducible_and_axis_choice() -> None:
    image, labels = _phantom(1)
    a = random_forest_segment(image, labels, LABELED, SPACING, n_trees=5, seed=3, n_jobs=1)
    b = random_forest_segment(image, labels, LABELED, SPACING, n_trees=5, seed=3, n_jobs=1)
    assert np.array_equal(a, b)
    # slicing along x: training on x-slices 12, 20, 28 still segments the ball
    along_x = random_forest_segment(image, labels, [12, 20, 28], SPACING, axis="x", n_trees=10)
    dice, _ = dice_jaccard(along_x[:, :, 14:18] == 5, labels[:, :, 14:18] == 5)
    assert dice > 0.9


def test_subsampling_caps_training_voxels() -> None:
    image, labels = _phantom()
    full = random_forest_segment(image, labels, LABELED, SPACING, n_trees=10, n_jobs=1)
    capped = random_forest_segment(
        image, labels, LABELED, SPACING, n_trees=10, n_jobs=1, max_samples_per_class=30
    )
    # 30 voxels per class: the training slices are no longer reproduced exactly
    assert not np.array_equal(capped[LABELED], labels[LABELED])
    assert np.array_equal(full[LABELED], labels[LABELED])
    assert set(np.unique(capped)) <= {0, 2, 5}


def test_features_count_finite_and_named() -> None:
    image, _ = _phantom()
    features = pixel_features(image, SPACING)
    assert features.dtype == np.float32
    assert features.shape == (*image.shape, 1 + 6 * len(DEFAULT_SIGMAS)) == (12, 40, 40, 31)
    assert len(feature_names()) == 31 and len(set(feature_names())) == 31
    assert np.isfinite(features).all()
    # the intensity feature is the normalised image: 1st / 99th percentiles at 0 / 1
    lo, hi = np.percentile(features[..., 0], (1, 99))
    assert lo == pytest.approx(0.0, abs=1e-5) and hi == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(features[..., 0], normalise_intensity(image))
    one = pixel_features(image, SPACING, sigmas=(1.0,))
    assert one.shape[-1] == 7
    # the same scale gives the same features whatever the other scales
    names = feature_names()
    start = names.index("gaussian_s1")
    assert np.allclose(one[..., 1:], features[..., start : start + 6], atol=1e-6)


def test_derivative_features_exact_on_quadratics() -> None:
    """Hessian of 3x² + y² - 2z² (in finest-axis voxels) is diag(-4, 2, 6) → LoG 4, extremes 6
    and -4, whatever the spacing; the corrected kernels are exact on quadratics."""
    for spacing in [(1.0, 1.0, 1.0), (3.0, 1.0, 1.0)]:
        z, y, x = np.indices((20, 24, 24)).astype(np.float64)
        z = z * spacing[0] / min(spacing)  # positions in finest-axis voxels
        image = 3 * (x - 11.5) ** 2 + (y - 11.5) ** 2 - 2 * (z - z.mean()) ** 2
        scale = np.subtract(*np.percentile(image.astype(np.float32), (99, 1)))
        f = pixel_features(image, spacing, sigmas=(1.0,)) * scale
        inner = (slice(8, 12), slice(8, 16), slice(8, 16))
        assert np.allclose(f[..., 3][inner], 4.0, atol=1e-2)
        assert np.allclose(f[..., 5][inner], 6.0, atol=1e-2)
        assert np.allclose(f[..., 6][inner], -4.0, atol=1e-2)
    # a constant image has zero derivatives (scipy's order-2 kernel would not, at small sigma)
    flat = pixel_features(np.full((6, 8, 8), 7.0), (10.0, 3.0, 3.0), sigmas=(0.7,))
    assert np.abs(flat[..., 2:]).max() < 1e-6


def test_anisotropic_spacing_narrows_the_z_smoothing() -> None:
    """A single bright z-slice: with 10 mm slices the Gaussian's sigma_z is 0.3 sigma, so the
    response one slice away drops from exp(-1 / 2 sigma²) to exp(-1 / 2 (0.3 sigma)²)."""
    image = np.zeros((15, 8, 8), np.float32)
    image[7] = 1.0
    sigma = 1.6
    profiles = {}
    for spacing in [(3.0, 3.0, 3.0), (10.0, 3.0, 3.0)]:
        f = pixel_features(image, spacing, sigmas=(sigma,))
        profiles[spacing] = f[:, 4, 4, 1]
    for spacing, sigma_z in [((3.0, 3.0, 3.0), sigma), ((10.0, 3.0, 3.0), 0.3 * sigma)]:
        p = profiles[spacing]
        assert p[8] / p[7] == pytest.approx(np.exp(-0.5 / sigma_z**2), rel=1e-3)
        assert np.allclose(p, p[::-1], atol=1e-6)  # centred impulse, symmetric response
    aniso, iso = profiles[(10.0, 3.0, 3.0)], profiles[(3.0, 3.0, 3.0)]
    assert aniso[8] / aniso[7] < 0.2 < 0.8 < iso[8] / iso[7]  # 0.114 vs 0.823
    # in-plane smoothing is unchanged: a y impulse is smoothed with sigma 1.6 in both cases
    image = np.zeros((6, 15, 8), np.float32)
    image[:, 7] = 1.0
    for spacing in [(3.0, 3.0, 3.0), (10.0, 3.0, 3.0)]:
        p = pixel_features(image, spacing, sigmas=(sigma,))[3, :, 4, 1]
        assert p[8] / p[7] == pytest.approx(np.exp(-0.5 / sigma**2), rel=1e-3)


def test_kernels_normalised() -> None:
    for sigma in (0.1, 0.5, 1.0, 3.5):
        for order, moments in ((0, (1, 0, None)), (1, (0, 1, 0)), (2, (0, 0, 2))):
            k = gaussian_kernel(sigma, order)
            x = np.arange(k.size) - k.size // 2
            for power, want in enumerate(moments):
                if want is not None:
                    assert np.sum(k * x**power) == pytest.approx(want, abs=1e-9)


def test_bad_input_is_refused() -> None:
    image, labels = _phantom()
    with pytest.raises(InputError):
        random_forest_segment(image, labels[:-1], LABELED, SPACING)
    with pytest.raises(InputError):
        random_forest_segment(image, labels, [], SPACING)
    with pytest.raises(InputError):
        random_forest_segment(image, labels, [12], SPACING)
    with pytest.raises(InputError):
        random_forest_segment(image, labels, LABELED, SPACING, axis="t")
    with pytest.raises(InputError):
        pixel_features(image, (0.0, 1.0, 1.0))


def test_entropy_of_the_votes_and_the_forest_in_the_guided_loop(tmp_path: object) -> None:
    from pathlib import Path

    from ugpcl_benchmarks.random_forest import forest_segmenter
    from ugpcl_benchmarks.simulation import guided_selection
    from ugpcl_engine.config import preset
    from ugpcl_engine.volume import LabelTable

    image, labels = _phantom()
    labels[labels == 7] = 0
    pred, entropy = random_forest_segment(
        image, labels, LABELED, SPACING, n_trees=30, n_jobs=1, with_entropy=True
    )
    plain = random_forest_segment(image, labels, LABELED, SPACING, n_trees=30, n_jobs=1)
    assert np.array_equal(pred, plain)  # the argmax of the votes is the forest's prediction
    assert entropy.dtype == np.float32 and entropy.shape == labels.shape
    assert entropy.min() >= 0 and entropy[LABELED].mean() < entropy.mean()  # surer where it fit
    table = LabelTable.default(6)
    rounds = list(
        guided_selection(
            image,
            labels,
            table,
            preset("quick", 6),  # unused by the forest
            Path(str(tmp_path)),
            spacing_zyx=SPACING,
            k_start=2,
            k_max=3,
            segment=forest_segmenter(SPACING, n_jobs=1),
        )
    )
    assert [r.k for r in rounds] == [2, 3] and rounds[0].checkpoint is None
    assert rounds[1].added == rounds[0].suggestions[0].index  # ranked by the forest's entropy
    assert rounds[1].dice > 0.5
