"""What an exported ONNX model carries besides its graph (numpy only, never torch).

The export writes these fields into the ONNX ``metadata_props`` (string key → string value,
JSON for structured values, every key prefixed ``ugpcl.``); the onnxruntime segmenter reads them
back to reproduce the training preprocessing exactly and to refuse files it cannot run. Keeping
the format here, apart from both, lets the GUI process read it without importing torch.

Graph contract (format version 1): one input ``image`` ``(B, 1, H, W)`` float32, intensities
already normalised to [0, 1]; outputs ``probs`` ``(B, C, H, W)`` float32 (mean softmax of the two
decoders), ``labels`` ``(B, H, W)`` int64, ``entropy`` ``(B, H, W)`` float32 (nats). B, H and W
are dynamic; the resize to the network size and back is inside the graph.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.config import NormalisationConfig
from ugpcl_engine.data.normalisation import IntensityWindow, resolve_window
from ugpcl_engine.errors import InputError
from ugpcl_engine.version import __version__
from ugpcl_engine.volume import LabelClass, LabelTable, axis_index

FORMAT = "ugpcl-studio-onnx"
FORMAT_VERSION = 1
PREFIX = "ugpcl."
INPUT_NAME = "image"
OUTPUT_NAMES = ("probs", "labels", "entropy")
PARITY_TOLERANCE = 1e-4
"""Largest accepted |torch − onnxruntime| on probabilities and entropy at export."""

FOV_RATIO_LIMIT = 2.0
"""A slice whose physical extent differs from training by more than this factor is flagged."""
PIXEL_RATIO_LIMIT = 4.0
"""Pixels (or, without spacing, slice sides) differing by more than this factor are flagged."""
MIN_SLICE_SIDE = 4


class ParityError(RuntimeError):
    """The exported graph disagrees with torch beyond ``PARITY_TOLERANCE``."""


def partial_path(out: Path) -> Path:
    """Where an export writes before the parity check moves the file to ``out``."""
    return out.with_name(f".{out.name}.partial")


@dataclass(frozen=True)
class TrainingGrid:
    """The grid of the training volume (for the very-different-grid check).

    Attributes:
        shape_zyx: voxels along z, y, x.
        spacing_zyx: voxel size in mm along z, y, x.
    """

    shape_zyx: tuple[int, int, int]
    spacing_zyx: tuple[float, float, float]

    def __post_init__(self) -> None:
        if len(self.shape_zyx) != 3 or min(self.shape_zyx) < 1:
            raise ValueError(f"shape_zyx needs 3 positive values, got {self.shape_zyx}")
        if len(self.spacing_zyx) != 3 or min(self.spacing_zyx) <= 0:
            raise ValueError(f"spacing_zyx needs 3 positive values, got {self.spacing_zyx}")


@dataclass(frozen=True)
class ModelMetadata:
    """Everything needed to run an exported model exactly as in training.

    Attributes:
        label_table: the C classes the model predicts (value = output channel).
        window: intensity window of training (``mode`` ``"ct"`` is reused as is, ``"mr"`` is
            recomputed from ``percentiles`` of each new volume).
        percentiles: (low, high) percentiles of the ``"mr"`` window.
        network_size: square network input size S (slices are resized to S×S in the graph).
        axis: slicing axis of training (``"z"``, ``"y"`` or ``"x"``).
        model_version: short id of the training run.
        config_hash: ``RunSpec.config_hash()`` of the training configuration.
        in_channels: channels of the graph input (1).
        training_grid: grid of the training volume, ``None`` when unknown.
        engine_version: ugpcl_engine version that exported the file.
        format_version: version of this metadata format.
    """

    label_table: LabelTable
    window: IntensityWindow
    percentiles: tuple[float, float]
    network_size: int
    axis: str
    model_version: str
    config_hash: str
    in_channels: int = 1
    training_grid: TrainingGrid | None = None
    engine_version: str = __version__
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.window.mode not in ("ct", "mr"):
            raise ValueError(f"window mode must be 'ct' or 'mr', got {self.window.mode!r}")
        if self.network_size < 1 or self.in_channels < 1:
            raise ValueError("network_size and in_channels must be >= 1")
        axis_index(self.axis)

    @property
    def num_classes(self) -> int:
        """Number of output classes C (background included)."""
        return self.label_table.num_classes

    def window_for(self, image_zyx: np.ndarray) -> IntensityWindow:
        """Intensity window of a new volume, computed as in training.

        Args:
            image_zyx: the raw volume (Z, Y, X).

        Returns:
            The training window (CT) or this volume's percentile window (MR).
        """
        if self.window.mode == "ct":
            return self.window
        return resolve_window(image_zyx, "mr", NormalisationConfig(percentiles=self.percentiles))

    def to_props(self) -> dict[str, str]:
        """Encode as ONNX ``metadata_props`` (all values strings)."""
        classes = self.label_table.to_records()
        norm = {
            "mode": self.window.mode,
            "low": self.window.low,
            "high": self.window.high,
            "percentiles": list(self.percentiles),
        }
        grid = asdict(self.training_grid) if self.training_grid else None
        values: dict[str, Any] = {
            "format": FORMAT,
            "format_version": self.format_version,
            "label_table": classes,
            "normalisation": norm,
            "network_size": self.network_size,
            "axis": self.axis,
            "in_channels": self.in_channels,
            "model_version": self.model_version,
            "config_hash": self.config_hash,
            "training_grid": grid,
            "engine_version": self.engine_version,
        }
        return {PREFIX + k: v if isinstance(v, str) else json.dumps(v) for k, v in values.items()}

    @classmethod
    def from_props(cls, props: Mapping[str, str], source: str = "the model") -> ModelMetadata:
        """Decode ``metadata_props`` written by ``to_props``.

        Args:
            props: the ONNX model's custom metadata.
            source: file name used in error messages.

        Returns:
            The metadata.

        Raises:
            InputError: not a model of this app, a newer format, or damaged metadata.
        """
        if props.get(PREFIX + "format") != FORMAT:
            raise InputError(
                f"{source} is an ONNX model without ugpcl-studio metadata (made by another "
                "tool?); export the model with 'ugpcl-studio export' or Model › Export ONNX…."
            )
        try:
            return _decode(props)
        except _NewerFormatError:
            raise InputError(
                f"{source} was exported by a newer ugpcl-studio; update the app to run it."
            ) from None
        except (KeyError, ValueError, TypeError, InputError) as err:
            raise InputError(
                f"{source} has damaged ugpcl-studio metadata ({type(err).__name__}: {err}); "
                "export the model again from its checkpoint."
            ) from None


class _NewerFormatError(Exception):
    pass


def _decode(props: Mapping[str, str]) -> ModelMetadata:
    def value(key: str) -> Any:
        return json.loads(props[PREFIX + key])

    if int(value("format_version")) > FORMAT_VERSION:
        raise _NewerFormatError
    table = LabelTable(
        tuple(
            LabelClass(int(c["value"]), str(c["name"]), _rgb(c["color_rgb"]))
            for c in value("label_table")
        )
    )
    norm = value("normalisation")
    low_p, high_p = (float(p) for p in norm["percentiles"])
    grid = value("training_grid")
    return ModelMetadata(
        label_table=table,
        window=IntensityWindow(str(norm["mode"]), float(norm["low"]), float(norm["high"])),
        percentiles=(low_p, high_p),
        network_size=int(value("network_size")),
        axis=props[PREFIX + "axis"],
        model_version=props[PREFIX + "model_version"],
        config_hash=props[PREFIX + "config_hash"],
        in_channels=int(value("in_channels")),
        training_grid=None
        if grid is None
        else TrainingGrid(_triple(grid["shape_zyx"], int), _triple(grid["spacing_zyx"], float)),
        engine_version=props.get(PREFIX + "engine_version", "unknown"),
        format_version=int(value("format_version")),
    )


def _rgb(values: Any) -> tuple[int, int, int]:
    r, g, b = (int(v) for v in values)
    return (r, g, b)


def _triple(values: Any, kind: type[Any]) -> Any:
    a, b, c = (kind(v) for v in values)
    return (a, b, c)


def grid_problems(
    meta: ModelMetadata,
    shape_zyx: tuple[int, ...],
    spacing_zyx: tuple[float, ...] | None = None,
) -> list[str]:
    """Ways in which a volume's grid is very different from the training grid.

    With the training grid known and the spacing given, the slices' physical extent (field of
    view) must be within ``FOV_RATIO_LIMIT`` and the pixel size within ``PIXEL_RATIO_LIMIT`` of
    training; without spacing the slice sides in pixels are compared; without a training grid
    (older checkpoints) the slice sides are compared with the network size.

    Args:
        meta: the model's metadata.
        shape_zyx: the volume's shape (Z, Y, X).
        spacing_zyx: its voxel size in mm, or ``None`` when unknown.

    Returns:
        Human-readable problems (empty when the grid is fine).
    """
    plane = [i for i in range(3) if i != axis_index(meta.axis)]
    sides = [int(shape_zyx[i]) for i in plane]
    problems: list[str] = []
    if min(sides) < MIN_SLICE_SIDE:
        problems.append(f"its slices are only {sides[0]}×{sides[1]} pixels")
    grid = meta.training_grid
    if grid is None:
        ratio = max(sides) / meta.network_size
        if not 1 / PIXEL_RATIO_LIMIT <= ratio <= PIXEL_RATIO_LIMIT:
            problems.append(
                f"its {sides[0]}×{sides[1]} slices are far from the network size "
                f"{meta.network_size}²"
            )
        return problems
    train_sides = [grid.shape_zyx[i] for i in plane]
    if spacing_zyx is None:
        if any(
            not _within(s / t, PIXEL_RATIO_LIMIT) for s, t in zip(sides, train_sides, strict=True)
        ):
            problems.append(
                f"its slices are {sides[0]}×{sides[1]} pixels, training slices "
                f"{train_sides[0]}×{train_sides[1]}"
            )
        return problems
    fov = [sides[k] * float(spacing_zyx[i]) for k, i in enumerate(plane)]
    train_fov = [train_sides[k] * grid.spacing_zyx[i] for k, i in enumerate(plane)]
    if any(not _within(f / t, FOV_RATIO_LIMIT) for f, t in zip(fov, train_fov, strict=True)):
        problems.append(
            f"its slices cover {fov[0]:.0f}×{fov[1]:.0f} mm, training slices "
            f"{train_fov[0]:.0f}×{train_fov[1]:.0f} mm"
        )
    pixel = [float(spacing_zyx[i]) for i in plane]
    train_pixel = [grid.spacing_zyx[i] for i in plane]
    if any(not _within(p / t, PIXEL_RATIO_LIMIT) for p, t in zip(pixel, train_pixel, strict=True)):
        problems.append(
            f"its pixels are {pixel[0]:.2g}×{pixel[1]:.2g} mm, training pixels "
            f"{train_pixel[0]:.2g}×{train_pixel[1]:.2g} mm"
        )
    return problems


def _within(ratio: float, limit: float) -> bool:
    return 1.0 / limit <= ratio <= limit


@dataclass(frozen=True)
class ExportReport:
    """What an export did and how well the ONNX graph matches torch.

    Attributes:
        path: the written ``.onnx`` file.
        opset: ONNX opset of the graph.
        exporter: which torch exporter wrote it.
        max_abs_diff_probs: max |torch − onnxruntime| over the parity slices' probabilities.
        max_abs_diff_entropy: the same for the entropy.
        label_agreement: fraction of parity pixels with the same label.
        parity_shapes: (B, 1, H, W) of each parity batch.
        parity_source: where the parity slices came from.
        seconds: wall time of export and check.
        metadata: the ``metadata_props`` written.
    """

    path: str
    opset: int
    exporter: str
    max_abs_diff_probs: float
    max_abs_diff_entropy: float
    label_agreement: float
    parity_shapes: tuple[tuple[int, ...], ...]
    parity_source: str
    seconds: float
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def model_version(self) -> str:
        """The exported model's id (its checkpoint's ``model_version``; "" when not written)."""
        return self.metadata.get(PREFIX + "model_version", "")

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form (crosses the process boundary)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExportReport:
        """Inverse of ``to_dict``."""
        values = dict(data)
        values["parity_shapes"] = tuple(tuple(int(v) for v in s) for s in data["parity_shapes"])
        return cls(**values)

    def summary(self) -> str:
        """One line for logs and the CLI."""
        return (
            f"wrote {self.path} (opset {self.opset}, {self.exporter}); parity on "
            f"{sum(s[0] for s in self.parity_shapes)} slices of the {self.parity_source}: max |Δp| "
            f"{self.max_abs_diff_probs:.2e}, max |Δentropy| {self.max_abs_diff_entropy:.2e}, "
            f"labels agree on {100 * self.label_agreement:.3f}% of pixels"
        )
