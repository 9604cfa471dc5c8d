"""Opening a segmentation for an open volume: every format, grid checks, overlaps, DICOM codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.dicom_seg import read_dicom_seg, write_dicom_seg
from ugpcl_engine.io.label_tables import write_label_table
from ugpcl_engine.io.project_data import Project, ProjectVolume
from ugpcl_engine.io.project_file import load_project, save_project
from ugpcl_engine.io.segmentation_open import grid_difference, open_segmentation
from ugpcl_engine.io.volume_files import read_volume, write_array, write_label_map
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.segment_codes import GENERIC, Concept, SegmentCode, default_code
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry

DicomFactory = Callable[..., list[Path]]
GRID = VolumeGeometry((4, 5, 6), (2.0, 0.8, 0.6), (1.0, 2.0, -3.0))
NAMED = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "liver", (200, 30, 30)),
        LabelClass(2, "tumour", (30, 200, 30)),
    )
)


def _labels() -> np.ndarray:
    labels = np.zeros(GRID.shape_zyx, np.uint8)
    labels[1, 1:3, 2:5] = 1
    labels[2, 2:4, 1:3] = 2
    return labels


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha", ".mhd"])
def test_plain_formats_keep_and_extend_the_current_table(tmp_path: Path, suffix: str) -> None:
    labels = _labels()
    labels[3, 0, 0] = 4  # beyond the current 3-class table
    path = tmp_path / f"seg{suffix}"
    write_array(path, labels, GRID)
    opened = open_segmentation(path, GRID, NAMED)
    assert np.array_equal(opened.labels.labels_zyx, labels)
    assert opened.labels.table.names == ("background", "liver", "tumour", "label 3", "label 4")
    assert any("added to the label table" in n for n in opened.notes)


def test_table_beside_the_file_names_the_classes(tmp_path: Path) -> None:
    path = tmp_path / "seg.nii.gz"
    write_array(path, _labels(), GRID)
    write_label_table(tmp_path / "seg_labels.txt", NAMED)
    opened = open_segmentation(path, GRID, LabelTable.default(2))
    assert opened.labels.table.names == NAMED.names


def test_seg_nrrd_brings_names_colours_and_codes(tmp_path: Path) -> None:
    code = SegmentCode(Concept("SCT", "91723000", "Anatomical Structure"), Concept("X", "1", "Y"))
    table = LabelTable((*NAMED.classes[:2], replace(NAMED.classes[2], code=code)))
    path = tmp_path / "seg.seg.nrrd"
    write_label_map(path, LabelMap(_labels(), GRID, table))
    opened = open_segmentation(path, GRID, LabelTable.default(2))
    assert opened.labels.table == table and opened.notes == ()
    assert np.array_equal(opened.labels.labels_zyx, _labels())


def test_overlapping_seg_nrrd_opens_as_separate_classes_with_a_note(
    chest_ct: SamplePaths,
) -> None:
    overlapping = chest_ct.labels.with_name("SegmentationOverlapping.seg.nrrd")
    volume = read_volume(chest_ct.image)
    opened = open_segmentation(overlapping, volume.geometry, LabelTable.default(2))
    table = opened.labels.table
    assert table.num_classes == 9 and table.names[8] == "overlapping sphere"
    assert "each segment became a class of its own" in opened.notes[0]
    pairs = [
        n for n in opened.notes[1:] if "'overlapping sphere' (later in the file) was kept" in n
    ]
    assert pairs and all("overlap in" in n and "voxels" in n for n in pairs)
    assert int(np.count_nonzero(opened.labels.labels_zyx == 8)) > 0


@pytest.mark.parametrize(
    ("other", "words"),
    [
        (VolumeGeometry((4, 5, 7), (2.0, 0.8, 0.6), (1.0, 2.0, -3.0)), "size 7 × 5 × 4"),
        (VolumeGeometry((4, 5, 6), (3.0, 0.8, 0.6), (1.0, 2.0, -3.0)), "spacing 0.6 × 0.8 × 3"),
        (VolumeGeometry((4, 5, 6), (2.0, 0.8, 0.6), (1.0, 2.5, -3.0)), "origin (1 × 2.5 × -3)"),
        (
            VolumeGeometry(
                (4, 5, 6), (2.0, 0.8, 0.6), (1.0, 2.0, -3.0), (0, 1, 0, 1, 0, 0, 0, 0, 1)
            ),
            "direction",
        ),
    ],
)
def test_other_grid_is_refused_naming_the_property(
    tmp_path: Path, other: VolumeGeometry, words: str
) -> None:
    path = tmp_path / "seg.nii.gz"
    write_array(path, np.zeros(other.shape_zyx, np.uint8), other)
    with pytest.raises(InputError, match="does not lie on the grid") as err:
        open_segmentation(path, GRID, NAMED)
    assert words in str(err.value) and "Nothing was changed" in str(err.value)
    assert "resample it onto this image" in str(err.value)


def test_grid_within_tolerance_is_accepted() -> None:
    near = replace(GRID, origin_xyz=(1.001, 2.0, -3.0), spacing_zyx=(2.0001, 0.8, 0.6))
    assert grid_difference(near, GRID) is None


def test_dicom_seg_opens_with_or_without_its_sources(
    tmp_path: Path, make_dicom_series: DicomFactory, oblique_geometry: VolumeGeometry
) -> None:
    files = make_dicom_series(
        tmp_path / "src", np.zeros(oblique_geometry.shape_zyx), oblique_geometry
    )
    source = read_volume(tmp_path / "src")
    labels = np.zeros(source.geometry.shape_zyx, np.uint8)
    labels[1, 2:4, 3:6] = 1
    labels[3, 0:2, 0:2] = 2
    out = write_dicom_seg(LabelMap(labels, source.geometry, NAMED), files, tmp_path / "seg.dcm")
    for sources in (files, None):
        opened = open_segmentation(
            out, source.geometry, LabelTable.default(2), source_dicom_files=sources
        )
        assert np.array_equal(opened.labels.labels_zyx, labels)
        assert opened.labels.table.names == NAMED.names
    other = replace(source.geometry, origin_xyz=(0.0, 0.0, 0.0))
    with pytest.raises(InputError, match="does not lie on the grid"):
        open_segmentation(out, other, NAMED)


def test_dicom_seg_codes_come_from_the_table_and_round_trip(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    import highdicom as hd

    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros((3, 4, 4)), grid)
    own = SegmentCode(
        Concept("SCT", "49755003", "Morphologically Abnormal Structure"),
        Concept("SCT", "4147007", "Mass"),
    )
    table = LabelTable(
        (
            LabelClass(0, "background", (0, 0, 0)),
            LabelClass(1, "Left Kidney", (1, 2, 3)),
            LabelClass(2, "my thing", (4, 5, 6)),
            LabelClass(3, "odd", (7, 8, 9), own),
        )
    )
    labels = np.zeros((3, 4, 4), np.uint8)
    labels[0, 0, :3] = [1, 2, 3]
    out = write_dicom_seg(LabelMap(labels, grid, table), files, tmp_path / "seg.dcm")
    seg = hd.seg.segread(out)
    types = [seg.get_segment_description(n).segmented_property_type for n in (1, 2, 3)]
    assert [(t.scheme_designator, t.value) for t in types] == [
        ("SCT", "64033007"),  # kidney
        ("SCT", "85756007"),  # nothing matched: Tissue
        ("SCT", "4147007"),  # the class's own code
    ]
    back = read_dicom_seg(out, files, grid).table
    assert back.classes[1].code == default_code("kidney")
    assert back.classes[2].code == GENERIC and back.classes[3].code == own


def test_codes_survive_the_project_and_old_tables_still_open(tmp_path: Path) -> None:
    own = SegmentCode(
        Concept("SCT", "91723000", "Anatomical Structure"), Concept("SCT", "10200004", "Liver")
    )
    table = LabelTable((NAMED.classes[0], replace(NAMED.classes[1], code=own), NAMED.classes[2]))
    volume = Volume(np.zeros(GRID.shape_zyx, np.int16), GRID)
    marks = {a: np.zeros(GRID.shape_zyx[i], bool) for i, a in enumerate("zyx")}
    path = tmp_path / "p.ugpcl"
    save_project(path, Project([ProjectVolume(volume, LabelMap(_labels(), GRID, table), marks)]))
    assert load_project(path).volumes[0].labels.table == table
    save_project(path, Project([ProjectVolume(volume, LabelMap(_labels(), GRID, NAMED), marks)]))
    assert load_project(path).volumes[0].labels.table == NAMED  # no codes: no codes attribute


def test_default_codes_by_name() -> None:
    assert default_code("Right Lung").type.value == "39607008"
    assert default_code("liver_tumor").type.meaning == "Neoplasm"
    assert default_code("thoracic vertebral column").type.meaning == "Thoracic spine"
    assert default_code("something else") == GENERIC


def test_journal_table_records_keep_codes() -> None:
    from ugpcl_engine.io.journal_format import FILE_MAGIC, decode, encode_table, scan

    own = SegmentCode(Concept("SCT", "4147007", "Mass"), Concept("SCT", "4147007", "Mass"))
    table = LabelTable((*NAMED.classes[:2], replace(NAMED.classes[2], code=own)))
    payloads, damaged, legacy = scan(FILE_MAGIC + encode_table(3, 0, table))
    entry = decode(payloads[0], legacy, 0)
    assert damaged == 0 and entry.table == table  # type: ignore[union-attr]


def _write_two_segment_seg(
    path: Path, files: list[Path], grid: VolumeGeometry, pixels: np.ndarray, kind: str, **extra: Any
) -> None:
    """Write a DICOM-SEG of ``NAMED``'s two segments ('liver', 'tumour') over ``files``
    with highdicom (``kind``: ``BINARY`` or ``FRACTIONAL``)."""
    import highdicom as hd
    import pydicom

    from ugpcl_engine.io.dicom_seg import _descriptions

    seg = hd.seg.Segmentation(
        source_images=[pydicom.dcmread(f) for f in files],
        pixel_array=pixels,
        segmentation_type=hd.seg.SegmentationTypeValues[kind],
        segment_descriptions=_descriptions(
            LabelMap(np.zeros(grid.shape_zyx, np.uint8), grid, NAMED)
        ),
        series_instance_uid=hd.UID(),
        series_number=1,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="test",
        manufacturer_model_name="test",
        software_versions="0",
        device_serial_number="0",
        **extra,
    )
    seg.save_as(str(path))


def test_overlapping_dicom_seg_segments_become_a_note(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros((3, 4, 4)), grid)
    masks = np.zeros((3, 4, 4, 2), bool)
    masks[1, 0:2, 0:2, 0] = True  # 'liver': 4 voxels
    masks[1, 1:3, 1:3, 1] = True  # 'tumour': 4 voxels, 1 over the liver
    _write_two_segment_seg(tmp_path / "o.dcm", files, grid, masks, "BINARY")
    opened = open_segmentation(tmp_path / "o.dcm", grid, LabelTable.default(2))
    assert opened.notes == (
        "Segments 'liver' and 'tumour' overlap in 1 voxels; 'tumour' (the later segment) was "
        "kept there.",
    )
    assert int((opened.labels.labels_zyx == 1).sum()) == 3
    assert int((opened.labels.labels_zyx == 2).sum()) == 4


def test_fractional_dicom_seg_is_thresholded_at_half_with_a_note(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    """A FRACTIONAL SEG (probabilities) used to be labelled wherever its value was above 0, so
    a low-probability fringe swelled the segment. A voxel belongs to a segment where its
    fraction is at least 50 %; where two reach it, the larger fraction wins (the later segment
    on a tie, as for overlapping BINARY segments)."""
    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros((3, 4, 4)), grid)
    fractions = np.zeros((3, 4, 4, 2), np.float32)
    liver, tumour = fractions[1, ..., 0], fractions[1, ..., 1]
    liver[0, 0], liver[0, 1], liver[0, 2] = 0.9, 0.5, 0.2  # in, in (exactly half), fringe: out
    liver[1, 1], liver[1, 2] = 0.8, 0.6
    tumour[1, 1], tumour[1, 2] = 0.7, 0.6  # both pass: the liver's 0.8 wins; a tie: tumour
    tumour[2, 2], tumour[2, 3] = 0.3, 1.0
    _write_two_segment_seg(
        tmp_path / "f.dcm", files, grid, fractions, "FRACTIONAL", max_fractional_value=100
    )
    opened = open_segmentation(tmp_path / "f.dcm", grid, LabelTable.default(2))
    expected = np.zeros((3, 4, 4), np.uint8)
    expected[1, 0, 0:2] = 1
    expected[1, 1, 1] = 1
    expected[1, 1, 2] = 2
    expected[1, 2, 3] = 2
    assert np.array_equal(opened.labels.labels_zyx, expected)
    assert opened.notes[0].startswith("f.dcm is a fractional DICOM-SEG")
    assert "at least 50 %" in opened.notes[0]
    assert opened.notes[1:] == (
        "Segments 'liver' and 'tumour' both reach 50 % in 1 voxels; 'tumour' (the larger "
        "fraction, or the later segment on a tie) was kept there.",
        "Segments 'tumour' and 'liver' both reach 50 % in 1 voxels; 'liver' (the larger "
        "fraction, or the later segment on a tie) was kept there.",
    )


def test_cropped_seg_nrrd_is_put_back_at_its_place(tmp_path: Path) -> None:
    from ugpcl_engine.io.seg_nrrd import write_seg_nrrd

    block = np.zeros((2, 3, 3), np.uint8)
    block[1, 1, 1:] = 2
    corner = (1.0 + 2 * 0.6, 2.0 + 1 * 0.8, -3.0 + 1 * 2.0)  # voxel (x 2, y 1, z 1) of GRID
    write_seg_nrrd(
        tmp_path / "c.seg.nrrd", block, VolumeGeometry((2, 3, 3), (2.0, 0.8, 0.6), corner), NAMED
    )
    opened = open_segmentation(tmp_path / "c.seg.nrrd", GRID, LabelTable.default(2))
    expected = np.zeros(GRID.shape_zyx, np.uint8)
    expected[1:3, 1:4, 2:5] = block
    assert np.array_equal(opened.labels.labels_zyx, expected)
    assert "cropped" in opened.notes[0]
    half = (corner[0] + 0.3, corner[1], corner[2])  # half a voxel off: not a block of the grid
    write_seg_nrrd(
        tmp_path / "h.seg.nrrd", block, VolumeGeometry((2, 3, 3), (2.0, 0.8, 0.6), half), NAMED
    )
    with pytest.raises(InputError, match="size 3 × 3 × 2 voxels"):
        open_segmentation(tmp_path / "h.seg.nrrd", GRID, NAMED)


def _one_segment_seg(tmp_path: Path, make_dicom_series: DicomFactory) -> tuple[Path, Volume]:
    """A DICOM-SEG of one segment (its SegmentIdentificationSequence is shared by the frames)."""
    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros(grid.shape_zyx), grid)
    source = read_volume(tmp_path / "src")
    labels = np.zeros(grid.shape_zyx, np.uint8)
    labels[1, 1:3, 2] = 1
    table = LabelTable(NAMED.classes[:2])
    out = write_dicom_seg(LabelMap(labels, source.geometry, table), files, tmp_path / "one.dcm")
    return out, source


def test_one_segment_dicom_seg_opens_without_its_sources(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    out, source = _one_segment_seg(tmp_path, make_dicom_series)
    opened = open_segmentation(out, source.geometry, LabelTable.default(2))
    assert int((opened.labels.labels_zyx == 1).sum()) == 2
    assert opened.labels.labels_zyx[1, 1, 2] == 1 and opened.labels.table.names[1] == "liver"


def test_dicom_seg_segment_number_beyond_255_is_refused(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    import pydicom

    out, source = _one_segment_seg(tmp_path, make_dicom_series)
    ds = pydicom.dcmread(out)
    ds.SegmentSequence[0].SegmentNumber = 300
    ds.SharedFunctionalGroupsSequence[0].SegmentIdentificationSequence[
        0
    ].ReferencedSegmentNumber = 300
    ds.save_as(tmp_path / "crafted.dcm")
    with pytest.raises(InputError, match=r"segment number\(s\) \[300\] outside 1..255"):
        open_segmentation(tmp_path / "crafted.dcm", source.geometry, LabelTable.default(2))


@pytest.mark.parametrize(
    ("value", "message"), [(256, "label value 256"), (-1, "negative values"), (1.5, "non-integer")]
)
def test_seg_nrrd_values_that_are_not_labels_are_refused(
    tmp_path: Path, value: float, message: str
) -> None:
    import slicerio

    from ugpcl_engine.io.seg_nrrd import _ijk_to_lps

    voxels = np.zeros(GRID.shape_zyx, np.float32 if value % 1 else np.int16)
    voxels[1, 1, 1], voxels[2, 2, 2] = value, 1  # a crafted file: 256 would wrap to 0 as uint8
    segment = {"id": "Segment_1", "name": "a", "color": [1, 0, 0], "labelValue": 1, "layer": 0}
    slicerio.write_segmentation(
        str(tmp_path / "v.seg.nrrd"),
        {"voxels": voxels.transpose(2, 1, 0), "ijkToLPS": _ijk_to_lps(GRID), "segments": [segment]},
    )
    with pytest.raises(InputError, match=message):
        open_segmentation(tmp_path / "v.seg.nrrd", GRID, LabelTable.default(2))


def _craft_colour_two_values(ds: Any) -> None:
    ds.SegmentSequence[0].RecommendedDisplayCIELabValue = [1, 2]


def _craft_colour_out_of_gamut(ds: Any) -> None:
    ds.SegmentSequence[0].RecommendedDisplayCIELabValue = [65535, 65535, 65535]


def _craft_nan_position(ds: Any) -> None:
    plane = ds.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
    plane.ImagePositionPatient = ["nan", "0", "0"]


def _craft_no_pixel_data(ds: Any) -> None:
    del ds.PixelData


def _craft_five_orientation_values(ds: Any) -> None:
    plane = ds.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]
    plane.ImageOrientationPatient = [1, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("craft", "refused"),
    [
        (_craft_colour_two_values, None),  # an unreadable colour is left out, the file opens
        (_craft_colour_out_of_gamut, None),  # clipped into RGB
        (_craft_nan_position, "Cannot read crafted.dcm as a DICOM-SEG"),
        (_craft_no_pixel_data, "Cannot read the frames of crafted.dcm"),
        (_craft_five_orientation_values, "Cannot read crafted.dcm as a DICOM-SEG"),
    ],
)
def test_crafted_dicom_seg_opens_or_is_refused_with_a_message(
    tmp_path: Path,
    make_dicom_series: DicomFactory,
    craft: Callable[[Any], None],
    refused: str | None,
) -> None:
    import warnings

    import pydicom

    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros(grid.shape_zyx), grid)
    source = read_volume(tmp_path / "src")
    labels = np.zeros(grid.shape_zyx, np.uint8)
    labels[1, 1, 1], labels[2, 2, 2] = 1, 2
    out = write_dicom_seg(LabelMap(labels, source.geometry, NAMED), files, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(out)
    with warnings.catch_warnings():  # pydicom warns about the invalid values written
        warnings.simplefilter("ignore")
        craft(ds)
        ds.save_as(tmp_path / "crafted.dcm")
    for sources in (None, files):
        if refused is None:
            opened = open_segmentation(
                tmp_path / "crafted.dcm", source.geometry, NAMED, source_dicom_files=sources
            )
            assert np.array_equal(opened.labels.labels_zyx, labels)
            assert opened.labels.table.names == NAMED.names
        else:
            with pytest.raises(InputError, match=refused):
                open_segmentation(
                    tmp_path / "crafted.dcm", source.geometry, NAMED, source_dicom_files=sources
                )


def test_dicom_seg_keeps_class_names_in_any_script(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros(grid.shape_zyx), grid)
    source = read_volume(tmp_path / "src")
    labels = np.zeros(grid.shape_zyx, np.uint8)
    labels[1, 1, 1], labels[2, 2, 2] = 1, 2
    names = ("background", "Lunge β", "肝臓")  # not Latin-1: written as '?' before
    table = LabelTable(tuple(replace(c, name=n) for c, n in zip(NAMED.classes, names, strict=True)))
    out = write_dicom_seg(LabelMap(labels, source.geometry, table), files, tmp_path / "seg.dcm")
    for sources in (None, files):
        opened = open_segmentation(out, source.geometry, NAMED, source_dicom_files=sources)
        assert opened.labels.table.names == names


def test_seg_nrrd_keeps_class_names_in_any_script(tmp_path: Path) -> None:
    names = ("background", "Läsion", "肝臓 & &#x41;")  # pynrrd writes ASCII only
    table = LabelTable(tuple(replace(c, name=n) for c, n in zip(NAMED.classes, names, strict=True)))
    path = tmp_path / "names.seg.nrrd"
    write_label_map(path, LabelMap(_labels(), GRID, table))
    assert "Segment0_Name:=Läsion\n".encode() in path.read_bytes()  # UTF-8, as Slicer writes
    opened = open_segmentation(path, GRID, LabelTable.default(2))
    assert opened.labels.table.names == names
    assert np.array_equal(opened.labels.labels_zyx, _labels())


def test_dicom_seg_class_name_with_a_backslash_stays_one_name(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros(grid.shape_zyx), grid)
    source = read_volume(tmp_path / "src")
    labels = np.zeros(grid.shape_zyx, np.uint8)
    labels[1, 1, 1] = 1
    table = LabelTable((NAMED.classes[0], replace(NAMED.classes[1], name="liver\\left")))
    out = write_dicom_seg(LabelMap(labels, source.geometry, table), files, tmp_path / "seg.dcm")
    opened = open_segmentation(out, source.geometry, NAMED)
    assert opened.labels.table.names[1] == "liver/left"  # was "['liver', 'left']"


def test_seg_nrrd_declaring_more_than_memory_is_refused_before_reading(tmp_path: Path) -> None:
    import gzip

    header = (
        b"NRRD0004\ntype: uint8\ndimension: 3\nspace: left-posterior-superior\n"
        b"sizes: 100000 100000 100000\nspace directions: (1,0,0) (0,1,0) (0,0,1)\n"
        b"kinds: domain domain domain\nencoding: gzip\nspace origin: (0,0,0)\n"
        b"Segment0_ID:=Segment_1\nSegment0_Name:=a\nSegment0_LabelValue:=1\n\n"
    )
    (tmp_path / "bomb.seg.nrrd").write_bytes(header + gzip.compress(bytes(100)))
    with pytest.raises(InputError, match=r"declares 100000 × 100000 × 100000 voxels"):
        open_segmentation(tmp_path / "bomb.seg.nrrd", GRID, NAMED)


@pytest.mark.parametrize("where", [(0, 0), (1, 3)])  # a spacing, an origin
def test_seg_nrrd_with_a_nan_grid_is_refused_as_damaged(
    tmp_path: Path, where: tuple[int, int]
) -> None:
    import slicerio

    from ugpcl_engine.io.seg_nrrd import _ijk_to_lps

    matrix = _ijk_to_lps(GRID)
    matrix[where] = np.nan
    voxels = np.zeros(GRID.shape_zyx[::-1], np.uint8)
    segment = {"id": "Segment_1", "name": "a", "color": [1, 0, 0], "labelValue": 1, "layer": 0}
    path = tmp_path / "nan.seg.nrrd"
    slicerio.write_segmentation(
        str(path), {"voxels": voxels, "ijkToLPS": matrix, "segments": [segment]}
    )
    with pytest.raises(InputError, match="not a number"):  # not "resample it onto the image"
        open_segmentation(path, GRID, NAMED)
