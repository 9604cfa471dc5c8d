"""Project files: round trip, chunk layout, atomic save, bad input, schema migration."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest

import ugpcl_engine
from ugpcl_engine.errors import InputError
from ugpcl_engine.io import project_file
from ugpcl_engine.io.project_file import (
    SCHEMA_VERSION,
    Project,
    ProjectVolume,
    load_project,
    save_project,
    write_label_slices,
)
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

OBLIQUE = (0.0, -1.0, 0.0, 0.6, 0.0, -0.8, 0.8, 0.0, 0.6)


def _volume(seed: int, shape: tuple[int, int, int] = (6, 10, 12)) -> ProjectVolume:
    rng = np.random.default_rng(seed)
    geometry = VolumeGeometry(shape, (2.5, 0.7, 0.8), (-10.5, 20.25, 3.0), OBLIQUE)
    image = rng.integers(-1000, 1500, size=shape).astype(np.int16)
    labels = rng.integers(0, 3, size=shape).astype(np.uint8)
    marks = {"z": np.zeros(shape[0], bool), "y": np.zeros(shape[1], bool)}
    marks["z"][[1, shape[0] - 1]] = True
    marks["y"][3] = True
    return ProjectVolume(
        volume=Volume(image, geometry, name=f"ct{seed}", modality="CT"),
        labels=LabelMap(labels, geometry, LabelTable.default(3)),
        labeled_slices=marks,
        source_path=f"/data/ct{seed}.nii.gz" if seed else None,
        predictions={"run-1/v2": rng.integers(0, 3, size=shape).astype(np.uint8)},
        uncertainty={"run-1/v2": rng.random(shape).astype(np.float16)},
    )


def _project() -> Project:
    return Project(
        volumes=[_volume(0), _volume(1, (3, 5, 4))],
        runs=[{"version": "run-1/v2", "metrics": {"dice": 0.81}, "timings": {"train_s": 12.5}}],
        models=[{"version": "run-1/v2", "path": "models/v2.onnx", "sha256": "ab" * 32}],
    )


def _assert_same_volume(a: ProjectVolume, b: ProjectVolume) -> None:
    assert a.volume.geometry == b.volume.geometry
    assert (a.volume.name, a.volume.modality, a.source_path) == (
        b.volume.name,
        b.volume.modality,
        b.source_path,
    )
    assert a.volume.image_zyx.dtype == b.volume.image_zyx.dtype
    np.testing.assert_array_equal(a.volume.image_zyx, b.volume.image_zyx)
    np.testing.assert_array_equal(a.labels.labels_zyx, b.labels.labels_zyx)
    assert a.labels.table == b.labels.table
    for axis in ("z", "y", "x"):
        length = a.volume.geometry.shape_zyx["zyx".index(axis)]
        expected = a.labeled_slices.get(axis, np.zeros(length, bool))
        np.testing.assert_array_equal(b.labeled_slices[axis], expected)
    for kind in ("predictions", "uncertainty"):
        got, want = getattr(b, kind), getattr(a, kind)
        assert got.keys() == want.keys()
        for key in want:
            assert got[key].dtype == want[key].dtype
            np.testing.assert_array_equal(got[key], want[key])


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    project = _project()
    save_project(tmp_path / "p.ugpcl", project)
    loaded = load_project(tmp_path / "p.ugpcl")
    assert len(loaded.volumes) == 2
    for a, b in zip(project.volumes, loaded.volumes, strict=True):
        _assert_same_volume(a, b)
    assert loaded.runs == project.runs
    assert loaded.models == project.models
    save_project(tmp_path / "empty.ugpcl", Project(volumes=[]))
    assert load_project(tmp_path / "empty.ugpcl") == Project(volumes=[])


def test_datasets_are_chunked_per_axial_slice_and_compressed(tmp_path: Path) -> None:
    save_project(tmp_path / "p.ugpcl", _project())
    with h5py.File(tmp_path / "p.ugpcl", "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION
        for name in ("image_zyx", "labels_zyx", "predictions/0", "uncertainty/0"):
            ds = f["volumes/0000"][name]
            assert ds.chunks == (1, 10, 12)
            assert ds.compression == "gzip"


def test_write_label_slices_updates_only_given_slices(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    project = _project()
    save_project(path, project)
    labels = project.volumes[0].labels.labels_zyx.copy()
    labels[2] = 2
    labels[3] = 1  # changed in memory but not written
    write_label_slices(path, 0, labels, [2])
    loaded = load_project(path)
    got = loaded.volumes[0].labels.labels_zyx
    assert np.all(got[2] == 2)
    np.testing.assert_array_equal(got[3], project.volumes[0].labels.labels_zyx[3])
    _assert_same_volume(project.volumes[1], loaded.volumes[1])


def test_write_label_slices_refuses_bad_targets(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    labels = np.zeros((6, 10, 12), np.uint8)
    with pytest.raises(InputError, match="outside"):
        write_label_slices(path, 0, labels, [6])
    with pytest.raises(InputError, match="Could not update"):
        write_label_slices(path, 5, labels, [0])
    with pytest.raises(InputError, match="do not fit"):
        write_label_slices(path, 1, labels, [0])


def test_crash_mid_save_leaves_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.ugpcl"
    old = _project()
    save_project(path, old)
    real = project_file._write_volume
    calls = []

    def dying(group: Any, pv: ProjectVolume) -> None:
        calls.append(1)
        if len(calls) == 2:  # first volume written, the crash hits during the second
            raise RuntimeError("simulated crash")
        real(group, pv)

    monkeypatch.setattr(project_file, "_write_volume", dying)
    new = _project()
    new.volumes[0].labels.labels_zyx[:] = 0
    with pytest.raises(RuntimeError):
        save_project(path, new)
    loaded = load_project(path)
    _assert_same_volume(old.volumes[0], loaded.volumes[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ugpcl"]


def test_disk_full_gives_clear_error_and_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "p.ugpcl"
    old = _project()
    save_project(path, old)
    real = project_file._write_array
    calls = []

    def filling(group: Any, name: str, array: np.ndarray) -> Any:
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(group, name, array)

    monkeypatch.setattr(project_file, "_write_array", filling)
    with pytest.raises(InputError, match=r"disk is full.*previous file was left unchanged"):
        save_project(path, _project())
    _assert_same_volume(old.volumes[0], load_project(path).volumes[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ugpcl"]


def test_read_only_location_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(project_file.os, "access", lambda *_: False)
    with pytest.raises(InputError, match="read-only"):
        save_project(tmp_path / "p.ugpcl", _project())
    assert not (tmp_path / "p.ugpcl").exists()


def test_failed_replace_keeps_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.ugpcl"
    old = _project()
    save_project(path, old)

    def refuse(*_: Any) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(project_file.os, "replace", refuse)
    with pytest.raises(InputError, match="read-only"):
        save_project(path, _project())
    _assert_same_volume(old.volumes[0], load_project(path).volumes[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ugpcl"]


def test_missing_folder_and_inconsistent_project(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        save_project(tmp_path / "nowhere" / "p.ugpcl", _project())
    project = _project()
    project.volumes[0].labeled_slices["z"] = np.zeros(3, bool)
    with pytest.raises(ValueError, match="labeled_slices"):
        save_project(tmp_path / "p.ugpcl", project)
    project = _project()
    project.runs.append({"bad": object()})
    with pytest.raises(ValueError, match="JSON"):
        save_project(tmp_path / "p.ugpcl", project)


def test_stale_temp_files_are_removed(tmp_path: Path) -> None:
    writer = subprocess.Popen([sys.executable, "-c", "pass"])  # a save killed half way
    writer.wait()
    (tmp_path / f".p.ugpcl.{writer.pid}.tmp").write_bytes(b"half a project")
    save_project(tmp_path / "p.ugpcl", _project())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.ugpcl"]


def test_bad_files_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_project(tmp_path / "missing.ugpcl")
    (tmp_path / "notes.ugpcl").write_text("not a project")
    with pytest.raises(InputError, match="not an HDF5 file"):
        load_project(tmp_path / "notes.ugpcl")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(InputError, match="not a ugpcl-studio project"):
        load_project(tmp_path / "other.h5")
    save_project(tmp_path / "p.ugpcl", _project())
    data = (tmp_path / "p.ugpcl").read_bytes()
    (tmp_path / "cut.ugpcl").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged or truncated"):
        load_project(tmp_path / "cut.ugpcl")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    with h5py.File(path, "r+") as f:
        f.attrs["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(InputError, match=r"newer ugpcl-studio.*update the app"):
        load_project(path)


def test_version_0_file_migrates(tmp_path: Path) -> None:
    path = tmp_path / "old.ugpcl"
    image = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    labels = (image % 3).astype(np.uint8)
    with h5py.File(path, "w") as f:  # the prototype layout: no schema_version attribute
        f["image"] = image
        f["labels"] = labels
        f.attrs["spacing_zyx"] = [3.0, 0.5, 0.5]
        f.attrs["origin_xyz"] = [1.0, 2.0, 3.0]
        f.attrs["direction_xyz"] = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
        f.attrs["name"] = "liver"
        f.attrs["label_names"] = json.dumps(["background", "liver", "tumour"])
        f.attrs["labeled_z"] = [0, 2]
    project = load_project(path)
    pv = project.volumes[0]
    assert pv.volume.geometry.spacing_zyx == (3.0, 0.5, 0.5)
    assert pv.volume.geometry.origin_xyz == (1.0, 2.0, 3.0)
    assert pv.volume.name == "liver"
    assert pv.labels.table.names == ("background", "liver", "tumour")
    np.testing.assert_array_equal(pv.volume.image_zyx, image)
    np.testing.assert_array_equal(pv.labels.labels_zyx, labels)
    assert pv.labeled_slices["z"].tolist() == [True, False, True, False]
    assert not pv.labeled_slices["x"].any()
    save_project(path, project)  # saving writes the current schema
    with h5py.File(path, "r") as f:
        assert f.attrs["schema_version"] == SCHEMA_VERSION
    _assert_same_volume(pv, load_project(path).volumes[0])


def test_file_locked_by_another_process_is_named(tmp_path: Path) -> None:
    path = tmp_path / "p.ugpcl"
    save_project(path, _project())
    code = (
        "import sys\nfrom ugpcl_engine.io.project_file import load_project\n"
        "try:\n    load_project(sys.argv[1])\nexcept Exception as err:\n    print(err)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(ugpcl_engine.__file__).parents[1]))
    with h5py.File(path, "r+"):  # another program holds the file open for writing
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, env=env
        )
    assert "open in another program" in out.stdout
