"""Peer baseline ``random_forest``: ilastik's pixel classification, for the benchmarks only.

A random forest on a fixed bank of 3-D pixel features (Sommer et al., "ilastik: Interactive
learning and segmentation toolkit", ISBI 2011), fit on every voxel of the few labeled slices
of a volume and applied to every voxel. It is what a user of ilastik gets from the same
annotation, and needs no GPU and no training loop.

Features (:func:`pixel_features`), computed in 3-D on the whole volume:

- the intensity, normalised by robust percentiles (:func:`normalise_intensity`);
- at each scale ``sigma``: Gaussian smoothing, gradient magnitude of Gaussian, Laplacian of
  Gaussian, difference of Gaussians ``G(sigma) - G(0.66 sigma)`` (the pair ilastik uses) and
  the largest and smallest eigenvalue of the Hessian of Gaussian.

The default scales are ilastik's 0.7, 1.0, 1.6, 3.5 and 5.0 voxels (its 0.3 only feeds the raw
intensity, its 10.0 is left out: it is larger than most of our volumes' slice counts). As in
ilastik, LoG and Hessian are not scale-normalised (no ``sigma²`` factor); the forest does not
care about the scale of a feature.

Anisotropy: ``sigma`` is in voxels of the finest axis and is scaled per axis,
``sigma_axis = sigma * min(spacing) / spacing_axis``, so that the smoothing is isotropic in mm
(the chest CT, 10 × 3 × 3 mm, gets ``sigma_z = 0.3 sigma``). Derivatives are taken with respect
to the same physical unit (one finest-axis voxel), so gradients and Hessians of anisotropic
volumes are physically consistent.

Kernels: sampled Gaussian derivatives, corrected like VIGRA's (which ilastik uses): the order-1
kernel is scaled so that it returns slope 1 on a ramp, the order-2 kernel has its mean removed
and is scaled so that it returns 2 on ``x²``. SciPy's ``gaussian_filter(order=2)`` lacks the
correction and answers a constant image with ``-1 / sigma²`` times its value for small sigma,
which the chest CT's ``sigma_z`` of 0.2 to 0.5 voxels would hit. A per-axis sigma below
``MIN_KERNEL_SIGMA`` is raised to it (the kernel is then the identity, a central difference
and a ``[1, -2, 1]`` stencil up to 1e-9).

This module is a benchmark extra (scikit-learn is in the ``benchmark`` and ``test`` extras
only): the app and the engine's product code never import it (an import-linter contract).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage
from sklearn.ensemble import RandomForestClassifier

from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.wrapper import ENTROPY_EPS
from ugpcl_engine.training.preparation import TrainingVolume
from ugpcl_engine.volume import axis_index

DEFAULT_SIGMAS = (0.7, 1.0, 1.6, 3.5, 5.0)
# the features computed at each sigma, in the order of the feature axis (after the intensity)
SCALE_FEATURES = (
    "gaussian",
    "gradient_magnitude",
    "laplacian",
    "difference_of_gaussians",
    "hessian_max",
    "hessian_min",
)
DOG_RATIO = 0.66  # ilastik: DoG(sigma) = G(sigma) - G(0.66 sigma)
PERCENTILES = (1.0, 99.0)  # the intensity is mapped so that these go to 0 and 1
TRUNCATE = 4.0  # kernel radius in sigmas, as scipy.ndimage
MIN_KERNEL_SIGMA = 0.15  # per-axis sigma floor (voxels) for well-defined kernels
# Training voxels per class: a class with more voxels on the labeled slices is subsampled to this
# many (seeded). Bounds the fit time (about linear in the samples); the benchmark volumes stay
# under it (2 mm brain: 3 × 91 × 73 = 20 k voxels in all, chest CT: 3 × 128 × 128 = 49 k), the
# 1 mm brain's background would not.
MAX_SAMPLES_PER_CLASS = 50_000
PREDICT_CHUNK = 1 << 18  # voxels per predict call (bounds the forest's per-chunk memory)
_EIGEN_CHUNK = 1 << 20  # voxels per float64 slab of the Hessian eigenvalues


def feature_names(sigmas: Iterable[float] = DEFAULT_SIGMAS) -> list[str]:
    """Names of the feature axis of :func:`pixel_features`, in order.

    Args:
        sigmas: the scales, as passed to :func:`pixel_features`.

    Returns:
        ``["intensity", "gaussian_s0.7", "gradient_magnitude_s0.7", ...]``:
        ``1 + 6 * len(sigmas)`` names.
    """
    names = ["intensity"]
    for sigma in sigmas:
        names += [f"{kind}_s{sigma:g}" for kind in SCALE_FEATURES]
    return names


def normalise_intensity(image_zyx: np.ndarray) -> np.ndarray:
    """Map the image linearly so that its 1st and 99th percentiles go to 0 and 1 (not clipped).

    Args:
        image_zyx: intensities (Z, Y, X), any real dtype.

    Returns:
        float32 array of the same shape (a constant image becomes all zeros).
    """
    image = np.asarray(image_zyx, dtype=np.float32).copy()
    lo, hi = (float(v) for v in np.percentile(image, PERCENTILES))
    image -= lo
    if hi > lo:
        image /= hi - lo
    return image


def gaussian_kernel(sigma: float, order: int) -> np.ndarray:
    """A sampled 1-D Gaussian derivative kernel for ``scipy.ndimage.correlate1d``.

    Order 0 sums to 1; order 1 sums to 0 and returns 1 on the ramp ``x``; order 2 sums to 0 and
    returns 2 on ``x²`` (see the module docstring).

    Args:
        sigma: standard deviation in voxels (raised to ``MIN_KERNEL_SIGMA``).
        order: derivative order, 0, 1 or 2.

    Returns:
        float64 kernel of odd length ``2 * radius + 1``, ``radius = max(1, round(4 sigma))``.
    """
    if order not in (0, 1, 2):
        raise ValueError(f"order must be 0, 1 or 2, got {order}")
    sigma = max(float(sigma), MIN_KERNEL_SIGMA)
    radius = max(1, int(TRUNCATE * sigma + 0.5))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 * (x / sigma) ** 2)
    phi /= phi.sum()
    if order == 0:
        return phi
    if order == 1:
        kernel = x * phi
        return kernel / np.sum(kernel * x)
    kernel = (x**2 - np.sum(x**2 * phi)) * phi
    return 2.0 * kernel / np.sum(kernel * x**2)


def _axis_ratios(spacing_zyx: tuple[float, float, float]) -> tuple[float, float, float]:
    """``spacing_axis / min(spacing)`` per axis (1 for the finest axis)."""
    if len(spacing_zyx) != 3 or min(spacing_zyx) <= 0:
        raise InputError(f"Voxel spacing must be three positive numbers, got {spacing_zyx}.")
    finest = min(spacing_zyx)
    z, y, x = (float(s) / finest for s in spacing_zyx)
    return z, y, x


def _smooth(image: np.ndarray, sigma_zyx: tuple[float, ...]) -> np.ndarray:
    """Separable Gaussian smoothing (float32 in, float32 out)."""
    out = image
    for axis in (2, 1, 0):
        kernel = gaussian_kernel(sigma_zyx[axis], 0)
        out = ndimage.correlate1d(out, kernel, axis=axis, output=np.float32, mode="reflect")
    return out


def _derivatives(
    image: np.ndarray, sigma_zyx: tuple[float, ...], ratios_zyx: tuple[float, float, float]
) -> dict[tuple[int, int, int], np.ndarray]:
    """All Gaussian derivatives of total order <= 2, keyed by ``(order_z, order_y, order_x)``.

    Separable, sharing the x and xy passes: 19 one-dimensional passes for the 10 outputs.
    Derivatives are per finest-axis voxel (divided by ``ratio ** order`` per axis).
    """
    out: dict[tuple[int, int, int], np.ndarray] = {}
    for ox in range(3):
        kx = gaussian_kernel(sigma_zyx[2], ox)
        fx = ndimage.correlate1d(image, kx, axis=2, output=np.float32, mode="reflect")
        for oy in range(3 - ox):
            ky = gaussian_kernel(sigma_zyx[1], oy)
            fxy = ndimage.correlate1d(fx, ky, axis=1, output=np.float32, mode="reflect")
            for oz in range(3 - ox - oy):
                kz = gaussian_kernel(sigma_zyx[0], oz)
                scale = ratios_zyx[0] ** oz * ratios_zyx[1] ** oy * ratios_zyx[2] ** ox
                res = ndimage.correlate1d(
                    fxy, kz / scale, axis=0, output=np.float32, mode="reflect"
                )
                out[(oz, oy, ox)] = res
            del fxy
        del fx
    return out


def _hessian_extremes(
    d: dict[tuple[int, int, int], np.ndarray], out_max: np.ndarray, out_min: np.ndarray
) -> None:
    """Largest and smallest eigenvalue of the symmetric 3×3 Hessian, per voxel, in place.

    Closed form (trigonometric solution of the characteristic cubic, Smith 1961) in float64,
    one z slab of about ``_EIGEN_CHUNK`` voxels at a time.
    """
    nz, ny, nx = out_max.shape
    step = max(1, _EIGEN_CHUNK // (ny * nx))
    for z0 in range(0, nz, step):
        sl = slice(z0, min(nz, z0 + step))
        a = d[(2, 0, 0)][sl].astype(np.float64)
        b = d[(0, 2, 0)][sl].astype(np.float64)
        c = d[(0, 0, 2)][sl].astype(np.float64)
        e_zy = d[(1, 1, 0)][sl].astype(np.float64)
        e_zx = d[(1, 0, 1)][sl].astype(np.float64)
        e_yx = d[(0, 1, 1)][sl].astype(np.float64)
        q = (a + b + c) / 3.0
        a -= q
        b -= q
        c -= q
        off = e_zy**2 + e_zx**2 + e_yx**2
        p = np.sqrt((a**2 + b**2 + c**2 + 2.0 * off) / 6.0)
        det = (
            a * (b * c - e_yx**2)
            - e_zy * (e_zy * c - e_yx * e_zx)
            + e_zx * (e_zy * e_yx - b * e_zx)
        )
        positive = p > 0
        r = np.divide(det, 2.0 * p**3, out=np.zeros_like(det), where=positive)
        phi = np.arccos(np.clip(r, -1.0, 1.0)) / 3.0
        out_max[sl] = q + 2.0 * p * np.cos(phi)
        out_min[sl] = q + 2.0 * p * np.cos(phi + 2.0 * math.pi / 3.0)


def pixel_features(
    image_zyx: np.ndarray,
    spacing_zyx: tuple[float, float, float],
    sigmas: Iterable[float] = DEFAULT_SIGMAS,
) -> np.ndarray:
    """ilastik's pixel features of a volume, in 3-D (see the module docstring).

    Memory: the result is ``Z·Y·X·(1 + 6·len(sigmas))`` float32 values (1.1 GB for 8.7 M voxels
    and the 5 default scales); on top of it, about 12 float32 volumes of temporaries and
    float64 eigenvalue slabs of ``_EIGEN_CHUNK`` voxels. No float64 copy of the stack.

    Args:
        image_zyx: intensities (Z, Y, X).
        spacing_zyx: voxel size (mm) along z, y, x; sigmas are in voxels of the finest axis.
        sigmas: the scales, in finest-axis voxels.

    Returns:
        float32 array (Z, Y, X, F), ``F = 1 + 6 * len(sigmas)``, in the order of
        :func:`feature_names`: intensity, then per sigma Gaussian, gradient magnitude, LoG,
        DoG, largest and smallest Hessian eigenvalue.

    Raises:
        InputError: the image is not 3-D, or the spacing is not three positive numbers.
    """
    if np.ndim(image_zyx) != 3:
        raise InputError(f"The image must be 3-D (Z, Y, X), got shape {np.shape(image_zyx)}.")
    ratios = _axis_ratios(spacing_zyx)
    scales = [float(s) for s in sigmas]
    if any(s <= 0 for s in scales):
        raise InputError(f"Feature scales must be positive, got {scales}.")
    image = normalise_intensity(image_zyx)
    features = np.empty((*image.shape, 1 + len(SCALE_FEATURES) * len(scales)), dtype=np.float32)
    features[..., 0] = image
    for i, sigma in enumerate(scales):
        sigma_zyx = tuple(sigma / r for r in ratios)
        base = 1 + len(SCALE_FEATURES) * i
        d = _derivatives(image, sigma_zyx, ratios)
        features[..., base] = d[(0, 0, 0)]
        features[..., base + 1] = np.sqrt(d[(1, 0, 0)] ** 2 + d[(0, 1, 0)] ** 2 + d[(0, 0, 1)] ** 2)
        features[..., base + 2] = d[(2, 0, 0)] + d[(0, 2, 0)] + d[(0, 0, 2)]
        narrow = _smooth(image, tuple(s * DOG_RATIO for s in sigma_zyx))
        features[..., base + 3] = d[(0, 0, 0)] - narrow
        del narrow
        _hessian_extremes(d, features[..., base + 4], features[..., base + 5])
        del d
    return features


def random_forest_segment(
    image_zyx: np.ndarray,
    labels_zyx: np.ndarray,
    labeled_slices: Iterable[int],
    spacing_zyx: tuple[float, float, float],
    axis: str = "z",
    seed: int = 0,
    n_trees: int = 100,
    max_samples_per_class: int = MAX_SAMPLES_PER_CLASS,
    n_jobs: int = -1,
    sigmas: Iterable[float] = DEFAULT_SIGMAS,
    with_entropy: bool = False,
) -> Any:
    """Segment a volume from a few labeled slices with an ilastik-style random forest.

    Training voxels are all the voxels of the labeled slices (background included); a class
    with more than ``max_samples_per_class`` of them is subsampled to that many with
    ``numpy.random.default_rng(seed)``. The forest is
    ``RandomForestClassifier(n_estimators=n_trees, n_jobs=n_jobs, random_state=seed)`` (fully
    grown trees, sqrt of the feature count per split); every voxel is then predicted, in chunks
    of ``PREDICT_CHUNK``. Only labels seen on the labeled slices can be predicted.

    Args:
        image_zyx: intensities (Z, Y, X).
        labels_zyx: labels (Z, Y, X), values 0..255; only the labeled slices are read.
        labeled_slices: indices along ``axis`` of the slices whose labels are complete.
        spacing_zyx: voxel size (mm) along z, y, x.
        axis: the slicing axis, ``"z"``, ``"y"`` or ``"x"``.
        seed: seeds the subsampling and the forest.
        n_trees: number of trees.
        max_samples_per_class: cap on the training voxels of one class.
        n_jobs: scikit-learn's worker count (-1: all cores).
        sigmas: feature scales, see :func:`pixel_features`.
        with_entropy: also return the entropy (nats) of the forest's class votes per voxel.

    Returns:
        uint8 labels (Z, Y, X), every value one of the labels on the labeled slices; with
        ``with_entropy``, the tuple (labels, float32 entropy (Z, Y, X)).

    Raises:
        InputError: shapes differ, no or out-of-range slices, labels outside 0..255, bad axis
            or spacing.
    """
    if np.shape(image_zyx) != np.shape(labels_zyx):
        raise InputError(
            f"Image and labels differ in shape: {np.shape(image_zyx)} vs {np.shape(labels_zyx)}."
        )
    dim = axis_index(axis)
    count = np.shape(labels_zyx)[dim]
    slices = sorted({int(s) for s in labeled_slices})
    if not slices or slices[0] < 0 or slices[-1] >= count:
        raise InputError(f"Labeled slices must be in 0..{count - 1} along {axis}, got {slices}.")
    if max_samples_per_class < 1:
        raise InputError(f"max_samples_per_class must be positive, got {max_samples_per_class}.")
    given = np.take(np.asarray(labels_zyx), slices, axis=dim).reshape(-1)
    if given.min() < 0 or given.max() > 255:
        raise InputError("Labels must be in 0..255 for a uint8 result.")

    features = pixel_features(image_zyx, spacing_zyx, sigmas)
    n_features = features.shape[-1]
    train_x = np.take(features, slices, axis=dim).reshape(-1, n_features)
    rng = np.random.default_rng(seed)
    keep = []
    for value in np.unique(given):
        idx = np.flatnonzero(given == value)
        if idx.size > max_samples_per_class:
            idx = rng.choice(idx, max_samples_per_class, replace=False)
        keep.append(idx)
    chosen = np.sort(np.concatenate(keep))
    forest = RandomForestClassifier(n_estimators=n_trees, n_jobs=n_jobs, random_state=seed)
    forest.fit(train_x[chosen], given[chosen].astype(np.uint8))
    del train_x

    flat = features.reshape(-1, n_features)
    pred = np.empty(flat.shape[0], dtype=np.uint8)
    entropy = np.empty(flat.shape[0], dtype=np.float32) if with_entropy else None
    classes = forest.classes_.astype(np.uint8)
    for start in range(0, flat.shape[0], PREDICT_CHUNK):
        stop = min(flat.shape[0], start + PREDICT_CHUNK)
        if entropy is None:
            pred[start:stop] = forest.predict(flat[start:stop])
        else:  # the forest's class votes as probabilities, their entropy as the uncertainty
            proba = forest.predict_proba(flat[start:stop])
            pred[start:stop] = classes[np.argmax(proba, axis=1)]
            votes = -(proba * np.log(proba + ENTROPY_EPS)).sum(axis=1)
            entropy[start:stop] = np.maximum(votes, 0.0)  # a unanimous vote gives -1e-6
    shape = np.shape(labels_zyx)
    if entropy is None:
        return pred.reshape(shape)
    return pred.reshape(shape), entropy.reshape(shape)


def forest_segmenter(
    spacing_zyx: tuple[float, float, float], seed: int = 0, n_jobs: int = -1
) -> Callable[[TrainingVolume, Path, str | None], tuple[np.ndarray, np.ndarray, str | None]]:
    """The forest as the segmenter of ``guided.guided_selection`` (labels, entropy, no model).

    The guided loop then ranks slices by the forest's own uncertainty (the entropy of its votes),
    like ilastik's uncertainty layer; each round refits from scratch (a forest has no warm start).
    """

    def segment(
        volume: TrainingVolume, folder: Path, init: str | None
    ) -> tuple[np.ndarray, np.ndarray, str | None]:
        labels, entropy = random_forest_segment(
            volume.image_zyx,
            volume.labels_zyx,
            volume.labeled_slices,
            spacing_zyx,
            seed=seed,
            n_jobs=n_jobs,
            with_entropy=True,
        )
        return labels, entropy, None

    return segment
