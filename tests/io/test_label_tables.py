"""Label tables: Slicer seg.nrrd headers, ITK-SNAP label files, Slicer colour tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.label_tables import (
    Segment,
    find_table_beside,
    flatten_layers,
    layer_overlaps,
    read_label_table,
    table_from_entries,
    table_path_beside,
    write_label_table,
)
from ugpcl_engine.io.seg_nrrd import read_seg_nrrd, read_seg_nrrd_segments, write_seg_nrrd
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.volume import VolumeGeometry

TABLE = table_from_entries(
    {
        1: ("right lung", (22, 197, 71)),
        2: ("left lung", (197, 25, 99)),
        3: ("ribs", (253, 232, 158)),
    }
)


def test_sample_header_has_seven_named_segments(chest_ct: SamplePaths) -> None:
    table = read_label_table(chest_ct.labels)
    assert table.num_classes == 8
    assert table.names[1] == "ribs" and table.names[6] == "left lung"
    assert table.classes[7].color_rgb == (128, 174, 128)  # "0.501961 0.682353 0.501961"


@pytest.mark.parametrize("name", ["table_labels.txt", "table.ctbl"])
def test_text_tables_round_trip(tmp_path: Path, name: str) -> None:
    path = write_label_table(tmp_path / name, TABLE)
    assert read_label_table(path) == TABLE


def test_itksnap_file_as_itksnap_writes_it(tmp_path: Path) -> None:
    path = tmp_path / "snap.txt"
    path.write_text(
        "################################################\n"
        "# ITK-SnAP Label Description File\n"
        '    0     0    0    0        0  0  0    "Clear Label"\n'
        '    1   255    0    0        1  1  1    "Liver (segment 4)"\n'
        '    3     0    0  255        1  1  0    "Kidney"\n'
    )
    table = read_label_table(path)
    assert table.names == ("Clear Label", "Liver (segment 4)", "label 2", "Kidney")
    assert table.classes[3].color_rgb == (0, 0, 255)


def test_slicer_ctbl_with_gaps_keeps_values(tmp_path: Path) -> None:
    path = tmp_path / "colors.ctbl"
    path.write_text("# Color table file\n# 3 values\n0 Background 0 0 0 0\n2 left_lung 1 2 3 255\n")
    table = read_label_table(path)
    assert table.names == ("Background", "label 1", "left lung")
    assert table.classes[2].color_rgb == (1, 2, 3)


def test_broken_tables_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ctbl"
    bad.write_text("0 Background 0 0\n")
    with pytest.raises(InputError, match=r"line 1 is not a colour-table line"):
        read_label_table(bad)
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    with pytest.raises(InputError, match=r"holds no label entries"):
        read_label_table(empty)
    with pytest.raises(InputError, match=r"outside 0..255"):
        table_from_entries({300: ("x", (0, 0, 0))})
    with pytest.raises(InputError, match=r"not found"):
        read_label_table(tmp_path / "missing.txt")


def test_seg_nrrd_segments_round_trip_through_slicerio(tmp_path: Path) -> None:
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[1, 1:3, 2:4] = 2
    grid = VolumeGeometry((3, 4, 5), (2.0, 0.5, 0.75), (1.0, -2.0, 3.0))
    path = tmp_path / "t.seg.nrrd"
    write_seg_nrrd(path, labels, grid, TABLE)
    segments = read_seg_nrrd_segments(path)
    assert [s.name for s in segments] == ["right lung", "left lung", "ribs"]
    assert [s.label_value for s in segments] == [1, 2, 3]
    assert segments[1].color_rgb == (197, 25, 99)
    assert segments[0].code is None  # the name's default code is written, read back as default
    array, geometry, _ = read_seg_nrrd(path)
    assert np.array_equal(array, labels) and geometry.matches(grid)
    import slicerio

    back = slicerio.read_segmentation(str(path), skip_voxels=True)
    assert back["segments"][1]["extent"] == [2, 3, 1, 2, 1, 1]
    assert back["segments"][0]["extent"] == [0, -1, 0, -1, 0, -1]
    assert back["segments"][0]["terminology"]["type"] == ["SCT", "39607008", "Lung"]


def test_flatten_layers_counts_overlap() -> None:
    layers = np.zeros((1, 2, 3, 2), dtype=np.uint8)
    layers[0, 0, :, 0] = 1  # segment a: first row
    layers[0, :, 0, 1] = 1  # segment b: first column, overlaps a at (0, 0)
    segments = [Segment("a", (1, 1, 1), 1, 0), Segment("b", (2, 2, 2), 1, 1)]
    labels, table, overlap = flatten_layers(layers, segments)
    assert labels.tolist() == [[[2, 1, 1], [2, 0, 0]]]
    assert table.names == ("background", "a", "b") and overlap == 1


def test_table_beside_names(tmp_path: Path) -> None:
    assert table_path_beside(tmp_path / "seg.nii.gz").name == "seg_labels.txt"
    assert table_path_beside(tmp_path / "seg.seg.nrrd", "ctbl").name == "seg.ctbl"
    assert find_table_beside(tmp_path / "seg.nii.gz") is None
    write_label_table(tmp_path / "seg.ctbl", TABLE)
    assert find_table_beside(tmp_path / "seg.nii.gz") == tmp_path / "seg.ctbl"


def test_layer_overlaps_name_the_kept_segment() -> None:
    layers = np.zeros((1, 2, 3, 2), dtype=np.uint8)
    layers[0, 0, :, 0] = 1
    layers[0, :, 0, 1] = 1
    segments = [Segment("a", (1, 1, 1), 1, 0), Segment("b", (2, 2, 2), 1, 1)]
    labels, _, _ = flatten_layers(layers, segments)
    assert layer_overlaps(layers, segments, labels) == [(0, 1, 1)]
