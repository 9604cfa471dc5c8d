"""Fixtures for the image/label I/O tests: tiny oblique grids and a tiny DICOM series."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ugpcl_engine.io.dicom_series import write_dicom_series
from ugpcl_engine.volume import VolumeGeometry


def rotation_xyz(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix (3×3) from angles in degrees about x, then y, then z."""
    a, b, c = np.radians([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.fixture
def oblique_geometry() -> VolumeGeometry:
    """A 5×6×7 anisotropic grid with an oblique direction and an off-origin corner."""
    return VolumeGeometry(
        shape_zyx=(5, 6, 7),
        spacing_zyx=(2.5, 0.7, 0.9),
        origin_xyz=(10.25, -20.5, 33.125),
        direction_xyz=tuple(float(v) for v in rotation_xyz(12.0, -7.0, 25.0).ravel()),
    )


@pytest.fixture
def ramp_zyx(oblique_geometry: VolumeGeometry) -> np.ndarray:
    """int16 array on ``oblique_geometry`` whose every voxel value is distinct."""
    return np.arange(np.prod(oblique_geometry.shape_zyx), dtype=np.int16).reshape(
        oblique_geometry.shape_zyx
    )


DicomFactory = Callable[..., list[Path]]


@pytest.fixture
def make_dicom_series() -> DicomFactory:
    """Return ``make(folder, image_zyx, geometry, **tags) -> files``: write a tiny series."""

    def make(
        folder: Path, image_zyx: np.ndarray, geometry: VolumeGeometry, **tags: str
    ) -> list[Path]:
        return write_dicom_series(image_zyx, geometry, folder, **tags)

    return make
