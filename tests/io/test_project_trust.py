"""Crafted and damaged project files (issue 14, item 7): refused before any data is read.

Each crafted file is built here with h5py. Most use the schema 1 layout (what ugpcl-studio wrote
before checksums, still readable), so the same file shows the old behaviour: it loaded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.project_checksums import array_crcs, seal_attrs, seal_data
from ugpcl_engine.io.project_file import (
    Project,
    ProjectVolume,
    load_project,
    save_project,
    write_label_slices,
)
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

SHAPE = (3, 4, 5)
Mutation = Callable[[h5py.File], None]


def _write_v1(path: Path, labels: np.ndarray | None = None) -> None:
    """Write a schema 1 project (no checksums, variable-length strings) as older versions did."""
    text = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs["format"] = "ugpcl-studio project"
        f.attrs["schema_version"] = 1
        f.create_dataset("runs_json", data="[]", dtype=text)
        f.create_dataset("models_json", data="[]", dtype=text)
        g = f.create_group("volumes").create_group("0000")
        for key, value in {"name": "ct", "modality": "CT", "source_path": ""}.items():
            g.attrs[key] = value
        g.attrs["shape_zyx"] = np.asarray(SHAPE, np.int64)
        g.attrs["spacing_zyx"] = np.ones(3)
        g.attrs["origin_xyz"] = np.zeros(3)
        g.attrs["direction_xyz"] = np.eye(3).ravel()
        g.attrs["label_table_json"] = json.dumps([[0, "bg", [0, 0, 0]], [1, "a", [9, 9, 9]]])
        chunks = (1, *SHAPE[1:])
        g.create_dataset("image_zyx", data=np.arange(60, dtype=np.int16).reshape(SHAPE))
        labels = np.zeros(SHAPE, np.uint8) if labels is None else labels
        g.create_dataset("labels_zyx", data=labels, chunks=chunks)
        marks = g.create_group("labeled_slices")
        for axis, n in zip("zyx", SHAPE, strict=True):
            marks.create_dataset(axis, data=np.zeros(n, bool))
        g.create_group("predictions")
        g.create_group("uncertainty")


def _crafted(tmp_path: Path, mutate: Mutation) -> Path:
    path = tmp_path / "crafted.ugpcl"
    _write_v1(path)
    with h5py.File(path, "r+") as f:
        mutate(f)
    return path


def _replace_image(f: h5py.File, **kwargs: object) -> None:
    group = f["volumes/0000"]
    del group["image_zyx"]
    group.create_dataset("image_zyx", **kwargs)


def test_schema_1_file_without_checksums_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "v1.ugpcl"
    _write_v1(path)
    pv = load_project(path).volumes[0]
    np.testing.assert_array_equal(pv.volume.image_zyx, np.arange(60).reshape(SHAPE))
    assert pv.labels.table.names == ("bg", "a")


def test_external_storage_is_refused_and_the_local_file_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET" * 20)
    external = [(str(secret), 0, 120)]
    path = _crafted(
        tmp_path, lambda f: _replace_image(f, shape=SHAPE, dtype="<i2", external=external)
    )
    with pytest.raises(InputError, match=r"image_zyx keeps its data in another file.*backup"):
        load_project(path)


def test_external_link_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as o:
        o["img"] = np.full(SHAPE, 7, np.int16)

    def link(f: h5py.File) -> None:
        del f["volumes/0000/image_zyx"]
        f["volumes/0000/image_zyx"] = h5py.ExternalLink(str(other), "/img")

    with pytest.raises(InputError, match="link into another file"):
        load_project(_crafted(tmp_path, link))


def test_soft_link_is_refused(tmp_path: Path) -> None:
    def link(f: h5py.File) -> None:
        f["stash"] = np.full(SHAPE, 9, np.int16)
        del f["volumes/0000/image_zyx"]
        f["volumes/0000/image_zyx"] = h5py.SoftLink("/stash")

    with pytest.raises(InputError, match="soft link"):
        load_project(_crafted(tmp_path, link))


def test_virtual_dataset_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as o:
        o["img"] = np.full(SHAPE, 7, np.int16)

    def virtual(f: h5py.File) -> None:
        del f["volumes/0000/image_zyx"]
        layout = h5py.VirtualLayout(shape=SHAPE, dtype=np.int16)
        layout[:] = h5py.VirtualSource(str(other), "img", shape=SHAPE)
        f["volumes/0000"].create_virtual_dataset("image_zyx", layout)

    with pytest.raises(InputError, match="virtual dataset"):
        load_project(_crafted(tmp_path, virtual))


def test_huge_unwritten_dataset_is_refused_without_allocating(tmp_path: Path) -> None:
    huge = (30_000, 30_000, 30_000)  # 27e12 voxels: the old code tried to allocate them

    def bogus(f: h5py.File) -> None:
        f["volumes/0000"].attrs["shape_zyx"] = np.asarray(huge, np.int64)
        for name in ("image_zyx", "labels_zyx"):
            del f["volumes/0000"][name]
            f["volumes/0000"].create_dataset(name, shape=huge, dtype=np.uint8, chunks=(1, 64, 64))

    with pytest.raises(InputError, match=r"image_zyx has the shape \(30000, 30000, 30000\)"):
        load_project(_crafted(tmp_path, bogus))


def test_dataset_with_chunks_never_written_is_refused(tmp_path: Path) -> None:
    # A few kilobytes of file that would read back as megabytes of fill values
    def unwritten(f: h5py.File) -> None:
        _replace_image(f, shape=SHAPE, dtype=np.int16, chunks=(1, *SHAPE[1:]))

    with pytest.raises(InputError, match="image_zyx has parts that were never written"):
        load_project(_crafted(tmp_path, unwritten))


def test_shape_that_disagrees_with_the_schema_is_refused(tmp_path: Path) -> None:
    def wrong(f: h5py.File) -> None:
        del f["volumes/0000/labeled_slices/y"]
        f["volumes/0000/labeled_slices"].create_dataset("y", data=np.zeros(9, bool))

    with pytest.raises(InputError, match=r"labeled_slices/y has the shape \(9,\) where \(4,\)"):
        load_project(_crafted(tmp_path, wrong))


def test_wrong_dtypes_are_refused(tmp_path: Path) -> None:
    def float_labels(f: h5py.File) -> None:
        del f["volumes/0000/labels_zyx"]
        f["volumes/0000"].create_dataset("labels_zyx", data=np.full(SHAPE, 1.5))

    with pytest.raises(InputError, match="labels_zyx holds values of type float64"):
        load_project(_crafted(tmp_path, float_labels))

    def text_image(f: h5py.File) -> None:
        _replace_image(f, data=np.full(SHAPE, b"abc"))

    with pytest.raises(InputError, match="image_zyx holds values of type"):
        load_project(_crafted(tmp_path, text_image))


def test_unknown_filter_is_refused(tmp_path: Path) -> None:
    def scaleoffset(f: h5py.File) -> None:
        _replace_image(f, data=np.zeros(SHAPE, np.int16), chunks=(1, 4, 5), scaleoffset=0)

    with pytest.raises(InputError, match="unknown HDF5 filter"):
        load_project(_crafted(tmp_path, scaleoffset))


def test_label_value_300_is_refused_not_wrapped(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    labels = np.zeros(SHAPE, np.uint16)
    labels[1, 2, 3] = 300  # cast to uint8 this became 44
    _write_v1(path, labels)
    with pytest.raises(InputError, match=r"label values 0\.\.300, outside the 0\.\.255"):
        load_project(path)
    labels[1, 2, 3] = 2  # other integer types are fine while they fit
    _write_v1(path, labels)
    assert load_project(path).volumes[0].labels.labels_zyx[1, 2, 3] == 2


def test_label_value_300_with_valid_checksums_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    labels = np.zeros(SHAPE, np.uint16)
    labels[0, 0, 0] = 300
    with h5py.File(path, "r+") as f:
        group = f["volumes/0000"]
        del group["labels_zyx"]
        seal_data(group.create_dataset("labels_zyx", data=labels), array_crcs(labels))
        for obj in (group["labels_zyx"], group, f["volumes"], f):
            seal_attrs(obj)
    with pytest.raises(InputError, match=r"label values 0\.\.300"):
        load_project(path)


def test_write_label_slices_refuses_labels_that_would_wrap(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    labels = np.zeros(SHAPE, np.int64)
    labels[0] = 300
    with pytest.raises(ValueError, match="uint8"):
        write_label_slices(path, 0, labels, [0])
    assert load_project(path).volumes[0].labels.labels_zyx.max() == 0


def _project() -> Project:
    geometry = VolumeGeometry(SHAPE, (2.0, 0.5, 0.5))
    rng = np.random.default_rng(0)
    return Project(
        volumes=[
            ProjectVolume(
                volume=Volume(rng.integers(0, 100, SHAPE).astype(np.int16), geometry, "ct"),
                labels=LabelMap(np.zeros(SHAPE, np.uint8), geometry, LabelTable.default(2)),
                labeled_slices={"z": np.array([True, False, True])},
            )
        ],
        runs=[{"version": "v1"}],
    )


def test_changed_attribute_fails_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    with h5py.File(path, "r+") as f:  # what a flipped bit in the spacing would read as
        f["volumes/0000"].attrs["spacing_zyx"] = np.array([2.0, 0.5, 0.25])
    with pytest.raises(InputError, match=r"attributes or members of /volumes/0000 do not match"):
        load_project(path)


def test_changed_values_fail_their_checksum(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    with h5py.File(path, "r+") as f:
        f["volumes/0000/labels_zyx"][2, 1, 1] = 1
    with pytest.raises(
        InputError, match=r"labels_zyx do not match their checksum \(axial slice 2\)"
    ):
        load_project(path)


def test_flipped_byte_in_stored_data_fails_its_checksum(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    with h5py.File(path, "r") as f:  # the z marks are stored uncompressed: find their bytes
        offset = f["volumes/0000/labeled_slices/z"].id.get_offset()
    data = bytearray(path.read_bytes())
    data[offset + 1] ^= 1  # slice 1 now reads as marked
    path.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"labeled_slices/z do not match their checksum"):
        load_project(path)


def test_missing_checksum_in_current_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    with h5py.File(path, "r+") as f:
        del f["volumes/0000/image_zyx"].attrs["data_crc32"]
    with pytest.raises(InputError, match="image_zyx has no checksum; the file is damaged"):
        load_project(path)


def test_variable_length_attribute_in_current_schema_is_refused_unread(tmp_path: Path) -> None:
    # variable-length values live in the global heap, whose damage can hang the HDF5 library
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    with h5py.File(path, "r+") as f:
        f["volumes/0000"].attrs["name"] = "ct"  # h5py writes a str as variable-length
    with pytest.raises(InputError, match="attribute 'name' of /volumes/0000 has a value type"):
        load_project(path)


def test_write_label_slices_keeps_checksums_valid(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    labels = np.zeros(SHAPE, np.uint8)
    labels[1] = 1
    write_label_slices(path, 0, labels, [1])
    np.testing.assert_array_equal(load_project(path).volumes[0].labels.labels_zyx, labels)


def test_write_label_slices_never_writes_through_a_link(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as o:
        o["labels"] = np.zeros(SHAPE, np.uint8)
    with h5py.File(path, "r+") as f:
        del f["volumes/0000/labels_zyx"]
        f["volumes/0000/labels_zyx"] = h5py.ExternalLink(str(other), "/labels")
    with pytest.raises(InputError, match="link into another file"):
        write_label_slices(path, 0, np.ones(SHAPE, np.uint8), [0])
    with h5py.File(other, "r") as o:
        assert not o["labels"][()].any()


def test_object_linked_twice_is_refused(tmp_path: Path) -> None:
    def loop(f: h5py.File) -> None:
        f["volumes/0000/loop"] = f["volumes"]  # a hard-link cycle

    with pytest.raises(InputError, match="second link"):
        load_project(_crafted(tmp_path, loop))
