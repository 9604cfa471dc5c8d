"""Display orientation: permutation + flips that put anatomy where radiologists expect it."""

from __future__ import annotations

import numpy as np
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.orientation import (
    VIEW_EDGES,
    axis_letters,
    display_transform,
    view_slice,
)


def rotation_xyz(ax: float, ay: float, az: float) -> np.ndarray:
    """Rotation matrix from angles in degrees about x, then y, then z."""
    a, b, c = np.radians([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


LETTER_AXIS = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}

DIRECTIONS = {
    "identity": np.eye(3),
    "lps_sample": np.diag([-1.0, -1.0, 1.0]),
    # sagittal acquisition: index x runs toward P, index y toward I, index z toward R
    "permuted": np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
    "oblique": rotation_xyz(20.0, -15.0, 30.0) @ np.diag([1.0, -1.0, -1.0]),
}


def _physical(direction: np.ndarray, index_zyx: np.ndarray) -> np.ndarray:
    """Physical point (LPS, unit spacing, zero origin) of voxel index (z, y, x)."""
    return direction @ index_zyx[::-1]


@pytest.mark.parametrize("name", DIRECTIONS)
def test_display_axes_run_superior_posterior_left(name: str) -> None:
    direction = DIRECTIONS[name]
    shape = (4, 5, 6)
    transform = display_transform(tuple(direction.ravel()))
    index = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    display = transform.to_display(index)  # (D0, D1, D2, 3) source indices in display order
    points = np.einsum("ij,...j->...i", direction, display[..., ::-1].astype(float))
    # along display axis d the physical coordinate S (d=0), P (d=1), L (d=2) increases most
    for d, physical in enumerate((2, 1, 0)):
        step = np.diff(points, axis=d)[..., physical]
        assert np.all(step > 0.5), (name, d)


def test_identity_and_sample_lps() -> None:
    identity = display_transform((1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert identity.axes == (0, 1, 2) and identity.flips == (False, False, False)
    sample = display_transform((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    assert sample.axes == (0, 1, 2) and sample.flips == (False, True, True)
    assert axis_letters((-1, 0, 0, 0, -1, 0, 0, 0, 1)) == ("S", "A", "R")


def test_permuted_direction_is_transposed_not_resampled() -> None:
    transform = display_transform(tuple(DIRECTIONS["permuted"].ravel()))
    array = np.arange(4 * 5 * 6).reshape(4, 5, 6)
    display = transform.to_display(array)
    assert sorted(display.shape) == [4, 5, 6]
    assert np.shares_memory(display, array)  # a view: no copy, no interpolation
    assert sorted(display.ravel()) == list(range(array.size))


def test_oblique_goes_to_nearest_axes_and_reports_angle() -> None:
    transform = display_transform(tuple(DIRECTIONS["oblique"].ravel()))
    assert 10.0 < transform.obliquity_deg < 45.0
    straight = display_transform((1, 0, 0, 0, 1, 0, 0, 0, 1))
    assert straight.obliquity_deg == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("name", DIRECTIONS)
def test_from_display_is_the_exact_inverse(name: str) -> None:
    transform = display_transform(tuple(DIRECTIONS[name].ravel()))
    array = np.random.default_rng(1).random((3, 4, 5))
    display = transform.to_display(array)
    assert np.array_equal(transform.from_display(display), array)
    # writes through the display view land in the source (painting in display space)
    display[0, 0, 0] = -1.0
    assert np.count_nonzero(array == -1.0) == 1
    index = transform.display_index(tuple(np.argwhere(array == -1.0)[0]), array.shape)
    assert index == (0, 0, 0)


@pytest.mark.parametrize("view", ["axial", "coronal", "sagittal"])
@pytest.mark.parametrize("name", DIRECTIONS)
def test_view_edges_carry_the_right_letters(view: str, name: str) -> None:
    direction = DIRECTIONS[name]
    shape = (4, 5, 6)
    transform = display_transform(tuple(direction.ravel()))
    index = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), axis=-1)
    plane = view_slice(transform.to_display(index), view, 1)  # (rows, cols, 3) source indices
    points = np.einsum("ij,...j->...i", direction, plane[..., ::-1].astype(float))
    edges = VIEW_EDGES[view]
    down = points[-1, 0] - points[0, 0]  # top edge -> bottom edge
    right = points[0, -1] - points[0, 0]  # left edge -> right edge
    for vector, letter in (
        (down, edges.bottom),
        (-down, edges.top),
        (right, edges.right),
        (-right, edges.left),
    ):
        axis, sign = LETTER_AXIS[letter]
        assert np.argmax(np.abs(vector)) == axis and np.sign(vector[axis]) == sign, (letter, vector)


def test_sample_axial_slice_shows_patient_right_on_screen_left(chest_ct) -> None:  # type: ignore[no-untyped-def]
    from ugpcl_engine.io.volume_files import read_label_map

    labels = read_label_map(chest_ct.labels)
    transform = display_transform(labels.geometry.direction_xyz)
    axial = view_slice(transform.to_display(labels.labels_zyx), "axial", 17)
    right_lung = np.argwhere(axial == 5)[:, 1].mean()  # column of class "right lung"
    left_lung = np.argwhere(axial == 6)[:, 1].mean()
    assert right_lung < left_lung


def test_degenerate_direction_and_unknown_view_are_refused() -> None:
    with pytest.raises(InputError, match=r"degenerate"):
        display_transform((1, 0, 0, 1, 0, 0, 0, 0, 1))
    with pytest.raises(InputError, match=r"Unknown view"):
        view_slice(np.zeros((2, 2, 2)), "oblique", 0)  # type: ignore[arg-type]
