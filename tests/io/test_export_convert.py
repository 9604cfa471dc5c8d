"""Segmentation export with tables beside, and ``ugpcl-studio convert`` between all formats."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ugpcl_engine.cli import main
from ugpcl_engine.errors import InputError
from ugpcl_engine.io.label_tables import read_label_table, table_from_entries
from ugpcl_engine.io.segmentation_export import export_segmentation
from ugpcl_engine.io.volume_files import read_label_map, read_volume, write_array
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.volume import LabelMap, VolumeGeometry

DicomFactory = Callable[..., list[Path]]
TABLE = table_from_entries({1: ("liver", (200, 30, 30)), 2: ("right kidney", (30, 200, 30))})


@pytest.fixture
def label_map(oblique_geometry: VolumeGeometry) -> LabelMap:
    labels = np.zeros(oblique_geometry.shape_zyx, np.uint8)
    labels[1:3, 2:4, 1:5] = 1
    labels[4, 5, 6] = 2
    return LabelMap(labels, oblique_geometry, TABLE)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd", ".seg.nrrd", ".mha"])
@pytest.mark.parametrize("table_format", ["itksnap", "ctbl"])
def test_export_writes_labels_and_table_on_source_grid(
    tmp_path: Path, label_map: LabelMap, suffix: str, table_format: str
) -> None:
    written = export_segmentation(
        label_map,
        tmp_path / f"seg{suffix}",
        source_geometry=label_map.geometry,
        table_format=table_format,
    )
    assert written[1].name == ("seg_labels.txt" if table_format == "itksnap" else "seg.ctbl")
    assert read_label_table(written[1]) == TABLE
    back = read_label_map(written[0], geometry=label_map.geometry)  # same grid, or this raises
    assert np.array_equal(back.labels_zyx, label_map.labels_zyx)
    assert back.table == TABLE


def test_export_refuses_labels_off_the_source_grid(tmp_path: Path, label_map: LabelMap) -> None:
    other = VolumeGeometry(label_map.geometry.shape_zyx, (1.0, 1.0, 1.0))
    with pytest.raises(InputError, match=r"not on the source image's grid"):
        export_segmentation(label_map, tmp_path / "seg.nii.gz", source_geometry=other)
    with pytest.raises(InputError, match=r"needs the source DICOM series"):
        export_segmentation(label_map, tmp_path / "seg.dcm")
    with pytest.raises(InputError, match=r"Cannot export to seg.png"):
        export_segmentation(label_map, tmp_path / "seg.png")


def test_convert_image_through_every_format(
    tmp_path: Path,
    oblique_geometry: VolumeGeometry,
    ramp_zyx: np.ndarray,
    capsys: pytest.CaptureFixture[str],
) -> None:
    current = tmp_path / "start.nrrd"
    write_array(current, ramp_zyx, oblique_geometry)
    for name in ("a.nii.gz", "b.mha", "c.nii", "dicom_out", "d.mhd", "e.nrrd"):
        assert main(["convert", str(current), str(tmp_path / name)]) == 0
        current = tmp_path / name
    assert "wrote image" in capsys.readouterr().out
    final = read_volume(current)
    assert np.array_equal(final.image_zyx, ramp_zyx)
    assert final.geometry.matches(oblique_geometry, tolerance=1e-5)


def test_convert_labels_keeps_names_and_colours(tmp_path: Path, chest_ct: SamplePaths) -> None:
    assert main(["convert", str(chest_ct.labels), str(tmp_path / "seg.nii.gz"), "--labels"]) == 0
    assert (tmp_path / "seg_labels.txt").is_file()
    assert (
        main(["convert", str(tmp_path / "seg.nii.gz"), str(tmp_path / "back.seg.nrrd"), "--labels"])
        == 0
    )
    original = read_label_map(chest_ct.labels)
    back = read_label_map(tmp_path / "back.seg.nrrd")
    # names and colours survive; the DICOM codes do not pass through NIfTI + a text table
    assert [(c.name, c.color_rgb) for c in back.table.classes] == [
        (c.name, c.color_rgb) for c in original.table.classes
    ]
    assert np.array_equal(back.labels_zyx, original.labels_zyx)
    assert back.geometry.matches(original.geometry)


def test_convert_overlapping_needs_flatten(
    tmp_path: Path, chest_ct: SamplePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "flat.nrrd"
    assert main(["convert", str(chest_ct.overlapping), str(out), "--labels"]) == 2
    assert "overlapping layers" in capsys.readouterr().err
    assert main(["convert", str(chest_ct.overlapping), str(out), "--labels", "--flatten"]) == 0
    assert read_label_map(out).table.num_classes == 9


def test_convert_dicom_folder_and_dicom_seg(
    tmp_path: Path, make_dicom_series: DicomFactory, label_map: LabelMap, ramp_zyx: np.ndarray
) -> None:
    files = make_dicom_series(tmp_path / "src", ramp_zyx, label_map.geometry)
    assert main(["convert", str(tmp_path / "src"), str(tmp_path / "ct.nii.gz")]) == 0
    image = read_volume(tmp_path / "ct.nii.gz")
    assert np.array_equal(image.image_zyx, ramp_zyx)
    labels_on_dicom = LabelMap(label_map.labels_zyx, image.geometry, TABLE)
    export_segmentation(labels_on_dicom, tmp_path / "seg.nii.gz")
    out = tmp_path / "seg.dcm"
    assert main(["convert", str(tmp_path / "seg.nii.gz"), str(out), "--labels"]) == 2
    args = [
        "convert",
        str(tmp_path / "seg.nii.gz"),
        str(out),
        "--labels",
        "--reference",
        str(tmp_path / "src"),
    ]
    assert main(args) == 0
    seg = pydicom.dcmread(out)
    assert seg.FrameOfReferenceUID == pydicom.dcmread(files[0]).FrameOfReferenceUID
    assert [s.SegmentLabel for s in seg.SegmentSequence] == ["liver", "right kidney"]


def test_convert_4d_with_time_point(tmp_path: Path) -> None:
    import SimpleITK as sitk

    array = np.arange(2 * 2 * 3 * 4, dtype=np.int16).reshape(2, 2, 3, 4)
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=False), str(tmp_path / "t.nii.gz"))
    assert main(["convert", str(tmp_path / "t.nii.gz"), str(tmp_path / "t1.mha")]) == 2
    assert (
        main(["convert", str(tmp_path / "t.nii.gz"), str(tmp_path / "t1.mha"), "--time-point", "1"])
        == 0
    )
    assert np.array_equal(read_volume(tmp_path / "t1.mha").image_zyx, array[1])
