"""Scanning a folder tree for DICOM series (headers only), opening one slice as its whole
series, and the display window from the DICOM header."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from dicom_tree import SeriesSpec, make_tree, ramp, series_uid_of, write_series

from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.io.dicom_scan import DicomScan, scan_dicom_folder, series_files_of
from ugpcl_engine.io.volume_files import read_volume


def test_scan_lists_patients_studies_series_and_counts_skipped_files(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree")
    seen: list[tuple[int, int]] = []
    scan = scan_dicom_folder(root, progress=lambda done, total: seen.append((done, total)))
    # Doe^Jane's study (3 MR series, by number) before Roe^Richard's CT
    rows = [
        (s.patient_name, s.study_date_text, s.series_number, s.series_description, s.modality)
        for s in scan.series
    ]
    assert rows == [
        ("Doe^Jane", "2024-01-31", 1, "T1", "MR"),
        ("Doe^Jane", "2024-01-31", 2, "T2", "MR"),
        ("Doe^Jane", "2024-01-31", 3, "FLAIR", "MR"),
        ("Roe^Richard", "2023-01-05", 2, "Chest", "CT"),
    ]
    assert [s.slices for s in scan.series] == [4, 4, 3, 4]
    assert [f.name for f in scan.series[1].files] == [f"b_{k:03d}.dcm" for k in range(4)]
    assert scan.series[2].folder == root / "study_mr" / "extra"
    assert {s.study_description for s in scan.series} == {"Head", "Thorax"}
    assert scan.series[3].patient_id == "P2"
    # 15 slices, the broken file and the text file: all read, two skipped and counted
    assert scan.files_seen == 17 and scan.not_dicom == 1 and scan.unreadable == 1
    assert set(scan.examples) == {"notes.txt", str(Path("study_ct") / "broken.dcm")}
    assert "skipped 1 not DICOM, 1 unreadable" in scan.summary()
    assert seen[-1] == (17, 17)


def test_scan_stops_when_cancelled(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree")
    with pytest.raises(CancelledError):
        scan_dicom_folder(root, is_cancelled=lambda: True)


def test_scan_of_a_missing_folder_says_so(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Folder not found"):
        scan_dicom_folder(tmp_path / "nowhere")


def test_scan_of_a_folder_without_dicom_finds_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    (tmp_path / "empty.dcm").write_bytes(b"")
    scan = scan_dicom_folder(tmp_path)
    assert scan.series == () and scan.not_dicom == 2


def test_one_slice_file_opens_its_whole_series(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree")
    # T2 shares its folder with T1 on the same grid: only T2's files are read, in z order
    volume = read_volume(root / "study_mr" / "b_002.dcm")
    assert volume.image_zyx.shape == (4, 8, 8)
    assert np.array_equal(volume.image_zyx[:, 0, 0], [200, 201, 202, 203])
    assert volume.modality == "MR"
    assert volume.name == "study_mr_T2"  # the series, not the slice file, names it
    assert volume.geometry.spacing_zyx == pytest.approx((2.0, 1.0, 1.0))
    t2 = series_files_of(root / "study_mr" / "b_000.dcm")
    assert t2 is not None and [f.name for f in t2] == [f"b_{k:03d}.dcm" for k in range(4)]
    assert series_files_of(root / "notes.txt") is None
    assert series_files_of(root / "study_ct" / "broken.dcm") is None


def test_a_lone_slice_still_reads_as_one_slice(tmp_path: Path) -> None:
    files = write_series(tmp_path / "s", ramp(5, (1, 8, 8)), SeriesSpec())
    volume = read_volume(files[0])
    assert volume.image_zyx.shape == (1, 8, 8)


def test_header_window_first_value_is_kept(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree")
    ct = read_volume(root / "study_ct")  # the folder read (GDCM) keeps the window tags too
    assert ct.modality == "CT"
    assert ct.header_window == (50.0, 350.0)
    assert read_volume(root / "study_ct" / "img_001.dcm").header_window == (50.0, 350.0)
    assert read_volume(root / "study_mr" / "a_000.dcm").header_window is None


def test_single_window_value_and_bad_width(tmp_path: Path) -> None:
    files = write_series(tmp_path / "w", ramp(0), SeriesSpec(window=(120, 800)))
    assert read_volume(files[0]).header_window == (120.0, 800.0)
    bad = write_series(tmp_path / "bad", ramp(0), SeriesSpec(window=(120, 0)))
    assert read_volume(bad[0]).header_window is None


def test_series_moved_into_one_folder_keeps_apart(tmp_path: Path) -> None:
    """Two series of one folder opened through a file each give their own values."""
    a = write_series(tmp_path / "a", ramp(10), SeriesSpec(description="A", prefix="a"))
    b = write_series(tmp_path / "b", ramp(20), SeriesSpec(description="B", prefix="b"))
    for f in b:
        shutil.move(f, tmp_path / "a" / f.name)
    assert series_uid_of(a[0]) != series_uid_of(tmp_path / "a" / b[0].name)
    assert read_volume(a[3]).image_zyx[0, 0, 0] == 10
    assert read_volume(tmp_path / "a" / b[0].name).image_zyx[0, 0, 0] == 20


def test_written_series_carry_a_window_for_their_modality(tmp_path: Path) -> None:
    from ugpcl_engine.io.dicom_series import write_dicom_series
    from ugpcl_engine.volume import VolumeGeometry

    image = np.arange(4 * 8 * 8, dtype=np.int16).reshape(4, 8, 8)
    grid = VolumeGeometry(image.shape)
    write_dicom_series(image, grid, tmp_path / "ct", modality="CT")
    write_dicom_series(image, grid, tmp_path / "mr", modality="MR")
    assert read_volume(tmp_path / "ct").header_window == (40.0, 400.0)
    centre, width = read_volume(tmp_path / "mr").header_window or (0.0, 0.0)
    low, high = np.percentile(image, [1, 99])
    assert centre == pytest.approx((low + high) / 2, rel=1e-5)
    assert width == pytest.approx(high - low, rel=1e-5)


def test_project_keeps_the_header_window(tmp_path: Path) -> None:
    from ugpcl_engine.io.project_data import Project, ProjectVolume
    from ugpcl_engine.io.project_file import load_project, save_project
    from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

    grid = VolumeGeometry((2, 3, 4))
    labels = LabelMap(np.zeros((2, 3, 4), np.uint8), grid, LabelTable.default(2))
    marks = {a: np.zeros(n, bool) for a, n in zip("zyx", (2, 3, 4), strict=True)}
    volumes = [
        ProjectVolume(Volume(np.zeros((2, 3, 4), np.int16), grid, header_window=w), labels, marks)
        for w in ((50.0, 350.0), None)
    ]
    save_project(tmp_path / "p.ugpcl", Project(volumes))
    loaded = load_project(tmp_path / "p.ugpcl")
    assert [v.volume.header_window for v in loaded.volumes] == [(50.0, 350.0), None]


def test_a_damaged_header_is_skipped_not_raised(tmp_path: Path) -> None:
    files = write_series(tmp_path / "s", ramp(5, (3, 8, 8)), SeriesSpec())
    data = files[0].read_bytes()
    tag = b"\x02\x00\x10\x00UI"  # TransferSyntaxUID with an unknown VR: pydicom raises
    assert tag in data  # NotImplementedError, not InvalidDicomError
    (tmp_path / "s" / "damaged.dcm").write_bytes(data.replace(tag, b"\x02\x00\x10\x00UY", 1))
    scan = scan_dicom_folder(tmp_path)
    assert len(scan.series) == 1 and scan.series[0].slices == 3 and scan.unreadable == 1
    same = series_files_of(files[1])
    assert same is not None and len(same) == 3
    assert series_files_of(tmp_path / "s" / "damaged.dcm") is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_in_the_folder_does_not_block_the_scan(tmp_path: Path) -> None:
    write_series(tmp_path / "s", ramp(5, (2, 8, 8)), SeriesSpec())
    os.mkfifo(tmp_path / "s" / "pipe.dcm")  # open() on it would wait for a writer forever
    found: list[object] = []
    scan = threading.Thread(target=lambda: found.append(scan_dicom_folder(tmp_path)), daemon=True)
    scan.start()
    scan.join(60)  # not a speed check: without the fix the scan never returns
    assert found, "the scan blocked on the named pipe"
    result = found[0]
    assert isinstance(result, DicomScan)
    assert len(result.series) == 1 and result.not_dicom == 1
