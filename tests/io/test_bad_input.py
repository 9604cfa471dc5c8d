"""Bad input: each case gives an InputError saying what is wrong and what to do, never a crash."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.label_tables import table_from_entries
from ugpcl_engine.io.volume_files import read_label_map, read_volume, write_array
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.volume import VolumeGeometry

GRID = VolumeGeometry((3, 4, 5), (2.0, 1.0, 1.0))
GRID_8 = VolumeGeometry((8, 32, 32))


def _write_nifti(path: Path, array: np.ndarray) -> Path:
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=False), str(path))
    return path


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"not found.*Check the path"):
        read_volume(tmp_path / "nope.nii.gz")


def test_zero_byte_file(tmp_path: Path) -> None:
    (tmp_path / "empty.nrrd").write_bytes(b"")
    with pytest.raises(InputError, match=r"empty file"):
        read_volume(tmp_path / "empty.nrrd")


def test_non_image_file(tmp_path: Path) -> None:
    (tmp_path / "notes.nii.gz").write_text("these are my notes, not an image\n")
    with pytest.raises(InputError, match=r"Cannot read notes.nii.gz as an image.*NIfTI"):
        read_volume(tmp_path / "notes.nii.gz")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".nrrd", ".mha"])
def test_truncated_file(tmp_path: Path, suffix: str) -> None:
    rng = np.random.default_rng(0)
    path = tmp_path / f"cut{suffix}"
    write_array(
        path, rng.integers(-1000, 1000, (8, 32, 32)).astype(np.int16), VolumeGeometry((8, 32, 32))
    )
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=r"cut.*(is truncated|not truncated)"):
        read_volume(path)


def test_zero_voxel_image(tmp_path: Path) -> None:
    path = tmp_path / "zero.mha"
    path.write_text(
        "ObjectType = Image\nNDims = 3\nDimSize = 4 4 0\nElementType = MET_SHORT\n"
        "ElementDataFile = LOCAL\n"
    )
    with pytest.raises(InputError, match=r"empty.*no voxels"):
        read_volume(path)


def test_four_d_image_needs_a_time_point(tmp_path: Path) -> None:
    array = np.arange(3 * 2 * 4 * 5, dtype=np.float32).reshape(3, 2, 4, 5)  # t, z, y, x
    path = _write_nifti(tmp_path / "cine.nii.gz", array)
    with pytest.raises(InputError, match=r"4-D.*choose a time point, 0\.\.2"):
        read_volume(path)
    second = read_volume(path, time_point=1)
    assert np.array_equal(second.image_zyx, array[1])
    with pytest.raises(InputError, match=r"time points 0\.\.2; 3 is not one"):
        read_volume(path, time_point=3)


def test_rgb_image_needs_a_component(tmp_path: Path) -> None:
    rgb = np.zeros((2, 3, 4, 3), dtype=np.uint8)
    rgb[..., 1] = 7
    path = tmp_path / "photo.mha"
    sitk.WriteImage(sitk.GetImageFromArray(rgb, isVector=True), str(path))
    with pytest.raises(InputError, match=r"3 components per voxel.*0\.\.2"):
        read_volume(path)
    green = read_volume(path, component=1)
    assert green.image_zyx.shape == (2, 3, 4)
    assert np.all(green.image_zyx == 7)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_nan_voxels_are_counted_or_replaced(tmp_path: Path, suffix: str) -> None:
    # SimpleITK's NIfTI reader silently turns NaN into 0, so NIfTI needs its own scan
    array = np.ones((3, 4, 5), dtype=np.float32)
    array[0, 0, :2] = np.nan
    array[2, 3, 4] = np.inf
    path = _write_nifti(tmp_path / f"nan{suffix}", array)
    with pytest.raises(InputError, match=r"3 NaN or infinite voxels"):
        read_volume(path)
    fixed = read_volume(path, replace_nonfinite=-5.0)
    assert np.isfinite(fixed.image_zyx).all()
    assert np.count_nonzero(fixed.image_zyx == -5.0) == 3


def test_labels_on_another_grid_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.nii.gz"
    write_array(path, np.zeros((3, 4, 5), np.uint8), VolumeGeometry((3, 4, 5), (3.0, 1.0, 1.0)))
    with pytest.raises(InputError, match=r"another grid.*resample the labels"):
        read_label_map(path, geometry=GRID)


def test_label_values_outside_the_table(tmp_path: Path) -> None:
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[1, 1, 1] = 4
    path = tmp_path / "labels.nrrd"
    write_array(path, labels, GRID)
    table = table_from_entries({1: ("liver", (255, 0, 0)), 2: ("spleen", (0, 255, 0))})
    with pytest.raises(InputError, match=r"label value 4 .* only values 0\.\.2"):
        read_label_map(path, table=table)


@pytest.mark.parametrize(
    ("values", "message"),
    [((-1.0, "negative")), ((0.5, "non-integer")), ((300.0, "at most 255"))],
)
def test_label_values_that_cannot_be_labels(tmp_path: Path, values: float, message: str) -> None:
    array = np.zeros((3, 4, 5), np.float32)
    array[0, 0, 0] = values
    path = _write_nifti(tmp_path / "bad.nii.gz", array)
    with pytest.raises(InputError, match=message):
        read_label_map(path)


def test_overlapping_segments_are_refused_without_flattening(chest_ct: SamplePaths) -> None:
    with pytest.raises(InputError, match=r"8 segments on 2 overlapping layers.*flatten"):
        read_label_map(chest_ct.overlapping)
    with pytest.raises(InputError, match=r"2 components per voxel"):
        read_volume(chest_ct.overlapping)


def test_folder_without_dicom(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("nothing here")
    with pytest.raises(InputError, match=r"No DICOM series found"):
        read_volume(tmp_path)


def test_cli_turns_bad_input_into_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ugpcl_engine.cli import main

    (tmp_path / "notes.nii.gz").write_text("not an image")
    code = main(["convert", str(tmp_path / "notes.nii.gz"), str(tmp_path / "out.nrrd")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("ugpcl-studio convert: error: Cannot read")
    assert not (tmp_path / "out.nrrd").exists()


def test_a_header_declaring_more_than_the_memory_is_refused_in_our_words(tmp_path: Path) -> None:
    path = tmp_path / "huge.mha"
    path.write_text(
        "ObjectType = Image\nNDims = 3\nDimSize = 100000 100000 100000\n"
        "ElementType = MET_SHORT\nElementDataFile = LOCAL\n"
    )
    with pytest.raises(InputError, match=r"declares 100000 × 100000 × 100000 voxels \(2\.0 PB\)"):
        read_volume(path)


def test_the_memory_limit_is_what_the_computer_has(tmp_path: Path) -> None:
    from ugpcl_engine.io.declared_size import check_declared_size

    path = tmp_path / "small.mha"
    write_array(path, np.zeros((4, 8, 8), np.int16), VolumeGeometry((4, 8, 8)))
    check_declared_size(path)  # 512 bytes fit
    with pytest.raises(InputError, match=r"\(512 bytes\), more than this computer's memory"):
        check_declared_size(path, memory_bytes=100)


def test_a_cut_metaimage_is_called_truncated(tmp_path: Path) -> None:
    raw = tmp_path / "raw.mha"
    sitk.WriteImage(sitk.GetImageFromArray(np.ones((8, 32, 32), np.int16)), str(raw), False)
    compressed = tmp_path / "packed.mha"
    rng = np.random.default_rng(0)
    write_array(compressed, rng.integers(0, 999, (8, 32, 32)).astype(np.int16), GRID_8)
    for path, promised in ((raw, "16384"), (compressed, r"\d+")):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(InputError, match=rf"{path.name} is truncated: .* promises {promised} "):
            read_volume(path)


def test_itk_file_readers_print_nothing_before_our_message(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """MetaIO and the NIfTI library write to C++'s std::cerr, past ITK's warning switch."""
    broken = tmp_path / "broken.mha"
    broken.write_text(
        "ObjectType = Image\nNDims = 3\nElementType = MET_SHORT\nElementDataFile = LOCAL\n"
    )  # no DimSize: MetaIO prints four lines to std::cerr
    with pytest.raises(InputError, match=r"broken\.mha"):
        read_volume(broken)
    print("still here", file=sys.stderr)  # stderr works again afterwards
    assert capfd.readouterr().err == "still here\n"
