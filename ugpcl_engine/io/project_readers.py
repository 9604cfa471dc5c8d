"""Readers of every ``.ugpcl`` schema version (part of project_file; see its layout).

``read_project`` first refuses what reaches outside the file (``project_safety``), then each
reader checks every dataset's shape and type against the schema before reading any data, and
verifies the checksums of what it read (``project_checksums``; required from schema 2).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.project_checksums import verify_attrs, verify_data
from ugpcl_engine.io.project_data import (
    FORMAT_TAG,
    SCHEMA_VERSION,
    Project,
    ProjectVolume,
    table_from_json,
    table_with_codes,
)
from ugpcl_engine.io.project_safety import (
    as_labels,
    check_array,
    check_attribute_types,
    check_file_structure,
    check_text,
    refuse,
)
from ugpcl_engine.volume import AXES, LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry


def read_project(f: h5py.File, path: Path) -> Project:
    """Check and read an open project file of any schema version.

    Args:
        f: the file, open for reading.
        path: its path, for messages.

    Returns:
        The project, every array in memory.

    Raises:
        InputError: newer schema, not a project, or refused by the checks (a
            ``project_safety.RefusedFileError`` whose message lacks the file name).
        OSError, KeyError, ValueError, TypeError, IndexError, ArithmeticError, RuntimeError:
            the file is damaged in a way h5py, numpy or json notice first.
    """
    version = _schema_version(f, path)
    _check_format(f, path, version)
    check_file_structure(f, plain_types=version >= 2)
    return _READERS[version](f)


def _schema_version(f: h5py.File, path: Path) -> int:
    if "schema_version" in f.attrs:
        # read only once its type is known to be a plain integer (see check_attribute_types)
        kind = f.attrs.get_id("schema_version").get_type()
        if kind.get_class() != h5py.h5t.INTEGER:
            raise refuse("the schema version is not a number", "the file is damaged")
    version = int(f.attrs.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{path.name} was made by a newer ugpcl-studio (project schema {version}, this app "
            f"reads up to {SCHEMA_VERSION}); update the app to open it."
        )
    if version < 0:
        raise refuse(f"the schema version {version} is negative", "the file is damaged")
    return version


def _check_format(f: h5py.File, path: Path, version: int) -> None:
    if version >= 2:
        check_attribute_types(f, "/")
    is_v0 = version == 0 and "image" in f and "labels" in f
    if not is_v0 and _text(f.attrs.get("format")) != FORMAT_TAG:
        raise InputError(f"{path.name} is an HDF5 file but not a ugpcl-studio project.")


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class _Checked:
    """A volume group whose attributes and dataset shapes/types passed; no data read yet."""

    group: h5py.Group
    where: str
    geometry: VolumeGeometry
    required: bool


def _read_current(f: h5py.File, required: bool) -> Project:
    verify_attrs(f, "/", required)
    for name in ("runs_json", "models_json"):
        check_text(f[name], f"/{name}")
    volumes = f["volumes"]
    verify_attrs(volumes, "/volumes", required)
    checked = [
        _check_volume(volumes[key], f"/volumes/{key}", required) for key in sorted(volumes, key=int)
    ]
    return Project(
        volumes=[_read_volume(c) for c in checked],
        runs=json.loads(_read_text(f["runs_json"], "/runs_json", required)),
        models=json.loads(_read_text(f["models_json"], "/models_json", required)),
    )


def _read_v1(f: h5py.File) -> Project:
    return _read_current(f, required=False)


def _read_v2(f: h5py.File) -> Project:
    return _read_current(f, required=True)


def _read_text(ds: h5py.Dataset, where: str, required: bool) -> str:
    raw = ds[()]
    raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    verify_data(ds, raw, where, required)
    return raw.decode("utf-8")


def _read_array(ds: h5py.Dataset, where: str, required: bool) -> np.ndarray:
    array = np.asarray(ds[()])
    verify_data(ds, array, where, required)
    return array


def _check_volume(group: h5py.Group, where: str, required: bool) -> _Checked:
    verify_attrs(group, where, required)
    a = group.attrs
    geometry = VolumeGeometry(
        shape_zyx=_triple(a["shape_zyx"], int),
        spacing_zyx=_triple(a["spacing_zyx"], float),
        origin_xyz=_triple(a["origin_xyz"], float),
        direction_xyz=tuple(float(v) for v in a["direction_xyz"]),
    )
    shape = geometry.shape_zyx
    check_array(group["image_zyx"], f"{where}/image_zyx", shape, "biuf")
    check_array(group["labels_zyx"], f"{where}/labels_zyx", shape, "biu")
    marks = group["labeled_slices"]
    verify_attrs(marks, f"{where}/labeled_slices", required)
    for axis, index in AXES.items():
        check_array(marks[axis], f"{where}/labeled_slices/{axis}", (shape[index],), "biu")
    for kind, kinds in (("predictions", "biu"), ("uncertainty", "f")):
        verify_attrs(group[kind], f"{where}/{kind}", required)
        for key in group[kind]:
            check_array(group[kind][key], f"{where}/{kind}/{key}", shape, kinds)
    return _Checked(group, where, geometry, required)


def _header_window(value: object) -> tuple[float, float] | None:
    """The optional ``header_window`` attribute: (centre, width) when it is two finite numbers
    with a positive width, else None (a damaged value only loses the window, not the volume)."""
    if value is None:
        return None
    try:
        array = np.asarray(value, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
    if array.size != 2 or not np.all(np.isfinite(array)) or array[1] <= 0:
        return None
    return (float(array[0]), float(array[1]))


def _read_volume(c: _Checked) -> ProjectVolume:
    group, where, required, a = c.group, c.where, c.required, c.group.attrs
    image = _read_array(group["image_zyx"], f"{where}/image_zyx", required)
    labels = _read_array(group["labels_zyx"], f"{where}/labels_zyx", required)
    marks = {
        axis: _read_array(group["labeled_slices"][axis], f"{where}/labeled_slices/{axis}", required)
        for axis in AXES
    }
    return ProjectVolume(
        volume=Volume(
            image,
            c.geometry,
            name=_text(a["name"]),
            modality=_text(a["modality"]),
            header_window=_header_window(a.get("header_window")),
        ),
        labels=LabelMap(
            as_labels(labels, f"the labels of {where}"),
            c.geometry,
            table_with_codes(
                table_from_json(_text(a["label_table_json"])),
                _text(a["label_codes_json"]) if "label_codes_json" in a else None,
            ),
        ),
        labeled_slices={axis: mark.astype(bool) for axis, mark in marks.items()},
        source_path=_text(a["source_path"]) or None,
        predictions={
            v: as_labels(p, f"the prediction {v!r} of {where}")
            for v, p in _read_versioned(group["predictions"], f"{where}/predictions", required)
        },
        uncertainty=dict(_read_versioned(group["uncertainty"], f"{where}/uncertainty", required)),
    )


def _read_versioned(group: h5py.Group, where: str, required: bool) -> list[tuple[str, np.ndarray]]:
    return [
        (_text(group[k].attrs["model_version"]), _read_array(group[k], f"{where}/{k}", required))
        for k in sorted(group, key=int)
    ]


def _triple(values: Any, kind: Callable[[Any], Any]) -> Any:
    items = tuple(kind(v) for v in values)
    if len(items) != 3:
        raise ValueError(f"expected three values, got {len(items)}")
    return items


def _read_v0(f: h5py.File) -> Project:
    a = f.attrs
    image_ds = f["image"]
    if image_ds.ndim != 3:
        raise refuse(f"/image has {image_ds.ndim} dimensions where 3 are expected")
    shape = (int(image_ds.shape[0]), int(image_ds.shape[1]), int(image_ds.shape[2]))
    check_array(image_ds, "/image", shape, "biuf")
    check_array(f["labels"], "/labels", shape, "biuf")
    geometry = VolumeGeometry(
        shape_zyx=shape,
        spacing_zyx=_triple(a["spacing_zyx"], float),
        origin_xyz=_triple(a["origin_xyz"], float),
        direction_xyz=tuple(float(v) for v in a["direction_xyz"]),
    )
    names = json.loads(_text(a["label_names"]))
    default = LabelTable.default(max(len(names), 2))
    table = LabelTable(
        tuple(
            LabelClass(c.value, str(n), c.color_rgb)
            for c, n in zip(default.classes, names, strict=False)
        )
    )
    marks = {axis: np.zeros(geometry.shape_zyx[i], dtype=bool) for axis, i in AXES.items()}
    marks["z"][_v0_marked_slices(a.get("labeled_z", []), shape[0])] = True
    pv = ProjectVolume(
        volume=Volume(image_ds[()], geometry, name=_text(a.get("name", "volume"))),
        labels=LabelMap(as_labels(f["labels"][()], "the labels"), geometry, table),
        labeled_slices=marks,
    )
    return Project(volumes=[pv])


def _v0_marked_slices(values: Any, depth: int) -> np.ndarray:
    indices = np.asarray(values, dtype=np.int64).ravel()
    if indices.size and (indices.min() < 0 or indices.max() >= depth):
        raise refuse(f"the labeled slices {indices.tolist()} lie outside 0..{depth - 1}")
    return indices


_READERS: dict[int, Callable[[h5py.File], Project]] = {0: _read_v0, 1: _read_v1, 2: _read_v2}
