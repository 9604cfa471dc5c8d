"""DICOM-SEG export (highdicom) for segmentations of DICOM series, and reading it back.

Each source slice is matched to a z index of the label map by its ImagePositionPatient (turned
into a continuous voxel index with the label map's geometry), not by file order, so the SEG
frames reference the right source instances and carry the source's FrameOfReferenceUID.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from pydicom.sr.codedict import codes

from ugpcl_engine.errors import InputError
from ugpcl_engine.io import label_tables
from ugpcl_engine.segment_codes import Concept, SegmentCode, code_for
from ugpcl_engine.volume import LabelMap, LabelTable, VolumeGeometry

# how far (in voxels) a source slice may sit from a label-map grid point
POSITION_TOLERANCE = 0.05
# a FRACTIONAL SEG (probability or occupancy) labels a voxel where its fraction is at least this
FRACTION_THRESHOLD = 0.5


def _read_sources(files: Sequence[str | Path]) -> list[pydicom.Dataset]:
    datasets: list[pydicom.Dataset] = []
    for f in files:
        try:
            datasets.append(pydicom.dcmread(str(f)))
        except (OSError, pydicom.errors.InvalidDicomError) as err:
            raise InputError(f"Cannot read source DICOM file {f}: {err}.") from None
    return datasets


def _slice_indices(datasets: Sequence[pydicom.Dataset], geometry: VolumeGeometry) -> list[int]:
    """Return the label map's z index of each source slice (raises when off the grid)."""
    direction = np.array(geometry.direction_xyz).reshape(3, 3)
    scale = direction * np.array(geometry.spacing_zyx[::-1])  # columns: step of index x, y, z
    inverse = np.linalg.inv(scale)
    out = []
    for ds in datasets:
        if "ImagePositionPatient" not in ds:
            raise InputError("A source DICOM file has no ImagePositionPatient; cannot place it.")
        if (int(ds.Rows), int(ds.Columns)) != geometry.shape_zyx[1:]:
            raise InputError(
                f"Source slices are {ds.Rows}×{ds.Columns} but the segmentation is "
                f"{geometry.shape_zyx[1]}×{geometry.shape_zyx[2]}; export against its own series."
            )
        position = np.array([float(v) for v in ds.ImagePositionPatient])
        index_xyz = inverse @ (position - np.array(geometry.origin_xyz))
        k = round(float(index_xyz[2]))
        if np.max(np.abs(index_xyz - [0, 0, k])) > POSITION_TOLERANCE or not (
            0 <= k < geometry.shape_zyx[0]
        ):
            raise InputError(
                "The segmentation's grid does not match the source DICOM slices; export it "
                "against the series it was made on."
            )
        out.append(k)
    if len(set(out)) != len(out):
        raise InputError("Several source DICOM files lie at the same slice position.")
    return out


def _hd_code(concept: Concept) -> hd.sr.CodedConcept:
    return hd.sr.CodedConcept(concept.value, concept.scheme, concept.meaning)


def _code_of(description: hd.seg.SegmentDescription) -> SegmentCode | None:
    """The category and type a SEG segment carries (None when either is missing)."""
    try:
        parts = [
            Concept(str(c.scheme_designator), str(c.value), str(c.meaning))
            for c in (
                description.segmented_property_category,
                description.segmented_property_type,
            )
        ]
    except (AttributeError, IndexError, InputError):
        return None
    return SegmentCode(parts[0], parts[1])


def segment_entries(
    seg: hd.seg.Segmentation,
) -> dict[int, tuple[str, tuple[int, int, int], SegmentCode | None]]:
    """``segment number -> (label, colour, code)`` of a DICOM-SEG's segments."""
    entries = {}
    for number in seg.get_segment_numbers():
        description = seg.get_segment_description(number)
        rgb: tuple[int, int, int] = (255, 0, 0)
        if "RecommendedDisplayCIELabValue" in description:
            try:  # a colour slightly outside RGB is clipped; an unreadable one is left out
                lab = hd.color.CIELabColor.from_dicom_value(
                    description.RecommendedDisplayCIELabValue
                )
                r, g, b = lab.to_rgb(clip=True)
                rgb = (int(r), int(g), int(b))
            except (ValueError, TypeError):
                pass
        entries[int(number)] = (str(description.segment_label), rgb, _code_of(description))
    return entries


def _descriptions(label_map: LabelMap) -> list[hd.seg.SegmentDescription]:
    algorithm = hd.AlgorithmIdentificationSequence(
        name="UGPCL", family=codes.cid7162.ArtificialIntelligence, version="1"
    )
    out = []
    for cls in label_map.table.classes[1:]:
        code = code_for(cls.name, cls.code)
        out.append(
            hd.seg.SegmentDescription(
                segment_number=cls.value,
                segment_label=cls.name.replace("\\", "/")[:64],  # '\\' splits DICOM values
                segmented_property_category=_hd_code(code.category),
                segmented_property_type=_hd_code(code.type),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
                algorithm_identification=algorithm,
                display_color=hd.color.CIELabColor.from_rgb(*cls.color_rgb),
            )
        )
    return out


def write_dicom_seg(
    label_map: LabelMap, source_dicom_files: Sequence[str | Path], out_path: str | Path
) -> Path:
    """Write a label map as a binary DICOM-SEG referencing its source series.

    Args:
        label_map: labels (Z, Y, X) on the source series' grid; class ``v`` becomes segment
            number ``v`` with the class's name and colour.
        source_dicom_files: the single-frame files of the source series (any order).
        out_path: the ``.dcm`` file to write.

    Returns:
        ``out_path``.

    Raises:
        InputError: unreadable sources, a grid that does not match them, a label map with no
            labelled voxel, or a write failure.
    """
    if not source_dicom_files:
        raise InputError("DICOM-SEG export needs the source DICOM files.")
    datasets = _read_sources(source_dicom_files)
    indices = _slice_indices(datasets, label_map.geometry)
    pixels = np.stack([label_map.labels_zyx[k] for k in indices]).astype(np.uint8)
    if not pixels.any():
        raise InputError("The segmentation is empty; paint some labels before exporting.")
    try:
        seg = hd.seg.Segmentation(
            source_images=datasets,
            pixel_array=pixels,
            segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
            segment_descriptions=_descriptions(label_map),
            series_instance_uid=hd.UID(),
            series_number=100,
            sop_instance_uid=hd.UID(),
            instance_number=1,
            manufacturer="ugpcl-studio",
            manufacturer_model_name="ugpcl-studio",
            software_versions="0.1.0",
            device_serial_number="0",
            series_description="UGPCL segmentation",
            specific_character_set="ISO_IR 192",  # UTF-8: class names in any script
        )
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        seg.save_as(str(out_path))
    except (ValueError, TypeError) as err:
        raise InputError(f"Cannot build the DICOM-SEG: {str(err)[:200]}") from None
    except OSError as err:
        raise InputError(f"Cannot write {out_path}: {err.strerror}.") from None
    return out_path


def read_dicom_seg(
    seg_path: str | Path, source_dicom_files: Sequence[str | Path], geometry: VolumeGeometry
) -> LabelMap:
    """Read a DICOM-SEG back onto the grid of its source series.

    Args:
        seg_path: the DICOM-SEG file.
        source_dicom_files: the source series' files.
        geometry: the source series' grid (from ``read_volume`` of its folder).

    Returns:
        Labels (Z, Y, X) with segment numbers as values and segment labels as names.

    Raises:
        InputError: not a SEG, or it references other images.
    """
    seg = read_segmentation_file(seg_path)
    datasets = _read_sources(source_dicom_files)
    indices = _slice_indices(datasets, geometry)
    uids = [str(ds.SOPInstanceUID) for ds in datasets]
    try:
        frames = seg.get_pixels_by_source_instance(uids, combine_segments=True)
    except (ValueError, KeyError) as err:
        raise InputError(
            f"{Path(seg_path).name} does not fit these source images: {err}."
        ) from None
    except Exception as err:  # highdicom/pydicom: RuntimeError, AttributeError... on a bad SEG
        raise InputError(_damaged(Path(seg_path).name, err)) from None
    labels = np.zeros(geometry.shape_zyx, dtype=np.uint8)
    for frame, k in zip(frames, indices, strict=True):
        labels[k] = frame
    return LabelMap(labels, geometry, table_of_segments(seg))


def table_of_segments(seg: hd.seg.Segmentation) -> LabelTable:
    """The label table of a DICOM-SEG: segment numbers as values, labels, colours, codes."""
    entries = segment_entries(seg)
    table = label_tables.table_from_entries({v: (n, rgb) for v, (n, rgb, _) in entries.items()})
    return LabelTable(
        tuple(
            replace(c, code=entries[c.value][2]) if c.value in entries else c for c in table.classes
        )
    )


def read_segmentation_file(seg_path: str | Path) -> hd.seg.Segmentation:
    """Open a DICOM-SEG file.

    Raises:
        InputError: not a readable DICOM-SEG.
    """
    try:
        return hd.seg.segread(str(seg_path))
    except Exception as err:  # a damaged or crafted SEG: OSError, ValueError, IndexError, and
        # sqlite3 errors from highdicom's frame table (a NaN position or spacing) among others
        raise InputError(
            f"Cannot read {Path(seg_path).name} as a DICOM-SEG: {str(err)[:160].rstrip('.')}."
        ) from None


def _damaged(name: str, err: Exception) -> str:
    return (
        f"Cannot read the frames of {name} ({str(err)[:120]}); check that it is a complete "
        "DICOM-SEG file, or export it again."
    )


@dataclass(frozen=True)
class SegFrames:
    """The frames of a DICOM-SEG with where they lie (read without its source images).

    Attributes:
        frames: uint8 (F, rows, columns); each frame's segment number where it is set, else 0.
        positions_xyz: (F, 3) ImagePositionPatient of each frame (mm).
        orientation: the six ImageOrientationPatient values (row then column direction).
        pixel_spacing: (between rows, between columns) in mm.
        table: the segments' label table.
        fractions: float32 (F, rows, columns), each frame's fraction of its segment (0..1) for
            a FRACTIONAL SEG, whose ``frames`` are set where it is at least
            ``FRACTION_THRESHOLD``; None for a BINARY SEG.
    """

    frames: np.ndarray
    positions_xyz: np.ndarray
    orientation: tuple[float, ...]
    pixel_spacing: tuple[float, float]
    table: LabelTable
    fractions: np.ndarray | None = None


def _group(frame: pydicom.Dataset, shared: pydicom.Dataset, name: str) -> pydicom.Dataset:
    """A functional group's item for one frame: its own, else the shared one (a SEG with one
    segment shares its SegmentIdentificationSequence among all frames)."""
    item: pydicom.Dataset = (frame if name in frame else shared)[name][0]
    return item


def read_dicom_seg_frames(seg_path: str | Path) -> SegFrames:
    """Read a DICOM-SEG's frames and their positions, without its source images.

    Args:
        seg_path: the DICOM-SEG file.

    Returns:
        The frames with their segment numbers, positions and the plane's geometry.

    Raises:
        InputError: not a SEG, or frames without a position.
    """
    seg = read_segmentation_file(seg_path)
    name = Path(seg_path).name
    try:
        shared = seg.SharedFunctionalGroupsSequence[0]
        orientation = tuple(
            float(v) for v in shared.PlaneOrientationSequence[0].ImageOrientationPatient
        )
        spacing = shared.PixelMeasuresSequence[0].PixelSpacing
        positions, numbers = [], []
        for group in seg.PerFrameFunctionalGroupsSequence:
            positions.append(
                [
                    float(v)
                    for v in _group(group, shared, "PlanePositionSequence").ImagePositionPatient
                ]
            )
            identification = _group(group, shared, "SegmentIdentificationSequence")
            numbers.append(int(identification.ReferencedSegmentNumber))
    except (AttributeError, IndexError, KeyError, ValueError) as err:
        raise InputError(
            f"{name} has frames without a plane position or orientation ({str(err)[:80]}); open "
            "the image series it was made on from its DICOM folder and try again."
        ) from None
    try:
        pixels = np.asarray(seg.pixel_array).reshape(-1, int(seg.Rows), int(seg.Columns))
        if pixels.shape[0] != len(numbers):
            raise ValueError(f"{pixels.shape[0]} frames of pixels for {len(numbers)} frames")
    except Exception as err:  # pydicom's decoders raise many types for bad pixel data
        raise InputError(_damaged(name, err)) from None
    bad = sorted({n for n in numbers if not 1 <= n <= label_tables.MAX_LABEL_VALUE})
    if bad:
        raise InputError(
            f"{name} has segment number(s) {bad[:5]} outside 1..{label_tables.MAX_LABEL_VALUE}; "
            "at most 255 segments are supported. Renumber its segments in the program that "
            "made it, then open it again."
        )
    fractions = _fractions(seg, pixels)
    labeled = pixels > 0 if fractions is None else fractions >= FRACTION_THRESHOLD
    frames = np.where(labeled, np.asarray(numbers, np.uint8)[:, None, None], 0).astype(np.uint8)
    return SegFrames(
        frames,
        np.asarray(positions, float).reshape(-1, 3),
        orientation,
        (float(spacing[0]), float(spacing[1])),
        table_of_segments(seg),
        fractions,
    )


def _fractions(seg: pydicom.Dataset, pixels: np.ndarray) -> np.ndarray | None:
    """A FRACTIONAL SEG's stored values as fractions 0..1 (float32), or None when BINARY."""
    if str(seg.get("SegmentationType", "BINARY")).upper() != "FRACTIONAL":
        return None
    try:
        top = float(seg.get("MaximumFractionalValue") or 255)
    except (TypeError, ValueError):
        top = 255.0  # the standard's usual value, when the file's is unreadable
    return (pixels.astype(np.float32) / np.float32(top if top > 0 else 255.0)).astype(np.float32)
