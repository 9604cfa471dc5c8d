"""DICOM: series listing, position sorting, gaps, single files, DICOM-SEG round trip."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.dicom_seg import read_dicom_seg, write_dicom_seg
from ugpcl_engine.io.dicom_series import list_dicom_series
from ugpcl_engine.io.volume_files import read_volume
from ugpcl_engine.volume import LabelMap, LabelTable, VolumeGeometry

DicomFactory = Callable[..., list[Path]]


def _scramble_names(files: list[Path]) -> None:
    """Rename files so that name order is the reverse of slice order."""
    for i, f in enumerate(files):
        f.rename(f.with_name(f"img_{len(files) - i:03d}.dcm"))


def test_series_is_sorted_by_position_and_keeps_geometry(
    tmp_path: Path,
    make_dicom_series: DicomFactory,
    oblique_geometry: VolumeGeometry,
    ramp_zyx: np.ndarray,
) -> None:
    files = make_dicom_series(tmp_path / "s", ramp_zyx, oblique_geometry, description="ramp")
    _scramble_names(files)
    (series,) = list_dicom_series(tmp_path / "s")
    assert series.num_files == 5 and series.description == "ramp" and series.modality == "CT"
    assert [f.name for f in series.files] == [f"img_{i:03d}.dcm" for i in range(5, 0, -1)]
    volume = read_volume(tmp_path / "s")
    assert np.array_equal(volume.image_zyx, ramp_zyx)
    assert volume.modality == "CT"
    g = volume.geometry
    assert g.shape_zyx == oblique_geometry.shape_zyx
    assert np.allclose(g.spacing_zyx, oblique_geometry.spacing_zyx, atol=1e-6)
    assert np.allclose(g.origin_xyz, oblique_geometry.origin_xyz, atol=1e-6)
    assert np.allclose(g.direction_xyz, oblique_geometry.direction_xyz, atol=1e-6)


def test_several_series_pick_largest_or_by_uid(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    big = VolumeGeometry((4, 3, 3), (2.0, 1.0, 1.0))
    small = VolumeGeometry((2, 3, 3), (2.0, 1.0, 1.0))
    make_dicom_series(tmp_path / "a", np.full((4, 3, 3), 1), big, description="big")
    make_dicom_series(tmp_path / "b", np.full((2, 3, 3), 2), small, description="small")
    for f in (tmp_path / "b").iterdir():
        shutil.move(f, tmp_path / "a" / f"b_{f.name}")
    series = list_dicom_series(tmp_path / "a")
    assert [s.description for s in series] == ["big", "small"]
    assert read_volume(tmp_path / "a").image_zyx.shape == (4, 3, 3)
    assert np.all(read_volume(tmp_path / "a", series_uid=series[1].uid).image_zyx == 2)
    with pytest.raises(InputError, match=r"No DICOM series with UID 1\.2\.3.*big.*small"):
        read_volume(tmp_path / "a", series_uid="1.2.3")


def test_two_series_of_equal_size_ask_for_a_uid(
    tmp_path: Path, make_dicom_series: DicomFactory
) -> None:
    grid = VolumeGeometry((2, 3, 3), (2.0, 1.0, 1.0))
    make_dicom_series(tmp_path / "x", np.zeros((2, 3, 3)), grid, description="T1")
    make_dicom_series(tmp_path / "y", np.zeros((2, 3, 3)), grid, description="T2")
    for f in (tmp_path / "y").iterdir():
        shutil.move(f, tmp_path / "x" / f"y_{f.name}")
    with pytest.raises(
        InputError, match=r"2 DICOM series of the same size; choose one by its UID.*(T1.*T2|T2.*T1)"
    ):
        read_volume(tmp_path / "x")


def test_missing_slice_is_reported(tmp_path: Path, make_dicom_series: DicomFactory) -> None:
    files = make_dicom_series(
        tmp_path / "s", np.zeros((6, 3, 3)), VolumeGeometry((6, 3, 3), (2.0, 1.0, 1.0))
    )
    files[3].unlink()
    with pytest.raises(
        InputError, match=r"missing slices.*gap of 4\.00 mm.*spacing is 2\.00 mm.*1 slice"
    ):
        read_volume(tmp_path / "s")


def test_duplicate_slice_is_reported(tmp_path: Path, make_dicom_series: DicomFactory) -> None:
    files = make_dicom_series(tmp_path / "s", np.zeros((3, 3, 3)), VolumeGeometry((3, 3, 3)))
    ds = pydicom.dcmread(files[2])
    ds.ImagePositionPatient = pydicom.dcmread(files[1]).ImagePositionPatient
    ds.save_as(files[2])
    with pytest.raises(InputError, match=r"same position"):
        read_volume(tmp_path / "s")


def test_single_dicom_file_reads_as_one_slice() -> None:
    from pydicom.data import get_testdata_file

    path = get_testdata_file("CT_small.dcm")
    assert path is not None
    volume = read_volume(path)
    assert volume.image_zyx.shape == (1, 128, 128)
    assert volume.modality == "CT"
    assert volume.geometry.spacing_zyx[1:] == pytest.approx((0.661468, 0.661468))


def test_dicom_seg_round_trip_keeps_frame_of_reference(
    tmp_path: Path,
    make_dicom_series: DicomFactory,
    oblique_geometry: VolumeGeometry,
    ramp_zyx: np.ndarray,
) -> None:
    import highdicom as hd

    files = make_dicom_series(
        tmp_path / "src",
        ramp_zyx,
        oblique_geometry,
        frame_of_reference_uid="1.2.826.0.1.3680043.8.498.1",
    )
    _scramble_names(files)
    source = read_volume(tmp_path / "src")
    labels = np.zeros(source.geometry.shape_zyx, np.uint8)
    labels[1, 2:4, 3:6] = 1
    labels[3, 0:2, 0:2] = 2
    table = LabelTable.default(3)
    sources = sorted((tmp_path / "src").iterdir())
    out = write_dicom_seg(LabelMap(labels, source.geometry, table), sources, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(out)
    assert ds.Modality == "SEG"
    assert ds.FrameOfReferenceUID == "1.2.826.0.1.3680043.8.498.1"
    seg = hd.seg.segread(out)
    assert [seg.get_segment_description(n).segment_label for n in seg.get_segment_numbers()] == [
        "label 1",
        "label 2",
    ]
    back = read_dicom_seg(out, sources, source.geometry)
    assert np.array_equal(back.labels_zyx, labels)
    assert back.table.names == ("background", "label 1", "label 2")
    assert (
        np.abs(np.subtract(back.table.classes[1].color_rgb, table.classes[1].color_rgb)).max() <= 2
    )


def test_dicom_seg_refuses_a_foreign_grid(tmp_path: Path, make_dicom_series: DicomFactory) -> None:
    grid = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0))
    files = make_dicom_series(tmp_path / "src", np.zeros((3, 4, 4)), grid)
    shifted = VolumeGeometry((3, 4, 4), (2.0, 1.0, 1.0), origin_xyz=(0.0, 0.0, 1.0))
    labels = np.ones((3, 4, 4), np.uint8)
    with pytest.raises(InputError, match=r"does not match the source DICOM slices"):
        write_dicom_seg(
            LabelMap(labels, shifted, LabelTable.default(2)), files, tmp_path / "seg.dcm"
        )


def test_order_comes_from_positions_even_if_the_file_list_is_not(
    tmp_path: Path,
    make_dicom_series: DicomFactory,
    oblique_geometry: VolumeGeometry,
    ramp_zyx: np.ndarray,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import SimpleITK as sitk

    make_dicom_series(tmp_path / "s", ramp_zyx, oblique_geometry)
    by_name = sorted(str(p) for p in (tmp_path / "s").iterdir())
    scrambled = [by_name[i] for i in (3, 0, 4, 2, 1)]
    monkeypatch.setattr(
        sitk.ImageSeriesReader, "GetGDCMSeriesFileNames", staticmethod(lambda *a, **k: scrambled)
    )
    volume = read_volume(tmp_path / "s")
    assert np.array_equal(volume.image_zyx, ramp_zyx)
    assert np.allclose(volume.geometry.origin_xyz, oblique_geometry.origin_xyz, atol=1e-6)


def test_missing_slice_message_has_no_itk_noise(
    tmp_path: Path, make_dicom_series: DicomFactory, capfd: pytest.CaptureFixture[str]
) -> None:
    files = make_dicom_series(
        tmp_path / "s", np.zeros((5, 3, 3)), VolumeGeometry((5, 3, 3), (2.0, 1.0, 1.0))
    )
    files[1].unlink()
    files[2].unlink()
    with pytest.raises(InputError, match=r"gap of 6\.00 mm after slice 1 of 3.*about 2 slice"):
        read_volume(tmp_path / "s")
    assert "WARNING" not in capfd.readouterr().err


def test_writing_a_series_leaves_the_process_locale_alone(tmp_path: Path) -> None:
    """GDCM's writer left LC_CTYPE at "C": Python's default text encoding became ASCII for the
    rest of the process (a UTF-8 doc then failed to read after any DICOM export)."""
    import locale

    from ugpcl_engine.io.dicom_series import read_dicom_series, write_dicom_series

    before = locale.setlocale(locale.LC_ALL)
    write_dicom_series(np.zeros((2, 6, 5), np.int16), VolumeGeometry((2, 6, 5)), tmp_path / "s")
    read_dicom_series(tmp_path / "s")
    assert locale.setlocale(locale.LC_ALL) == before
