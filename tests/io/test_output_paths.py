"""Outputs never land on inputs, are checked before the work and appear whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.itk_quiet import itk_reason, itk_warnings_off
from ugpcl_engine.io.output_paths import (
    STAGE_PREFIX,
    check_folder_writable,
    check_not_inputs,
    staged_outputs,
)
from ugpcl_engine.io.volume_files import read_label_map, read_volume, write_array
from ugpcl_engine.volume import VolumeGeometry

GRID = VolumeGeometry((3, 4, 5), (2.0, 1.0, 1.0))


def _entries(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def test_links_to_an_input_are_named(tmp_path: Path) -> None:
    source = tmp_path / "scan.nii.gz"
    source.write_bytes(b"scan")
    os.link(source, tmp_path / "hard.nii.gz")
    (tmp_path / "soft.nii.gz").symlink_to(source)
    for name, how in [
        ("scan.nii.gz", "(the same file)"),
        ("hard.nii.gz", "through a hard link"),
        ("soft.nii.gz", "through a symbolic link"),
    ]:
        with pytest.raises(InputError, match=rf"would destroy the input --image .*{how}"):
            check_not_inputs({"--out": tmp_path / name}, {"--image": source})
    with pytest.raises(InputError, match=r"--out and --uncertainty name the same file"):
        check_not_inputs({"--out": tmp_path / "a.nrrd", "--uncertainty": tmp_path / "a.nrrd"}, {})
    check_not_inputs({"--out": tmp_path / "new.nii.gz"}, {"--image": source})  # no error


def test_files_inside_an_input_folder_are_not_overwritten(tmp_path: Path) -> None:
    (tmp_path / "dicom").mkdir()
    (tmp_path / "dicom" / "IM0001").write_bytes(b"slice")
    with pytest.raises(InputError, match=r"overwrite a file in the input folder --image"):
        check_not_inputs({"--out": tmp_path / "dicom" / "IM0001"}, {"--image": tmp_path / "dicom"})
    check_not_inputs({"--out": tmp_path / "dicom" / "seg.nii.gz"}, {"--image": tmp_path / "dicom"})


def test_outputs_move_into_place_together_with_companion_files(tmp_path: Path) -> None:
    array = np.arange(60, dtype=np.int16).reshape(GRID.shape_zyx)
    outputs = {"--out": tmp_path / "new" / "a.mhd", "--uncertainty": tmp_path / "u.nrrd"}
    with staged_outputs(outputs) as staged:
        assert all(p.parent.name.startswith(STAGE_PREFIX) for p in staged.values())
        write_array(staged["--out"], array, GRID)  # writes a.mhd and a.zraw
        write_array(staged["--uncertainty"], array, GRID)
        assert not (tmp_path / "new" / "a.mhd").exists()  # nothing in place before the end
    assert _entries(tmp_path) == ["new", "new/a.mhd", "new/a.zraw", "u.nrrd"]
    assert np.array_equal(read_volume(tmp_path / "new" / "a.mhd").image_zyx, array)


def test_a_failure_leaves_no_output_and_no_folder_it_created(tmp_path: Path) -> None:
    (tmp_path / "u.nrrd").write_bytes(b"older result")
    outputs = {
        "--out": tmp_path / "new" / "deeper" / "a.nii.gz",
        "--uncertainty": tmp_path / "u.nrrd",
    }
    expected = rf"Cannot write {tmp_path / 'u.nrrd'}: disk full"  # the real path, not the hidden
    with pytest.raises(InputError, match=expected), staged_outputs(outputs) as staged:
        write_array(staged["--out"], np.zeros(GRID.shape_zyx, np.uint8), GRID)
        raise InputError(f"Cannot write {staged['--uncertainty']}: disk full")
    assert _entries(tmp_path) == ["u.nrrd"]
    assert (tmp_path / "u.nrrd").read_bytes() == b"older result"


def test_an_unwritable_destination_is_refused_before_the_work(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("a regular file")
    cases = [
        ({"--out": tmp_path / "file.txt" / "sub" / "a.nii.gz"}, {}, {}, "is a file, not a folder"),
        ({"--out": tmp_path}, {}, {}, r"--out .* is a folder; give a file name"),
        (
            {"--out": tmp_path / "x.nii.gz"},
            {"--checkpoint": tmp_path / "file.txt"},
            {"--model": tmp_path / "file.txt"},
            r"\(--model\) would destroy the input --checkpoint",
        ),
    ]
    ran = []
    for outputs, inputs, also, message in cases:
        with (
            pytest.raises(InputError, match=message),
            staged_outputs(outputs, inputs, also_written=also),
        ):
            ran.append(True)
    with pytest.raises(InputError, match=r"is a file, not a folder"):
        check_folder_writable("--out", tmp_path / "file.txt" / "run")
    assert ran == [] and _entries(tmp_path) == ["file.txt"]


def test_itk_warnings_are_off_inside_and_restored_after() -> None:
    assert sitk.ProcessObject.GetGlobalWarningDisplay()
    with itk_warnings_off():
        with itk_warnings_off():
            assert not sitk.ProcessObject.GetGlobalWarningDisplay()
        assert not sitk.ProcessObject.GetGlobalWarningDisplay()  # the outer reader still reads
    assert sitk.ProcessObject.GetGlobalWarningDisplay()


def test_itk_errors_are_shortened_to_one_line_between_words() -> None:
    err = RuntimeError(
        "Exception thrown in SimpleITK ImageFileWriter_Execute: /tmp/SimpleITK-build/ITK/"
        "Modules/IO/Meta/src/itkMetaImageIO.cxx:1110:\nITK ERROR: MetaImageIO(0x55d846235bd0): "
        "File cannot be written: /data/x.mha\nReason: No such file or directory " + "word " * 40
    )
    reason = itk_reason(err)
    assert reason.startswith("File cannot be written: /data/x.mha Reason: No such file")
    assert "\n" not in reason and len(reason) <= 160 and reason.endswith("word …")


def test_a_2d_label_map_reads_as_one_slice(tmp_path: Path) -> None:
    """It used to be described as "0 segments on 1 overlapping layers"."""
    labels = np.zeros((4, 5), np.uint8)
    labels[1, 2] = 1
    sitk.WriteImage(sitk.GetImageFromArray(labels), str(tmp_path / "flat.nii.gz"))
    label_map = read_label_map(tmp_path / "flat.nii.gz")
    assert label_map.labels_zyx.shape == (1, 4, 5) and label_map.geometry.shape_zyx == (1, 4, 5)
    assert np.array_equal(label_map.labels_zyx[0], labels)
