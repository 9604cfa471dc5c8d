"""Display orientation: axis permutation and flips, never resampling.

Physical space is ITK's LPS: +x toward the patient's Left, +y Posterior, +z Superior.
``to_display`` turns any ``array_zyx`` into the *display array*: its axes run, in order,
Inferior→Superior, Anterior→Posterior and Right→Left (an LPS image with identity
direction). From it the three standard radiological views are plain slices (``view_slice``):

- axial ``display[k]``: rows top→bottom Anterior→Posterior, columns Right→Left (the patient's
  right on the screen's left, anterior up);
- coronal ``display[:, j, :]`` with rows flipped: Superior up, patient's right on screen left;
- sagittal ``display[:, :, i]`` with rows flipped: Superior up, Anterior on screen left.

Oblique directions go to the nearest axes (no interpolation); ``obliquity_deg`` says how far
off they are. Every result is a numpy view, so writes into the display array reach the source.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ugpcl_engine.errors import InputError

View = Literal["axial", "coronal", "sagittal"]
# physical axis (0 = x L, 1 = y P, 2 = z S) -> letters for its negative and positive ends
_LETTERS = (("R", "L"), ("A", "P"), ("I", "S"))


@dataclass(frozen=True)
class ViewEdges:
    """Anatomical letter at each edge of a displayed view (L/R/A/P/S/I)."""

    top: str
    bottom: str
    left: str
    right: str


VIEW_EDGES: dict[str, ViewEdges] = {
    "axial": ViewEdges(top="A", bottom="P", left="R", right="L"),
    "coronal": ViewEdges(top="S", bottom="I", left="R", right="L"),
    "sagittal": ViewEdges(top="S", bottom="I", left="A", right="P"),
}
_VIEW_AXIS = {"axial": 0, "coronal": 1, "sagittal": 2}


@dataclass(frozen=True)
class DisplayTransform:
    """How to bring an ``array_zyx`` into display order (see the module docstring).

    Attributes:
        axes: ``display = array.transpose(axes)`` before flipping; display axis d is array axis
            ``axes[d]``.
        flips: whether display axis d is reversed after the transpose.
        obliquity_deg: largest angle between an index axis and its nearest physical axis.
    """

    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]
    obliquity_deg: float = 0.0

    def to_display(self, array_zyx: np.ndarray) -> np.ndarray:
        """Return a view of ``array_zyx`` (Z, Y, X, ...) with axes I→S, A→P, R→L."""
        out = np.transpose(array_zyx, (*self.axes, *range(3, array_zyx.ndim)))
        for axis, flip in enumerate(self.flips):
            if flip:
                out = np.flip(out, axis=axis)
        return out

    def from_display(self, display: np.ndarray) -> np.ndarray:
        """Exact inverse of ``to_display``: return a view in the source's z, y, x order."""
        out = display
        for axis, flip in enumerate(self.flips):
            if flip:
                out = np.flip(out, axis=axis)
        inverse = tuple(int(i) for i in np.argsort(self.axes))
        return np.transpose(out, (*inverse, *range(3, display.ndim)))

    def display_spacing(self, spacing_zyx: tuple[float, float, float]) -> tuple[float, ...]:
        """Voxel size (mm) along the display axes (for pixel aspect)."""
        return tuple(float(spacing_zyx[a]) for a in self.axes)

    def display_index(
        self, index_zyx: tuple[int, int, int], shape_zyx: tuple[int, ...]
    ) -> tuple[int, int, int]:
        """Map a source voxel index (z, y, x) to its index in the display array."""
        out = []
        for d, a in enumerate(self.axes):
            i = int(index_zyx[a])
            out.append(shape_zyx[a] - 1 - i if self.flips[d] else i)
        return (out[0], out[1], out[2])


def view_slice(display: np.ndarray, view: View, index: int) -> np.ndarray:
    """Cut one screen-ready 2-D slice (rows top→bottom) from a display array.

    Args:
        display: array from ``DisplayTransform.to_display`` (axes I→S, A→P, R→L).
        view: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        index: slice position along the view's axis of the display array.

    Returns:
        A 2-D view whose edges carry the letters ``VIEW_EDGES[view]``.

    Raises:
        InputError: unknown view.
    """
    if view not in _VIEW_AXIS:
        raise InputError(f"Unknown view '{view}': use axial, coronal or sagittal.")
    if view == "axial":
        plane: np.ndarray = display[index]
        return plane
    plane = display[:, index, :] if view == "coronal" else display[:, :, index]
    flipped: np.ndarray = plane[::-1]
    return flipped


def _direction_matrix(direction_xyz: tuple[float, ...] | np.ndarray) -> np.ndarray:
    matrix = np.asarray(direction_xyz, dtype=np.float64).reshape(3, 3)
    if not np.all(np.isfinite(matrix)) or abs(np.linalg.det(matrix)) < 1e-6:
        raise InputError(
            "The image direction matrix is degenerate; the file's orientation header is broken."
        )
    unit: np.ndarray = matrix / np.linalg.norm(matrix, axis=0, keepdims=True)
    return unit


def display_transform(direction_xyz: tuple[float, ...] | np.ndarray) -> DisplayTransform:
    """Find the permutation and flips that bring an image to standard radiological display.

    Args:
        direction_xyz: SimpleITK's ``GetDirection()`` (9 values, row-major; column j is the
            physical LPS direction of index axis j, j = x, y, z).

    Returns:
        The transform; each index axis goes to its nearest physical axis (a one-to-one
        assignment that maximises alignment, so oblique images get a consistent choice).

    Raises:
        InputError: a degenerate direction matrix.
    """
    matrix = _direction_matrix(direction_xyz)
    best = max(
        itertools.permutations(range(3)),
        key=lambda perm: sum(abs(matrix[perm[j], j]) for j in range(3)),
    )  # best[j] = physical axis of index axis j (x, y, z order)
    axes = [0, 0, 0]
    flips = [False, False, False]
    for index_axis, physical in enumerate(best):
        display_axis = 2 - physical  # display axes run S, P, L = physical z, y, x
        axes[display_axis] = 2 - index_axis  # array axis of index axis (array is z, y, x)
        flips[display_axis] = bool(matrix[physical, index_axis] < 0)
    cosines = [abs(matrix[best[j], j]) for j in range(3)]
    obliquity = float(np.degrees(np.arccos(min(1.0, min(cosines)))))
    return DisplayTransform(
        axes=(axes[0], axes[1], axes[2]),
        flips=(flips[0], flips[1], flips[2]),
        obliquity_deg=obliquity,
    )


def axis_letters(direction_xyz: tuple[float, ...] | np.ndarray) -> tuple[str, str, str]:
    """Letter each array axis (z, y, x order) points toward, e.g. ``("S", "A", "R")``.

    Args:
        direction_xyz: SimpleITK's ``GetDirection()`` (9 values).

    Returns:
        For array axes 0, 1, 2 the anatomical direction of increasing index (nearest axis).
    """
    matrix = _direction_matrix(direction_xyz)
    letters = []
    for index_axis in (2, 1, 0):
        column = matrix[:, index_axis]
        physical = int(np.argmax(np.abs(column)))
        letters.append(_LETTERS[physical][1 if column[physical] > 0 else 0])
    return (letters[0], letters[1], letters[2])
