"""Label tables (names and colours) in the formats other tools use.

- Slicer ``.seg.nrrd`` segments (read and written by ``slicerio``, see ``seg_nrrd``).
- ITK-SNAP label description files (text): ``IDX R G B A VIS MSH "LABEL"`` per line.
- Slicer colour tables (``.ctbl`` / ``.txt``): ``value name r g b a`` per line, names without
  spaces (written with ``_``, read back as spaces).

A ``LabelTable`` needs values 0..C-1 without gaps; files that skip values get placeholder
classes (``label k``) so that the values in the label map keep their meaning unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.label_table_text import MAX_LABEL_VALUE as MAX_LABEL_VALUE
from ugpcl_engine.io.label_table_text import default_color, read_label_entries
from ugpcl_engine.io.seg_nrrd import Segment, read_seg_nrrd_segments
from ugpcl_engine.io.seg_nrrd import segment_extents as segment_extents  # re-exported
from ugpcl_engine.volume import LabelClass, LabelTable

TABLE_SUFFIXES = (".ctbl", ".txt", ".seg.nrrd")


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


# ---------------------------------------------------------------- Slicer .seg.nrrd segments
def table_from_segments(segments: Sequence[Segment]) -> LabelTable:
    """Build the label table of a single-layer segmentation (voxel value = label value)."""
    layers = {s.layer for s in segments}
    if len(layers) > 1:
        raise InputError("The segments lie on several layers; flatten them first.")
    table = table_from_entries({s.label_value: (s.name, s.color_rgb) for s in segments})
    return with_segment_codes(table, {s.label_value: s for s in segments})


def with_segment_codes(table: LabelTable, segments: Mapping[int, Segment]) -> LabelTable:
    """Give the classes the DICOM codes of the segments at their values (others unchanged)."""
    return LabelTable(
        tuple(
            replace(c, code=segments[c.value].code)
            if c.value in segments and segments[c.value].code is not None
            else c
            for c in table.classes
        )
    )


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
    table = with_segment_codes(table_from_entries(entries), dict(enumerate(segments, start=1)))
    return labels, table, int(np.count_nonzero(hits > 1))


def layer_overlaps(
    layers_zyxl: np.ndarray, segments: Sequence[Segment], labels_zyx: np.ndarray
) -> list[tuple[int, int, int]]:
    """Where ``flatten_layers`` let one segment cover another.

    Args:
        layers_zyxl: the layers given to ``flatten_layers``.
        segments: its segments.
        labels_zyx: its result (segment ``i`` in file order has value ``i + 1``).

    Returns:
        ``(lost, kept, voxels)``: segment index ``lost`` (file order) gave ``voxels`` voxels to
        the later segment ``kept``; one entry per pair that overlaps, in file order.
    """
    out = []
    for index, seg in enumerate(segments):
        mask = layers_zyxl[..., seg.layer] == seg.label_value
        lost = labels_zyx[mask & (labels_zyx != index + 1)]
        counts = np.bincount(lost, minlength=len(segments) + 1)
        for value in np.flatnonzero(counts):
            if value > 0:
                out.append((index, int(value) - 1, int(counts[value])))
    return out


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
        return table_from_segments(read_seg_nrrd_segments(path))
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
