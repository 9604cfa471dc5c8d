"""Label tables (names and colours) in the formats other tools use.

- Slicer ``.seg.nrrd`` headers: ``Segment{i}_Name``, ``Segment{i}_Color`` (``r g b`` in 0..1),
  ``Segment{i}_LabelValue``, ``Segment{i}_Layer`` ... one set of keys per segment.
- ITK-SNAP label description files (text): ``IDX R G B A VIS MSH "LABEL"`` per line.
- Slicer colour tables (``.ctbl`` / ``.txt``): ``value name r g b a`` per line, names without
  spaces (written with ``_``, read back as spaces).

A ``LabelTable`` needs values 0..C-1 without gaps; files that skip values get placeholder
classes (``label k``) so that the values in the label map keep their meaning unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.label_table_text import MAX_LABEL_VALUE as MAX_LABEL_VALUE
from ugpcl_engine.io.label_table_text import default_color, read_label_entries
from ugpcl_engine.io.sitk_images import read_header_fields
from ugpcl_engine.volume import LabelClass, LabelTable

TABLE_SUFFIXES = (".ctbl", ".txt", ".seg.nrrd")


@dataclass(frozen=True)
class Segment:
    """One segment of a Slicer ``.seg.nrrd`` file.

    Attributes:
        name: display name.
        color_rgb: colour, 0-255 per channel.
        label_value: voxel value of the segment inside its layer.
        layer: index of the layer (component) holding the segment; 0 for 3-D files.
        segment_id: Slicer's segment ID.
    """

    name: str
    color_rgb: tuple[int, int, int]
    label_value: int
    layer: int = 0
    segment_id: str = ""


def table_from_entries(entries: Mapping[int, tuple[str, tuple[int, int, int]]]) -> LabelTable:
    """Build a table from ``value -> (name, colour)``, filling gaps with placeholder classes.

    Args:
        entries: label values (0..255) with their names and 0-255 RGB colours; value 0 may be
            missing (it becomes ``background``).

    Returns:
        A table with values 0..max(entries) (at least 0..1).

    Raises:
        InputError: a value outside 0..255.
    """
    bad = [v for v in entries if not 0 <= v <= MAX_LABEL_VALUE]
    if bad:
        raise InputError(
            f"Label value(s) {bad} are outside 0..{MAX_LABEL_VALUE}; renumber the labels first."
        )
    top = max([*entries, 1])
    classes = []
    for value in range(top + 1):
        if value in entries:
            name, color = entries[value]
        elif value == 0:
            name, color = "background", (0, 0, 0)
        else:
            name, color = f"label {value}", default_color(value)
        classes.append(LabelClass(value, name, color))
    return LabelTable(tuple(classes))


# ---------------------------------------------------------------- Slicer .seg.nrrd headers
def _color_from_unit(text: str) -> tuple[int, int, int]:
    parts = [float(p) for p in text.split()]
    if len(parts) < 3:
        raise ValueError(text)
    r, g, b = (round(min(max(p, 0.0), 1.0) * 255) for p in parts[:3])
    return (r, g, b)


def segments_from_header(header: Mapping[str, str]) -> list[Segment]:
    """Read the segments described by a Slicer ``.seg.nrrd`` header.

    Args:
        header: NRRD key/value fields (SimpleITK metadata or pynrrd header, values as text).

    Returns:
        The segments in file order; empty when the header describes none.

    Raises:
        InputError: a segment with an unreadable colour or label value.
    """
    segments = []
    index = 0
    while f"Segment{index}_Name" in header or f"Segment{index}_ID" in header:
        prefix = f"Segment{index}_"
        try:
            segments.append(
                Segment(
                    name=str(header.get(prefix + "Name", f"segment {index + 1}")).strip(),
                    color_rgb=_color_from_unit(str(header.get(prefix + "Color", "1 0 0"))),
                    label_value=int(str(header.get(prefix + "LabelValue", index + 1)).strip()),
                    layer=int(str(header.get(prefix + "Layer", 0)).strip()),
                    segment_id=str(header.get(prefix + "ID", f"Segment_{index + 1}")).strip(),
                )
            )
        except ValueError:
            raise InputError(
                f"The .seg.nrrd header has an unreadable entry for segment {index}; re-save the "
                "segmentation in Slicer."
            ) from None
        index += 1
    return segments


def table_from_segments(segments: Sequence[Segment]) -> LabelTable:
    """Build the label table of a single-layer segmentation (voxel value = label value)."""
    layers = {s.layer for s in segments}
    if len(layers) > 1:
        raise InputError("The segments lie on several layers; flatten them first.")
    return table_from_entries({s.label_value: (s.name, s.color_rgb) for s in segments})


def segment_header(table: LabelTable, extents: Mapping[int, str] | None = None) -> dict[str, str]:
    """Describe a label table as Slicer ``.seg.nrrd`` header fields (one layer).

    Args:
        table: names and colours; every class except background becomes a segment.
        extents: optional ``value -> "i0 i1 j0 j1 k0 k1"`` voxel extents of each segment.

    Returns:
        Header fields, all values text.
    """
    fields: dict[str, str] = {}
    for index, cls in enumerate(table.classes[1:]):
        prefix = f"Segment{index}_"
        r, g, b = (c / 255.0 for c in cls.color_rgb)
        fields[prefix + "ID"] = f"Segment_{cls.value}"
        fields[prefix + "Name"] = cls.name
        fields[prefix + "NameAutoGenerated"] = "0"
        fields[prefix + "Color"] = f"{r:.6g} {g:.6g} {b:.6g}"
        fields[prefix + "ColorAutoGenerated"] = "0"
        fields[prefix + "LabelValue"] = str(cls.value)
        fields[prefix + "Layer"] = "0"
        fields[prefix + "Extent"] = (extents or {}).get(cls.value, "0 -1 0 -1 0 -1")
        fields[prefix + "Tags"] = "|"
    fields["Segmentation_MasterRepresentation"] = "Binary labelmap"
    fields["Segmentation_ContainedRepresentationNames"] = "Binary labelmap|"
    fields["Segmentation_ReferenceImageExtentOffset"] = "0 0 0"
    return fields


def segment_extents(labels_zyx: np.ndarray, table: LabelTable) -> dict[int, str]:
    """Voxel extent of each class as Slicer writes it: ``"i0 i1 j0 j1 k0 k1"`` (x, y, z order).

    Args:
        labels_zyx: label array (Z, Y, X).
        table: its classes; absent classes get an empty extent ``"0 -1 0 -1 0 -1"``.
    """
    out = {}
    present = np.bincount(labels_zyx.ravel(), minlength=table.num_classes)
    for cls in table.classes[1:]:
        if cls.value >= present.size or present[cls.value] == 0:
            out[cls.value] = "0 -1 0 -1 0 -1"
            continue
        bounds = []
        for axis in (2, 1, 0):
            other = tuple(a for a in range(3) if a != axis)
            hit = np.flatnonzero(np.any(labels_zyx == cls.value, axis=other))
            bounds += [int(hit[0]), int(hit[-1])]
        out[cls.value] = " ".join(str(b) for b in bounds)
    return out


def flatten_layers(
    layers_zyxl: np.ndarray, segments: Sequence[Segment]
) -> tuple[np.ndarray, LabelTable, int]:
    """Merge overlapping segment layers into one label map.

    Each segment gets its own value 1..N in file order; where segments overlap, the later one
    (higher layer, later in the file) wins.

    Args:
        layers_zyxl: array (Z, Y, X, L), one layer per last index.
        segments: the header's segments (``layer`` indexes the last axis).

    Returns:
        ``(labels_zyx uint8, table, overlapping_voxels)``: the count of voxels that belonged
        to more than one segment (their earlier segments are lost).

    Raises:
        InputError: more than 255 segments or a segment on a layer the array lacks.
    """
    if len(segments) > MAX_LABEL_VALUE:
        raise InputError(f"{len(segments)} segments do not fit in 255 labels.")
    labels = np.zeros(layers_zyxl.shape[:3], dtype=np.uint8)
    hits = np.zeros(layers_zyxl.shape[:3], dtype=np.uint16)
    for new_value, seg in enumerate(segments, start=1):
        if seg.layer >= layers_zyxl.shape[3]:
            raise InputError(f"Segment '{seg.name}' is on layer {seg.layer}, which is missing.")
        mask = layers_zyxl[..., seg.layer] == seg.label_value
        labels[mask] = new_value
        hits += mask
    entries = {i: (s.name, s.color_rgb) for i, s in enumerate(segments, start=1)}
    return labels, table_from_entries(entries), int(np.count_nonzero(hits > 1))


# ---------------------------------------------------------------- text tables
def read_label_table(path: str | Path) -> LabelTable:
    """Read a label table file: ITK-SNAP label descriptions, Slicer ``.ctbl``, or ``.seg.nrrd``.

    Args:
        path: the file; text formats are told apart by content (quoted names mean ITK-SNAP).

    Returns:
        The table (gaps filled with placeholder classes).

    Raises:
        InputError: missing or unreadable file, or no entries.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Label table {path} not found; check the path.")
    if path.name.lower().endswith(".seg.nrrd"):
        return table_from_segments(segments_from_header(read_header_fields(path)))
    return table_from_entries(read_label_entries(path))


def _itksnap_text(table: LabelTable) -> str:
    rows = [
        "################################################",
        "# ITK-SnAP Label Description File",
        "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
        "################################################",
    ]
    for cls in table.classes:
        r, g, b = cls.color_rgb
        alpha, vis = (0, 0) if cls.value == 0 else (1, 1)
        name = cls.name.replace('"', "'")
        rows.append(f'{cls.value:5d} {r:5d} {g:4d} {b:4d} {alpha:8d} {vis:2d} {vis:2d}    "{name}"')
    return "\n".join(rows) + "\n"


def _ctbl_text(table: LabelTable) -> str:
    rows = ["# Color table file written by ugpcl-studio", f"# {table.num_classes} values"]
    for cls in table.classes:
        r, g, b = cls.color_rgb
        alpha = 0 if cls.value == 0 else 255
        name = "_".join(cls.name.split()) or f"label_{cls.value}"
        rows.append(f"{cls.value} {name} {r} {g} {b} {alpha}")
    return "\n".join(rows) + "\n"


def write_label_table(path: str | Path, table: LabelTable) -> Path:
    """Write a label table: ``.ctbl`` as a Slicer colour table, anything else as ITK-SNAP text.

    Args:
        path: destination (``.ctbl`` or ``.txt``).
        table: the names and colours.

    Returns:
        The path written.

    Raises:
        InputError: the file cannot be written.
    """
    path = Path(path)
    text = _ctbl_text(table) if path.suffix.lower() == ".ctbl" else _itksnap_text(table)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise InputError(f"Cannot write label table {path}: {err.strerror}.") from None
    return path


def table_path_beside(label_path: str | Path, table_format: str = "itksnap") -> Path:
    """Return where the label table of a label file goes: ``<stem>_labels.txt`` / ``<stem>.ctbl``.

    Args:
        label_path: the label volume file.
        table_format: ``"itksnap"`` or ``"ctbl"``.

    Raises:
        InputError: unknown format.
    """
    path = Path(label_path)
    stem = path.name
    for suffix in (".seg.nrrd", ".nii.gz", ".nii", ".nrrd", ".mha", ".mhd", ".dcm"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    if table_format == "itksnap":
        return path.with_name(stem + "_labels.txt")
    if table_format == "ctbl":
        return path.with_name(stem + ".ctbl")
    raise InputError(f"Unknown label table format '{table_format}': use itksnap or ctbl.")


def find_table_beside(label_path: str | Path) -> Path | None:
    """Return a label table written beside a label file by ``table_path_beside``, if any."""
    for table_format in ("itksnap", "ctbl"):
        candidate = table_path_beside(label_path, table_format)
        if candidate.is_file():
            return candidate
    return None
