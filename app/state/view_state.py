"""What the user looks at and which tool is in hand (no Qt; widgets render these).

``ViewState`` holds the crosshair, layout, window/level and overlay settings; ``ToolState`` holds
the active tool, label, brush size and paint-over rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from app.state.observable import Signal
from ugpcl_engine import axis_index

VIEW_AXES = ("z", "y", "x")
VIEW_NAMES = {"z": "Axial", "y": "Coronal", "x": "Sagittal"}
# (centre, width) in HU
CT_PRESETS: dict[str, tuple[float, float]] = {
    "CT lung": (-600.0, 1500.0),
    "CT mediastinum": (40.0, 400.0),
    "CT bone": (400.0, 1800.0),
    "CT brain": (40.0, 80.0),
}

AUTO_PRESET = "Auto (percentiles)"


class Tool(Enum):
    """What a left drag on a view does."""

    NAVIGATE = "navigate"
    BRUSH = "brush"
    ERASER = "eraser"
    FILL = "fill"
    POLYGON = "polygon"
    PICKER = "picker"
    WINDOW = "window"  # left drag changes the grey window (width) and level (centre)


class PaintOver(Enum):
    """Which voxels a paint or erase may change (locked labels are never changed)."""

    EVERYTHING = "everything"
    BACKGROUND = "background"
    LABEL = "label"


@dataclass
class ToolState:
    """The tool in hand.

    Attributes:
        tool: active tool.
        label: label value painted (>= 1).
        radius: brush radius, in voxels or mm (see ``radius_in_mm``).
        radius_in_mm: True when ``radius`` is in millimetres.
        paint_over: which voxels painting may change.
        paint_over_label: the label value meant by ``PaintOver.LABEL``.
        mark_on_paint: painting a slice marks it labeled.
        intensity_range: paint only voxels whose image intensity lies in (low, high), both
            included (ITK-SNAP's and Slicer's threshold-limited painting); None: any intensity.
        fill_active_label_only: Fill between slices fills the active label only (default:
            every label on the labeled slices, as Slicer's).
        changed: emits None after any change.
    """

    tool: Tool = Tool.BRUSH
    label: int = 1
    radius: float = 5.0
    radius_in_mm: bool = False
    paint_over: PaintOver = PaintOver.EVERYTHING
    paint_over_label: int = 0
    mark_on_paint: bool = True
    intensity_range: tuple[float, float] | None = None
    fill_active_label_only: bool = False
    changed: Signal[None] = field(default_factory=Signal, repr=False, compare=False)

    def radius_rc(self, spacing_rc: tuple[float, float]) -> tuple[float, float]:
        """Brush radius in voxels along the rows and columns of a slice.

        Args:
            spacing_rc: voxel size (mm) along rows and columns of that slice.

        Returns:
            (row radius, col radius); equal in voxel mode, spacing-scaled in mm mode.
        """
        if not self.radius_in_mm:
            return (self.radius, self.radius)
        return (self.radius / spacing_rc[0], self.radius / spacing_rc[1])

    def resize(self, factor: float) -> None:
        """Scale the brush radius (``[`` and ``]``), kept within 0.5..200."""
        self.radius = float(np.clip(round(self.radius * factor * 2) / 2, 0.5, 200.0))
        self.changed.emit(None)

    def update(self, **values: object) -> None:
        """Set fields by name and announce the change."""
        for key, value in values.items():
            if not hasattr(self, key) or key == "changed":
                raise ValueError(f"unknown tool setting {key}")
            setattr(self, key, value)
        self.changed.emit(None)


@dataclass
class ViewState:
    """The display settings shared by all views.

    Attributes:
        cursor_zyx: crosshair voxel; view ``a`` shows slice ``cursor_zyx[axis_index(a)]``.
        layout: ``"1x3"`` or ``"single"``.
        single_axis: view shown in the single layout.
        window: (centre, width) of the grey mapping.
        labels_visible: draw the label overlay.
        opacity: overlay opacity 0..1.
        outline: draw only label outlines.
        changed: emits the name of what changed: ``"cursor"``, ``"window"``, ``"overlay"``,
            ``"layout"``.
    """

    cursor_zyx: list[int] = field(default_factory=lambda: [0, 0, 0])
    layout: str = "1x3"
    single_axis: str = "z"
    window: tuple[float, float] = (40.0, 400.0)
    labels_visible: bool = True
    opacity: float = 0.5
    outline: bool = False
    changed: Signal[str] = field(default_factory=Signal, repr=False, compare=False)

    def slice_index(self, axis: str) -> int:
        """Slice shown by the view of ``axis``."""
        return int(self.cursor_zyx[axis_index(axis)])

    def set_slice(self, axis: str, index: int, count: int) -> None:
        """Move the crosshair along ``axis`` to ``index`` clipped to ``0..count-1``."""
        self.cursor_zyx[axis_index(axis)] = int(np.clip(index, 0, count - 1))
        self.changed.emit("cursor")

    def set_cursor(self, cursor_zyx: tuple[int, int, int], shape_zyx: tuple[int, ...]) -> None:
        """Move the crosshair to a voxel (clipped into the volume)."""
        self.cursor_zyx = [
            int(np.clip(v, 0, n - 1)) for v, n in zip(cursor_zyx, shape_zyx, strict=True)
        ]
        self.changed.emit("cursor")

    def set_window(self, centre: float, width: float) -> None:
        """Set the grey window (width kept >= 1)."""
        self.window = (float(centre), max(float(width), 1.0))
        self.changed.emit("window")

    def levels(self) -> tuple[float, float]:
        """(low, high) intensities for the grey mapping."""
        centre, width = self.window
        return (centre - width / 2, centre + width / 2)

    def set_overlay(self, **values: object) -> None:
        """Change ``labels_visible``, ``opacity`` or ``outline`` and announce it."""
        for key, value in values.items():
            if key not in ("labels_visible", "opacity", "outline"):
                raise ValueError(f"unknown overlay setting {key}")
            setattr(self, key, value)
        self.opacity = float(np.clip(self.opacity, 0.0, 1.0))
        self.changed.emit("overlay")

    def set_layout(self, layout: str, single_axis: str | None = None) -> None:
        """Switch between ``"1x3"`` and ``"single"`` (optionally choosing the single view)."""
        if layout not in ("1x3", "single"):
            raise ValueError(f"unknown layout {layout}")
        self.layout = layout
        if single_axis is not None:
            axis_index(single_axis)
            self.single_axis = single_axis
        self.changed.emit("layout")


def auto_window(
    image_zyx: np.ndarray, low_pct: float = 1.0, high_pct: float = 99.0
) -> tuple[float, float]:
    """Window (centre, width) from intensity percentiles (MR and unknown modalities).

    Args:
        image_zyx: the volume (subsampled for speed on large volumes).
        low_pct: lower percentile.
        high_pct: upper percentile.

    Returns:
        (centre, width) with width >= 1.
    """
    step = max(1, round((image_zyx.size / 2_000_000) ** (1 / 3)))
    sample = image_zyx[::step, ::step, ::step]
    lo, hi = np.percentile(sample, [low_pct, high_pct])
    return (float(lo + hi) / 2.0, max(float(hi - lo), 1.0))


def default_window(image_zyx: np.ndarray, modality: str) -> tuple[float, float]:
    """Starting window: mediastinum for CT, percentiles otherwise."""
    if modality == "CT":
        return CT_PRESETS["CT mediastinum"]
    return auto_window(image_zyx)
