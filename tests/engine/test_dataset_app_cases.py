"""A dataset folder read for the app: training cases as volumes, labeled ones with labels."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from synthetic_datasets import DEPTH, MSD_TRAIN, SIDE, SSL_TRAIN, write_msd, write_ssl4mis

from ugpcl_engine import (
    MAX_APP_CASES,
    InputError,
    is_dataset_folder,
    read_dataset_cases,
)
from ugpcl_engine.datasets import open_dataset
from ugpcl_engine.datasets.app_cases import APP_BYTES_PER_VOXEL


def test_msd_cases_keep_their_grid_and_the_labeled_ones_their_labels(tmp_path: Path) -> None:
    root = write_msd(tmp_path / "msd", spacing_zyx=(2.0, 1.5, 1.0))
    cases = read_dataset_cases(root)
    assert [c.volume.name for c in cases] == [*MSD_TRAIN, "case_e"]
    assert [c.labeled for c in cases] == [True, True, True, True, False]
    first = cases[0]
    assert first.volume.geometry.shape_zyx == (DEPTH, SIDE, SIDE)
    assert first.volume.geometry.spacing_zyx == pytest.approx((2.0, 1.5, 1.0))
    on_disk = sitk.GetArrayFromImage(sitk.ReadImage(str(root / "labelsTr" / "case_b.nii.gz")))
    assert np.array_equal(first.labels.labels_zyx, on_disk)
    assert first.labels.table.names == ("background", "RV", "myocardium", "LV")
    assert first.source_path == root / "imagesTr" / "case_b_0000.nii.gz"
    assert not cases[-1].labels.labels_zyx.any()
    assert cases[-1].labels.table == first.labels.table


def test_ssl4mis_labeled_patients_by_count(tmp_path: Path) -> None:
    root = write_ssl4mis(tmp_path / "acdc")
    cases = read_dataset_cases(root, labeled="1")
    names = [f"{p}_{f}" for p in SSL_TRAIN for f in ("frame01", "frame02")]
    assert [c.volume.name for c in cases] == names
    assert [c.labeled for c in cases] == [True, True, False, False, False, False]
    assert cases[0].labels.labels_zyx.max() == 3
    assert not any(c.labels.labels_zyx.any() for c in cases[2:])
    assert cases[0].volume.geometry.spacing_zyx == (1.0, 1.0, 1.0)


def test_a_cohort_above_the_limit_is_refused_with_the_headless_command(tmp_path: Path) -> None:
    root = write_msd(tmp_path / "msd")
    assert MAX_APP_CASES >= 5
    with pytest.raises(InputError, match=r"has 5 training cases.*ugpcl-studio train-dataset"):
        read_dataset_cases(root, max_cases=4)


@pytest.mark.parametrize("write", [write_msd, write_ssl4mis])
def test_a_cohort_beyond_the_memory_is_refused_from_its_headers(
    tmp_path: Path, write: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit is the memory the cases take (summed from their headers, before any pixel is
    read), not a count: the cases fit in exactly their bytes and are refused one byte below."""
    root = write(tmp_path / "data")
    dataset = open_dataset(root)
    cases = dataset.cases("train")
    voxels = [dataset.case_voxels(c) for c in cases]
    assert voxels == [math.prod(c.volume.geometry.shape_zyx) for c in read_dataset_cases(root)]
    needed = sum(voxels) * APP_BYTES_PER_VOXEL
    assert len(read_dataset_cases(root, memory_bytes=needed)) == len(cases)
    reads: list[object] = []
    monkeypatch.setattr(type(dataset), "read_case", lambda *a, **k: reads.append(a))
    with pytest.raises(InputError, match=r"GB in the app.*ugpcl-studio train-dataset"):
        read_dataset_cases(root, memory_bytes=needed - 1)
    assert not reads  # refused before a case was read


def test_dataset_folders_are_told_from_other_folders(tmp_path: Path) -> None:
    assert is_dataset_folder(write_msd(tmp_path / "msd"))
    assert is_dataset_folder(write_ssl4mis(tmp_path / "acdc"))
    assert not is_dataset_folder(tmp_path)
    assert not is_dataset_folder(tmp_path / "missing")
    with pytest.raises(InputError, match="neither an MSD"):
        read_dataset_cases(tmp_path)
