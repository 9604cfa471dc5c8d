"""Volumes, label maps and their geometry (numpy + dataclasses only, no torch).

Axis order is always in the name: numpy arrays are ``*_zyx`` (slow to fast), physical vectors
follow ITK's ``xyz`` order (``origin_xyz``, ``direction_xyz``). SimpleITK conversion lives in
``ugpcl_engine.io.volume_files``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.segment_codes import SegmentCode

AXES = {"z": 0, "y": 1, "x": 2}


def axis_index(axis: str) -> int:
    """Return the numpy (zyx) index of an axis name.

    Args:
        axis: ``"z"``, ``"y"`` or ``"x"``.

    Returns:
        0, 1 or 2: the position of that axis in a ``*_zyx`` array.

    Raises:
        InputError: for any other name.
    """
    if axis not in AXES:
        raise InputError(f"Unknown axis '{axis}': use z (axial), y (coronal) or x (sagittal).")
    return AXES[axis]


@dataclass(frozen=True)
class VolumeGeometry:
    """Where a voxel grid lies in physical space (ITK / LPS conventions).

    Attributes:
        shape_zyx: number of voxels along z, y, x.
        spacing_zyx: voxel size in mm along z, y, x.
        origin_xyz: physical position (mm) of voxel (0, 0, 0), ITK order x, y, z.
        direction_xyz: 3×3 direction cosines, row-major, as SimpleITK's ``GetDirection()``
            (column j is the physical direction of index axis j in x, y, z order).
    """

    shape_zyx: tuple[int, int, int]
    spacing_zyx: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction_xyz: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.shape_zyx) != 3 or min(self.shape_zyx) < 1:
            raise InputError(f"A volume needs three non-empty axes, got shape {self.shape_zyx}.")
        if len(self.spacing_zyx) != 3 or min(self.spacing_zyx) <= 0:
            raise InputError(f"Voxel spacing must be positive, got {self.spacing_zyx}.")
        if len(self.direction_xyz) != 9:
            raise InputError("The direction matrix must have 9 entries.")

    def matches(self, other: VolumeGeometry, tolerance: float = 1e-3) -> bool:
        """Return True when both grids are the same (shape equal, rest within tolerance)."""
        return (
            self.shape_zyx == other.shape_zyx
            and np.allclose(self.spacing_zyx, other.spacing_zyx, atol=tolerance)
            and np.allclose(self.origin_xyz, other.origin_xyz, atol=tolerance * 10)
            and np.allclose(self.direction_xyz, other.direction_xyz, atol=tolerance)
        )


@dataclass(frozen=True)
class LabelClass:
    """One label value with its display name and colour.

    Attributes:
        value: the integer stored in the label map (0 is background).
        name: display name.
        color_rgb: colour, 0-255 per channel.
        code: its DICOM category/type (``segment_codes``); None: guessed from the name when
            exported.
    """

    value: int
    name: str
    color_rgb: tuple[int, int, int] = (255, 0, 0)
    code: SegmentCode | None = None


DEFAULT_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 0, 0),
    (241, 214, 145),
    (177, 122, 101),
    (111, 184, 210),
    (216, 101, 79),
    (221, 130, 101),
    (144, 238, 144),
    (192, 104, 88),
    (220, 245, 20),
    (78, 63, 0),
    (255, 250, 220),
)


@dataclass(frozen=True)
class LabelTable:
    """The label classes of a label map, background (0) first.

    Attributes:
        classes: classes sorted by value; values must be 0..C-1 without gaps.
    """

    classes: tuple[LabelClass, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        values = [c.value for c in self.classes]
        if values != list(range(len(values))):
            raise InputError(
                f"Label values must run 0..C-1 without gaps, got {values}; relabel the "
                "segmentation so that its values are consecutive."
            )

    @property
    def num_classes(self) -> int:
        """Number of classes including background."""
        return len(self.classes)

    @property
    def names(self) -> tuple[str, ...]:
        """Class names in value order."""
        return tuple(c.name for c in self.classes)

    def to_records(self) -> list[dict[str, Any]]:
        """Plain-JSON form: ``[{"value", "name", "color_rgb"}, ...]`` (checkpoints, run
        requests, ONNX metadata)."""
        return [
            {"value": c.value, "name": c.name, "color_rgb": list(c.color_rgb)} for c in self.classes
        ]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]]) -> LabelTable:
        """Inverse of ``to_records``."""
        return cls(
            tuple(
                LabelClass(int(c["value"]), str(c["name"]), tuple(c["color_rgb"])) for c in records
            )
        )

    @classmethod
    def default(cls, num_classes: int) -> LabelTable:
        """Build a table ``background, label 1, ...`` with default colours.

        Args:
            num_classes: number of classes including background (>= 2).
        """
        if num_classes < 2:
            raise InputError("A label table needs background and at least one label.")
        classes = [LabelClass(0, "background", (0, 0, 0))]
        for v in range(1, num_classes):
            color = (
                DEFAULT_COLORS[v % len(DEFAULT_COLORS)]
                if v < len(DEFAULT_COLORS)
                else ((v * 67) % 256, (v * 131) % 256, (v * 193) % 256)
            )
            classes.append(LabelClass(v, f"label {v}", color))
        return cls(tuple(classes))


@dataclass
class Volume:
    """An image volume.

    Attributes:
        image_zyx: array of shape (Z, Y, X), any real dtype.
        geometry: its physical grid; ``geometry.shape_zyx == image_zyx.shape``.
        name: display name (file stem).
        modality: ``"CT"``, ``"MR"`` or ``"unknown"``; chooses the default normalisation.
        header_window: (centre, width) display window the file's header gives (DICOM
            WindowCenter/WindowWidth, first value), or None.
    """

    image_zyx: np.ndarray
    geometry: VolumeGeometry
    name: str = "volume"
    modality: str = "unknown"
    header_window: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.image_zyx.ndim != 3:
            raise InputError(
                f"'{self.name}' has {self.image_zyx.ndim} dimensions; a 3-D volume is needed."
            )
        if tuple(self.image_zyx.shape) != tuple(self.geometry.shape_zyx):
            raise ValueError("image_zyx shape and geometry.shape_zyx differ")


@dataclass
class LabelMap:
    """A label volume on a known grid.

    Attributes:
        labels_zyx: uint8 array (Z, Y, X), values index ``table.classes``.
        geometry: the grid; normally equal to the image's.
        table: names and colours of the values.
    """

    labels_zyx: np.ndarray
    geometry: VolumeGeometry
    table: LabelTable

    def __post_init__(self) -> None:
        if self.labels_zyx.ndim != 3:
            raise InputError("A label map must be 3-D.")
        if tuple(self.labels_zyx.shape) != tuple(self.geometry.shape_zyx):
            raise ValueError("labels_zyx shape and geometry.shape_zyx differ")


def parse_slices(text: str) -> list[int]:
    """Parse a slice list such as ``"6,16,28"`` or ``"4-7,12"``.

    Args:
        text: comma-separated indices and inclusive ranges.

    Returns:
        Sorted unique indices.

    Raises:
        InputError: when the text is not such a list.
    """
    out: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1)
                out.update(range(int(lo), int(hi) + 1))
            else:
                out.add(int(part))
        except ValueError:
            raise InputError(
                f"Cannot read slice list '{text}': give indices like 6,16,28 or ranges like 4-7."
            ) from None
    if any(v < 0 for v in out):
        raise InputError(f"Slice indices must be >= 0, got '{text}'.")
    return sorted(out)
