"""How a slice of one array axis is laid out on screen (radiological convention).

Views are per array axis (``"z"``, ``"y"``, ``"x"``) so that painting, labeled-slice marks and
undo all work in array indices. The engine's ``display_transform`` says which anatomical axis
each array axis follows; from it we derive, per view, whether the slice must be transposed and
flipped so that the patient's right is on the screen's left, anterior (axial) or superior
(coronal, sagittal) is up, and anterior is on the left in sagittal views. Nothing is resampled:
the UI turns a ``SliceLayout`` into one affine transform of the image item.
"""

from __future__ import annotations

from dataclasses import dataclass

from ugpcl_engine import VIEW_EDGES, VolumeGeometry, axis_index, display_transform

# display axes: 0 = I->S, 1 = A->P, 2 = R->L
_VIEW_OF_DISPLAY_AXIS = ("axial", "coronal", "sagittal")
# (horizontal display axis, vertical display axis, vertical runs against the display axis)
_SCREEN_AXES = {"axial": (2, 1, False), "coronal": (2, 0, True), "sagittal": (1, 0, True)}


@dataclass(frozen=True)
class SliceLayout:
    """Screen layout of the slices along one array axis.

    A slice is the 2-D array ``slice_of(array_zyx, axis, k)`` of shape (rows, cols).

    Attributes:
        axis: array axis name of the view.
        view: ``"axial"``, ``"coronal"`` or ``"sagittal"``.
        transpose: True when slice columns run vertically on screen.
        flip_h: True when the horizontal screen axis runs against its slice index.
        flip_v: True when the vertical screen axis (downwards) runs against its slice index.
        spacing_rc: mm per voxel along slice rows and columns.
        letters: anatomical letters at the (top, bottom, left, right) screen edges.
    """

    axis: str
    view: str
    transpose: bool
    flip_h: bool
    flip_v: bool
    spacing_rc: tuple[float, float]
    letters: tuple[str, str, str, str]


def slice_layout(geometry: VolumeGeometry, axis: str) -> SliceLayout:
    """Lay out the slices along ``axis`` of an image on ``geometry``.

    Args:
        geometry: the image grid (its direction decides the anatomy).
        axis: ``"z"``, ``"y"`` or ``"x"``.

    Returns:
        The layout (nearest anatomical axes for oblique images).
    """
    transform = display_transform(geometry.direction_xyz)
    display_of = {array_axis: d for d, array_axis in enumerate(transform.axes)}
    a = axis_index(axis)
    row_axis, col_axis = (i for i in range(3) if i != a)
    view = _VIEW_OF_DISPLAY_AXIS[display_of[a]]
    horizontal, _vertical, vertical_reversed = _SCREEN_AXES[view]
    transpose = display_of[col_axis] != horizontal
    h_axis, v_axis = (row_axis, col_axis) if transpose else (col_axis, row_axis)
    flip_h = transform.flips[display_of[h_axis]]
    flip_v = transform.flips[display_of[v_axis]] != vertical_reversed
    edges = VIEW_EDGES[view]
    sp = geometry.spacing_zyx
    return SliceLayout(
        axis,
        view,
        transpose,
        flip_h,
        flip_v,
        (sp[row_axis], sp[col_axis]),
        (edges.top, edges.bottom, edges.left, edges.right),
    )


def voxel_to_mm(geometry: VolumeGeometry, index_zyx: tuple[int, int, int]) -> tuple[float, ...]:
    """Physical position (x, y, z in mm, LPS) of a voxel centre.

    Args:
        geometry: the grid.
        index_zyx: voxel index.

    Returns:
        (x, y, z) in mm.
    """
    d = geometry.direction_xyz
    ijk = (
        index_zyx[2] * geometry.spacing_zyx[2],
        index_zyx[1] * geometry.spacing_zyx[1],
        index_zyx[0] * geometry.spacing_zyx[0],
    )
    return tuple(
        geometry.origin_xyz[r] + sum(d[3 * r + c] * ijk[c] for c in range(3)) for r in range(3)
    )


# the view's normal as a world axis (LPS component), the RAS letter Slicer shows, and the sign
_NORMAL = {"axial": (2, "S", 1.0), "coronal": (1, "A", -1.0), "sagittal": (0, "R", -1.0)}


def slice_caption(geometry: VolumeGeometry, layout: SliceLayout, index: int) -> str:
    """The corner text of a view: its name, the slice number and the slice's position in mm.

    The position is the RAS coordinate along the view's normal (``S`` for axial, ``A`` for
    coronal, ``R`` for sagittal, as 3D Slicer shows it) of the slice's centre voxel.

    Args:
        geometry: the volume's grid.
        layout: the view's layout (``slice_layout``).
        index: the slice shown.

    Returns:
        Two lines (the view's name above, so that neither reaches the orientation letter at
        the top centre), for example ``"Axial\\n17 / 33   S 42.5 mm"``.
    """
    a = axis_index(layout.axis)
    centre = [n // 2 for n in geometry.shape_zyx]
    centre[a] = index
    world = voxel_to_mm(geometry, (centre[0], centre[1], centre[2]))
    component, letter, sign = _NORMAL[layout.view]
    last = geometry.shape_zyx[a] - 1
    position = sign * world[component]
    return f"{layout.view.capitalize()}\n{index} / {last}   {letter} {position:.1f} mm"
