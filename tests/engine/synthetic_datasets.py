"""Tiny synthetic datasets in the SSL4MIS (ACDC) and MSD / nnU-Net layouts, written by tests.

Every volume is 8×32×32 with three classes drawn as discs whose size changes along z (1 right
ventricle-like, 2 a ring, 3 the inner disc), on a noisy background, intensities in [0, 1].
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import SimpleITK as sitk

DEPTH, SIDE = 8, 32
SSL_TRAIN = ("patient003", "patient001", "patient002")
"""Training patients in list order (deliberately not sorted); two frames each."""
MSD_TRAIN = ("case_b", "case_a", "case_d", "case_c")
"""MSD training cases in dataset.json order (deliberately not sorted)."""


def phantom(seed: int, depth: int = DEPTH, side: int = SIDE) -> tuple[np.ndarray, np.ndarray]:
    """A (depth, side, side) image in [0, 1] float32 and its uint8 labels 0..3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:side, :side]
    cy, cx = side // 2 + rng.integers(-2, 3), side // 2 + rng.integers(-2, 3)
    image = np.zeros((depth, side, side), np.float32)
    labels = np.zeros((depth, side, side), np.uint8)
    for z in range(depth):
        r = 5 + (z % 3)
        d = (yy - cy) ** 2 + (xx - cx) ** 2
        labels[z][d < (r + 3) ** 2] = 2
        labels[z][d < r**2] = 3
        labels[z][(yy - cy) ** 2 + (xx - cx + r + 6) ** 2 < 9] = 1
    image[labels == 1], image[labels == 2], image[labels == 3] = 0.4, 0.7, 1.0
    image += rng.normal(0, 0.03, image.shape).astype(np.float32)
    image = (image - image.min()) / (image.max() - image.min())
    return image.astype(np.float32), labels


def _h5(path: Path, image: np.ndarray, labels: np.ndarray) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("image", data=image, compression="gzip")
        f.create_dataset("label", data=labels, compression="gzip")


def write_ssl4mis(root: Path) -> Path:
    """Write an SSL4MIS layout: 3 training patients × 2 frames (48 slices), 1 val and 1 test
    patient (2 frames each); returns ``root``."""
    (root / "data" / "slices").mkdir(parents=True)
    lines: list[str] = []
    seed = 0
    groups = {"train": SSL_TRAIN, "val": ("patient004",), "test": ("patient005",)}
    for split, patients in groups.items():
        volumes = []
        for patient in patients:
            for frame in ("frame01", "frame02"):
                name = f"{patient}_{frame}"
                image, labels = phantom(seed)
                seed += 1
                _h5(root / "data" / f"{name}.h5", image, labels)
                volumes.append(name)
                if split == "train":
                    for z in range(DEPTH):
                        _h5(root / "data" / "slices" / f"{name}_slice_{z}.h5", image[z], labels[z])
                        lines.append(f"{name}_slice_{z}")
        list_name = "train.list" if split == "train" else f"{split}.list"
        (root / list_name).write_text("\n".join(volumes) + "\n")
    (root / "train_slices.list").write_text("\n".join(lines) + "\n")
    return root


def _nifti(path: Path, array: np.ndarray, spacing_zyx: tuple[float, float, float]) -> None:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(tuple(float(s) for s in reversed(spacing_zyx)))
    sitk.WriteImage(image, str(path), useCompression=True)


def write_msd(root: Path, spacing_zyx: tuple[float, float, float] = (2.0, 1.0, 1.0)) -> Path:
    """Write an nnU-Net raw layout: 4 labeled training cases plus one without labels
    (``case_e``), 2 test cases with ``labelsTs``; MR intensities 0..1000; returns ``root``."""
    for folder in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        (root / folder).mkdir(parents=True)
    cases = [(c, "Tr") for c in (*MSD_TRAIN, "case_e")] + [("test_a", "Ts"), ("test_b", "Ts")]
    for seed, (case, part) in enumerate(cases):
        image, labels = phantom(100 + seed)
        _nifti(root / f"images{part}" / f"{case}_0000.nii.gz", image * 1000, spacing_zyx)
        if case != "case_e":
            _nifti(root / f"labels{part}" / f"{case}.nii.gz", labels, spacing_zyx)
    meta = {
        "name": "synthetic",
        "modality": {"0": "MRI"},
        "labels": {"0": "background", "1": "RV", "2": "myocardium", "3": "LV"},
        "numTraining": 5,
        "training": [
            {"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"}
            for c in (*MSD_TRAIN, "case_e")
        ],
    }
    (root / "dataset.json").write_text(json.dumps(meta))
    return root
