"""3D Slicer ``.seg.nrrd`` segmentations, read and written through ``slicerio``.

``slicerio`` parses and writes the Slicer segment header (names, colours, label values, layers,
extents, terminology codes); this module only turns its IJK arrays and ``ijkToLPS`` matrix into
our ``*_zyx`` arrays and ``VolumeGeometry`` and back. A multi-layer (overlapping) file comes
back as ``layers_zyxl`` (one layer per last index), as ``label_tables.flatten_layers`` takes it.

Segment names are UTF-8 in the header, as Slicer writes them ("Läsion", "肝臓"); ``pynrrd``
only writes ASCII and drops other bytes when it reads, so names are escaped for it on writing
and un-escaped in the written header, and read back from the header's bytes on reading.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.segment_codes import Concept, SegmentCode, code_for, default_code
from ugpcl_engine.volume import LabelTable, VolumeGeometry

_CONTEXT = "Segmentation category and type - DICOM master list"
_HEADER_BYTES = 1 << 20  # a segment header is a few kB; its names are looked for in this much
_NAME_LINE = re.compile(rb"^Segment(\d+)_(ID|Name):=(.*)$", re.MULTILINE)
_ESCAPED = re.compile(r"&#x([0-9a-f]+);")


def _escape(text: str) -> str:
    """ASCII text for pynrrd: ``&`` and every non-ASCII character as ``&#x..;``."""
    return "".join(c if c.isascii() and c != "&" else f"&#x{ord(c):x};" for c in text)


def _unescape_header(path: str | Path) -> None:
    """Turn ``_escape``'s escapes in a written file's header back into UTF-8 text."""
    data = Path(path).read_bytes()
    end = data.find(b"\n\n")
    if end < 0 or b"&#x" not in data[:end]:
        return
    header = _ESCAPED.sub(lambda m: chr(int(m.group(1), 16)), data[:end].decode("ascii"))
    Path(path).write_bytes(header.encode("utf-8") + data[end:])


def _utf8_names(path: Path) -> dict[str, str]:
    """``segment ID -> name`` read as UTF-8 from the header's bytes (pynrrd drops non-ASCII)."""
    with path.open("rb") as f:
        head = f.read(_HEADER_BYTES)
    end = head.find(b"\n\n")
    fields: dict[str, dict[bytes, str]] = {}
    for index, key, value in _NAME_LINE.findall(head if end < 0 else head[:end]):
        text = value.rstrip(b"\r").decode("utf-8", errors="replace")
        fields.setdefault(index.decode(), {})[key] = text
    return {f[b"ID"]: f[b"Name"] for f in fields.values() if b"ID" in f and b"Name" in f}


@dataclass(frozen=True)
class Segment:
    """One segment of a Slicer ``.seg.nrrd`` file.

    Attributes:
        name: display name.
        color_rgb: colour, 0-255 per channel.
        label_value: voxel value of the segment inside its layer.
        layer: index of the layer (component) holding the segment; 0 for 3-D files.
        segment_id: Slicer's segment ID.
        code: its DICOM category/type (Slicer's terminology entry), if the file has one.
    """

    name: str
    color_rgb: tuple[int, int, int]
    label_value: int
    layer: int = 0
    segment_id: str = ""
    code: SegmentCode | None = None


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


def _geometry(ijk_to_lps: np.ndarray, shape_xyz: tuple[int, ...]) -> VolumeGeometry:
    matrix = np.asarray(ijk_to_lps, dtype=float)[:3, :3]
    if not np.all(np.isfinite(np.asarray(ijk_to_lps, dtype=float)[:3])):
        raise InputError(
            "The .seg.nrrd has a voxel size, direction or origin that is not a number (NaN or "
            "infinite); its header is damaged: re-save it in Slicer."
        )
    spacing_xyz = np.linalg.norm(matrix, axis=0)
    if np.any(spacing_xyz <= 0):
        raise InputError("The .seg.nrrd has a zero voxel size; re-save it in Slicer.")
    direction = matrix / spacing_xyz  # column j: direction of index axis j
    return VolumeGeometry(
        shape_zyx=(int(shape_xyz[2]), int(shape_xyz[1]), int(shape_xyz[0])),
        spacing_zyx=(float(spacing_xyz[2]), float(spacing_xyz[1]), float(spacing_xyz[0])),
        origin_xyz=tuple(float(v) for v in np.asarray(ijk_to_lps)[:3, 3]),  # type: ignore[arg-type]
        direction_xyz=tuple(float(v) for v in direction.ravel()),
    )


def _ijk_to_lps(geometry: VolumeGeometry) -> np.ndarray:
    matrix = np.eye(4)
    direction = np.asarray(geometry.direction_xyz, dtype=float).reshape(3, 3)
    matrix[:3, :3] = direction * np.asarray(geometry.spacing_zyx[::-1])
    matrix[:3, 3] = geometry.origin_xyz
    return matrix


def _code(terminology: Any) -> SegmentCode | None:
    try:
        category, kind = terminology["category"], terminology["type"]
        return SegmentCode(Concept(*category[:3]), Concept(*kind[:3]))
    except (KeyError, TypeError, InputError):
        return None


def _segment(index: int, info: dict[str, Any], names: dict[str, str]) -> Segment:
    color = info.get("color", [1.0, 0.0, 0.0])
    rgb = tuple(round(min(max(float(c), 0.0), 1.0) * 255) for c in list(color)[:3])
    name = str(info.get("name", f"segment {index + 1}")).strip()
    name = names.get(str(info.get("id")), name).strip() or name
    code = _code(info.get("terminology"))
    return Segment(
        name=name,
        color_rgb=rgb,  # type: ignore[arg-type]
        label_value=int(info.get("labelValue", index + 1)),
        layer=int(info.get("layer", 0)),
        segment_id=str(info.get("id", f"Segment_{index + 1}")),
        code=None if code == default_code(name) else code,  # the default needs no storing
    )


def _read(path: Path, skip_voxels: bool) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"File not found: {path}. Check the path and try again.")
    import slicerio  # here, not at import: the GUI start needs no .seg.nrrd reader

    if not skip_voxels:  # pynrrd would inflate a gzip bomb to the declared size
        from ugpcl_engine.io.declared_size import check_declared_size

        check_declared_size(path)
    try:
        return dict(slicerio.read_segmentation(str(path), skip_voxels=skip_voxels))
    except Exception as err:  # slicerio/pynrrd raise many types for a bad file
        raise InputError(
            f"Cannot read {path.name} as a Slicer segmentation ({str(err)[:120]}); check that "
            "it is a complete .seg.nrrd file."
        ) from None


def read_seg_nrrd_segments(path: str | Path) -> list[Segment]:
    """Read only the segments a ``.seg.nrrd`` header describes (no voxels).

    Raises:
        InputError: missing or unreadable file, or an unreadable segment entry.
    """
    path = Path(path)
    try:
        data = _read(path, True)
        names = _utf8_names(path)
        return [_segment(i, s, names) for i, s in enumerate(data.get("segments", []))]
    except (ValueError, TypeError):
        raise InputError(f"{path.name} has an unreadable segment entry; re-save it.") from None


def read_seg_nrrd(path: str | Path) -> tuple[np.ndarray, VolumeGeometry, list[Segment]]:
    """Read a Slicer segmentation.

    Args:
        path: the ``.seg.nrrd`` file.

    Returns:
        ``(array, geometry, segments)``: ``array`` is ``labels_zyx`` (Z, Y, X) for a one-layer
        file, ``layers_zyxl`` (Z, Y, X, L) for a multi-layer (overlapping) one.

    Raises:
        InputError: missing or unreadable file, or an unreadable segment entry.
    """
    path = Path(path)
    data = _read(path, False)
    voxels = np.asarray(data["voxels"])
    if voxels.ndim == 4:  # (layer, i, j, k) -> (k, j, i, layer)
        array = np.ascontiguousarray(voxels.transpose(3, 2, 1, 0))
        shape_xyz = voxels.shape[1:]
    elif voxels.ndim == 3:
        array = np.ascontiguousarray(voxels.transpose(2, 1, 0))
        shape_xyz = voxels.shape
    else:
        raise InputError(f"{path.name} is {voxels.ndim}-D; a 3-D segmentation is needed.")
    try:
        names = _utf8_names(path)
        segments = [_segment(i, s, names) for i, s in enumerate(data.get("segments", []))]
    except (ValueError, TypeError):
        raise InputError(f"{path.name} has an unreadable segment entry; re-save it.") from None
    return array, _geometry(data["ijkToLPS"], shape_xyz), segments


def write_seg_nrrd(
    path: str | Path, labels_zyx: np.ndarray, geometry: VolumeGeometry, table: LabelTable
) -> None:
    """Write a one-layer Slicer segmentation: each class but background is a segment with its
    name, colour, extent and DICOM category/type (``segment_codes.code_for``).

    Raises:
        InputError: the file cannot be written.
    """
    labels = np.ascontiguousarray(labels_zyx, dtype=np.uint8)
    extents = segment_extents(labels, table)
    segments = []
    for cls in table.classes[1:]:
        code = code_for(cls.name, cls.code)
        segments.append(
            {
                "id": f"Segment_{cls.value}",
                "name": _escape(cls.name),
                "nameAutoGenerated": False,
                "color": [round(c / 255.0, 6) for c in cls.color_rgb],
                "colorAutoGenerated": False,
                "labelValue": cls.value,
                "layer": 0,
                "extent": [int(v) for v in extents[cls.value].split()],
                "terminology": {
                    "contextName": _CONTEXT,
                    "category": [_escape(t) for t in code.category.as_list()],
                    "type": [_escape(t) for t in code.type.as_list()],
                },
            }
        )
    segmentation = {
        "voxels": labels.transpose(2, 1, 0),
        "ijkToLPS": _ijk_to_lps(geometry),
        "containedRepresentationNames": ["Binary labelmap"],
        "segments": segments,
    }
    import slicerio

    try:
        slicerio.write_segmentation(str(path), segmentation, compression_level=1)
        _unescape_header(path)
    except OSError as err:
        raise InputError(f"Cannot write {path}: {err.strerror or err}.") from None
