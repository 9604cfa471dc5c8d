"""Dataset readers: layouts, detection, splits, labeled subsets and crafted inputs refused."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from synthetic_datasets import MSD_TRAIN, SSL_TRAIN, phantom, write_msd, write_ssl4mis

from ugpcl_engine.datasets import h5_files, open_dataset, parse_labeled, select_labeled
from ugpcl_engine.datasets.ssl4mis import SSL4MISDataset
from ugpcl_engine.errors import InputError


@pytest.fixture
def ssl_root(tmp_path: Path) -> Path:
    return write_ssl4mis(tmp_path / "ACDC")


@pytest.fixture
def msd_root(tmp_path: Path) -> Path:
    return write_msd(tmp_path / "Task")


def test_ssl4mis_is_detected_and_indexed_in_file_order(ssl_root: Path) -> None:
    ds = open_dataset(ssl_root)
    assert isinstance(ds, SSL4MISDataset) and ds.layout == "ssl4mis"
    assert ds.units() == list(SSL_TRAIN)  # first appearance in the list, not sorted
    slices = ds.training_slices()
    assert len(slices) == 48
    assert slices[0].case_id == "patient003_frame01" and slices[0].index == 0
    assert slices[8].case_id == "patient003_frame02"
    assert [c.case_id for c in ds.cases("val")] == ["patient004_frame01", "patient004_frame02"]
    assert len(ds.cases("test")) == 2 and ds.label_table.num_classes == 4


def test_ssl4mis_reads_a_case_and_a_slice(ssl_root: Path) -> None:
    ds = open_dataset(ssl_root, "ssl4mis")
    assert isinstance(ds, SSL4MISDataset)
    case = ds.read_case(ds.cases("test")[0])
    image, labels = phantom(8)  # the 9th volume written: patient005_frame01
    np.testing.assert_array_equal(case.labels_zyx, labels)
    np.testing.assert_allclose(case.image_zyx, image)
    assert case.spacing_zyx == (1.0, 1.0, 1.0) and not case.spacing_known
    img, lab = ds.read_slice(ds.training_slices()[3], labels=False)
    assert img.shape == (32, 32) and lab is None


def test_seven_patients_are_the_first_lines_never_sorted(ssl_root: Path) -> None:
    ds = open_dataset(ssl_root)
    assert isinstance(ds, SSL4MISDataset)
    first = select_labeled(ds, parse_labeled("1"))
    assert first == ["patient003"]
    labeled = [s for s in ds.training_slices() if s.patient in first]
    assert labeled == ds.training_slices()[:16]  # the first 16 lines of train_slices.list
    assert select_labeled(ds, parse_labeled("50%")) == ["patient003", "patient001"]
    ids = ssl_root / "ids.txt"
    ids.write_text("patient002\n")
    assert select_labeled(ds, parse_labeled(str(ids))) == ["patient002"]


def test_msd_layout_cases_splits_and_spacing(msd_root: Path) -> None:
    (msd_root / "val.list").write_text("case_d\n")
    ds = open_dataset(msd_root)
    assert ds.layout == "msd" and ds.modality == "MR"
    assert ds.units() == ["case_b", "case_a", "case_c", "case_e"]  # dataset.json order
    assert [c.case_id for c in ds.cases("val")] == ["case_d"]
    test = ds.cases("test")
    assert [c.case_id for c in test] == ["test_a", "test_b"] and test[0].labels is not None
    case = ds.read_case(test[0])
    assert case.spacing_zyx == (2.0, 1.0, 1.0) and case.spacing_known
    assert case.labels_zyx is not None and case.labels_zyx.max() == 3
    assert ds.read_case(ds.cases("train")[3]).labels_zyx is None  # case_e has no labels
    assert ds.label_table.names == ("background", "RV", "myocardium", "LV")


def test_msd_labeled_count_fraction_and_unlabeled_case(msd_root: Path) -> None:
    ds = open_dataset(msd_root)
    assert select_labeled(ds, parse_labeled("2")) == list(MSD_TRAIN[:2])
    assert select_labeled(ds, parse_labeled("25%")) == ["case_b"]
    ids = msd_root / "ids.txt"
    ids.write_text("case_e\n")
    with pytest.raises(InputError, match="case_e is chosen as labeled but has no label file"):
        select_labeled(ds, parse_labeled(str(ids)))
    with pytest.raises(InputError, match="asks for 9 cases but the training split has 5"):
        select_labeled(ds, parse_labeled("9"))


def test_opening_reads_no_image(ssl_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("an image was read while indexing")

    monkeypatch.setattr(h5_files, "read_pair", refuse)
    ds = open_dataset(ssl_root)
    select_labeled(ds, parse_labeled("2"))
    assert len(ds.training_slices()) == 48


def test_neither_layout_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(InputError, match=r"neither an MSD/nnU-Net dataset .* nor an SSL4MIS"):
        open_dataset(tmp_path)
    with pytest.raises(InputError, match="Unknown layout"):
        open_dataset(tmp_path, "nnunet")


@pytest.mark.parametrize("text", ["0", "0%", "150%", "abc%", "nofile.txt"])
def test_bad_labeled_values_are_refused(text: str) -> None:
    with pytest.raises(InputError, match="--labeled"):
        parse_labeled(text)


def test_list_lines_leaving_the_folder_are_refused(ssl_root: Path) -> None:
    (ssl_root / "test.list").write_text("../../etc/passwd\n")
    ds = open_dataset(ssl_root)
    with pytest.raises(InputError, match="not a plain case name"):
        ds.cases("test")


def test_external_link_in_a_slice_file_is_refused(ssl_root: Path, tmp_path: Path) -> None:
    ds = open_dataset(ssl_root)
    assert isinstance(ds, SSL4MISDataset)
    ref = ds.training_slices()[0]
    assert ref.path is not None
    with h5py.File(tmp_path / "secret.h5", "w") as f:
        f["image"] = np.ones((32, 32), np.float32)
    with h5py.File(ref.path, "w") as f:
        f["image"] = h5py.ExternalLink(str(tmp_path / "secret.h5"), "image")
        f["label"] = np.zeros((32, 32), np.uint8)
    with pytest.raises(InputError, match=r"link into another file.*dataset file never holds"):
        ds.read_slice(ref, labels=True)


def test_external_storage_in_a_volume_file_is_refused(ssl_root: Path, tmp_path: Path) -> None:
    ds = open_dataset(ssl_root)
    case = ds.cases("test")[0]
    raw = tmp_path / "raw.bin"
    np.zeros((8, 32, 32), np.float32).tofile(raw)
    with h5py.File(case.image, "w") as f:
        f.create_dataset(
            "image", (8, 32, 32), np.float32, external=[(str(raw), 0, 8 * 32 * 32 * 4)]
        )
        f["label"] = np.zeros((8, 32, 32), np.uint8)
    with pytest.raises(InputError, match="external storage"):
        ds.read_case(case)


@pytest.mark.parametrize(
    ("image_shape", "label_shape", "message"),
    [
        ((32, 32), (32, 30), r"label shape .* differs from the image shape"),
        ((2, 32, 32), (2, 32, 32), "not a H×W slice"),
    ],
)
def test_bad_slice_shapes_are_refused(
    ssl_root: Path, image_shape: tuple[int, ...], label_shape: tuple[int, ...], message: str
) -> None:
    ds = open_dataset(ssl_root)
    assert isinstance(ds, SSL4MISDataset)
    ref = ds.training_slices()[5]
    assert ref.path is not None
    with h5py.File(ref.path, "w") as f:
        f["image"] = np.zeros(image_shape, np.float32)
        f["label"] = np.zeros(label_shape, np.uint8)
    with pytest.raises(InputError, match=message):
        ds.read_slice(ref, labels=True)


def test_label_values_beyond_the_table_are_refused(ssl_root: Path) -> None:
    ds = open_dataset(ssl_root)
    case = ds.cases("val")[0]
    with h5py.File(case.image, "r+") as f:
        f["label"][0, 0, 0] = 7
    with pytest.raises(InputError, match=r"label value 7 .* classes 0..3"):
        ds.read_case(case)


def test_msd_label_grid_mismatch_is_refused(msd_root: Path) -> None:
    import SimpleITK as sitk

    sitk.WriteImage(
        sitk.GetImageFromArray(np.zeros((8, 30, 32), np.uint8)),
        str(msd_root / "labelsTr" / "case_a.nii.gz"),
    )
    ds = open_dataset(msd_root)
    case = next(c for c in ds.cases("train") if c.case_id == "case_a")
    with pytest.raises(InputError, match="another grid than the image"):
        ds.read_case(case)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"background": 0, "whole": [1, 2]}, "region labels"),
        ({"0": "background", "2": "gap"}, "without gaps"),
        (None, "no 'labels'"),
    ],
)
def test_unusable_dataset_json_labels_are_refused(
    msd_root: Path, labels: object, message: str
) -> None:
    meta = json.loads((msd_root / "dataset.json").read_text())
    meta["labels"] = labels
    (msd_root / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(InputError, match=message):
        open_dataset(msd_root)


def test_the_cli_parsers_load_no_heavy_library() -> None:
    """``add_parsers`` runs for every CLI call: it must not load torch, SimpleITK or h5py."""
    import subprocess
    import sys

    code = (
        "import argparse, sys\n"
        "from ugpcl_engine.datasets import commands, train_command\n"
        "commands.add_parsers(argparse.ArgumentParser().add_subparsers())\n"
        "print(sorted({'torch', 'SimpleITK', 'h5py'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
