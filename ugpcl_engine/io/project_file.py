"""The ``.ugpcl`` project file: one HDF5 file per project (the only h5py user).

Layout, schema version 1::

    /                          attrs: format = "ugpcl-studio project", schema_version = 1
    /runs_json                 scalar UTF-8 string: JSON list of run records
    /models_json               scalar UTF-8 string: JSON list of {"version", "path", "sha256"}
    /volumes/<i>               i = 0000, 0001, ...; attrs: name, modality, source_path ("" = none),
                               shape_zyx, spacing_zyx, origin_xyz, direction_xyz,
                               label_table_json (JSON list of [value, name, [r, g, b]])
        image_zyx              (Z, Y, X) source dtype; a cached copy even when source_path is set
        labels_zyx             (Z, Y, X) uint8
        labeled_slices/<axis>  bool, length of that axis, for the axes "z", "y", "x"
        predictions/<k>        (Z, Y, X) uint8; attr model_version
        uncertainty/<k>        (Z, Y, X) float16 or float32 entropy; attr model_version

Every 3-D dataset is chunked one axial slice per chunk, ``(1, Y, X)``, and compressed with gzip
level 1 + byte shuffle (a filter every HDF5 build reads; level 1 keeps saving fast). A painted
axial slice therefore rewrites one compressed chunk (``write_label_slices``); edits on a coronal or
sagittal slice touch every chunk. Model version ids live in attrs, not in dataset names, because
an id may hold a ``/``. JSON records sit in string datasets rather than attrs because attrs are
limited to 64 KiB.

``save_project`` is atomic: it writes ``.<name>.<pid>.tmp`` in the same folder, fsyncs it and
``os.replace``-s it over the old file, so a crash or a full disk never leaves a broken project.

Schema history: version 0 was the prototype layout (one volume as root datasets ``image`` and
``labels``, root attrs ``spacing_zyx``, ``origin_xyz``, ``direction_xyz``, ``name``,
``label_names`` (JSON) and ``labeled_z`` (int indices)); ``load_project`` migrates it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import (
    AXES,
    LabelClass,
    LabelMap,
    LabelTable,
    Volume,
    VolumeGeometry,
)

SCHEMA_VERSION = 1
FORMAT_TAG = "ugpcl-studio project"
_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 1, "shuffle": True}


@dataclass
class ProjectVolume:
    """One volume of a project with everything drawn on it.

    Attributes:
        volume: the image (``image_zyx`` + geometry, name, modality).
        labels: uint8 ``labels_zyx`` on the same grid, with its label table.
        labeled_slices: axis ``"z"``/``"y"``/``"x"`` -> bool array of that axis' length; True
            marks a slice the user labeled. ``load_project`` always returns all three axes.
        source_path: the original file or DICOM folder, if any (the image is cached anyway).
        predictions: model version id -> uint8 ``labels_zyx`` predicted by that model.
        uncertainty: model version id -> float16/float32 ``entropy_zyx`` of that model.
    """

    volume: Volume
    labels: LabelMap
    labeled_slices: dict[str, np.ndarray]
    source_path: str | None = None
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Project:
    """Everything a ``.ugpcl`` file holds.

    Attributes:
        volumes: the project's volumes, in order (``volume_index`` counts in this list).
        runs: run records (config, metrics, timings, version id, label snapshot hash); JSON-able.
        models: model files, ``{"version": str, "path": str, "sha256": str}``; JSON-able.
    """

    volumes: list[ProjectVolume]
    runs: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)


# ----------------------------------------------------------------------------- saving


def save_project(path: str | Path, project: Project) -> None:
    """Write a project file atomically (temp file in the same folder, fsync, ``os.replace``).

    Args:
        path: destination ``.ugpcl`` file; an existing file is replaced only on success.
        project: what to save; arrays must match their volume's grid.

    Raises:
        InputError: the folder is missing or read-only, or the disk is full; the previous
            file is left as it was.
        ValueError: the project is inconsistent (wrong shapes or dtypes, records not JSON-able).
    """
    path = Path(path)
    _check_project(project)
    runs_json, models_json = _records_json(project)
    folder = path.absolute().parent
    if not folder.is_dir():
        raise InputError(f"Cannot save {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise InputError(_write_error_message(path, OSError(errno.EACCES, "Permission denied")))
    _remove_stale_temps(folder, path.name)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp"
    try:
        with h5py.File(tmp, "w") as f:
            _write_root(f, runs_json, models_json)
            volumes = f.create_group("volumes")
            for index, pv in enumerate(project.volumes):
                _write_volume(volumes.create_group(f"{index:04d}"), pv)
        _fsync_path(tmp)
        os.replace(tmp, path)
        _fsync_dir(folder)
    except OSError as err:
        raise InputError(_write_error_message(path, err)) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _write_error_message(path: Path, err: OSError) -> str:
    text = str(err)
    if err.errno == errno.ENOSPC or "No space left" in text:
        why = "the disk is full; free some space or save to another drive"
    elif err.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or "ermission denied" in text:
        why = "the location is read-only; save the project to a folder you can write to"
    else:
        why = f"{text.strip()[:160]}; check the folder and the free disk space"
    return f"Could not save the project to {path}: {why}. The previous file was left unchanged."


def _remove_stale_temps(folder: Path, name: str) -> None:
    # Temp files left by a save that was killed; they never replace the project, so drop them.
    for stale in folder.glob(f".{name}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    # Makes the rename durable; not every platform can open a folder (Windows), which is fine.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _check_project(project: Project) -> None:
    for index, pv in enumerate(project.volumes):
        shape = tuple(pv.volume.geometry.shape_zyx)
        where = f"volume {index} ({pv.volume.name})"
        if tuple(pv.labels.labels_zyx.shape) != shape or pv.labels.labels_zyx.dtype != np.uint8:
            raise ValueError(f"{where}: labels must be uint8 of shape {shape}")
        for axis, marks in pv.labeled_slices.items():
            if axis not in AXES or marks.shape != (shape[AXES[axis]],):
                raise ValueError(f"{where}: labeled_slices[{axis!r}] has shape {marks.shape}")
        for version, pred in pv.predictions.items():
            if pred.shape != shape or pred.dtype != np.uint8:
                raise ValueError(f"{where}: prediction {version!r} must be uint8 of shape {shape}")
        for version, unc in pv.uncertainty.items():
            if unc.shape != shape or unc.dtype not in (np.float16, np.float32):
                raise ValueError(f"{where}: uncertainty {version!r} must be float16/32 {shape}")


def _records_json(project: Project) -> tuple[str, str]:
    try:
        return json.dumps(project.runs), json.dumps(project.models)
    except (TypeError, ValueError) as err:
        raise ValueError(f"run and model records must be JSON-serialisable: {err}") from None


def _write_root(f: h5py.File, runs_json: str, models_json: str) -> None:
    f.attrs["format"] = FORMAT_TAG
    f.attrs["schema_version"] = SCHEMA_VERSION
    text = h5py.string_dtype("utf-8")
    f.create_dataset("runs_json", data=runs_json, dtype=text)
    f.create_dataset("models_json", data=models_json, dtype=text)


def _write_array(group: h5py.Group, name: str, array_zyx: np.ndarray) -> h5py.Dataset:
    array_zyx = np.ascontiguousarray(array_zyx)
    chunks = (1, *array_zyx.shape[1:])
    return group.create_dataset(name, data=array_zyx, chunks=chunks, **_COMPRESSION)


def _write_volume(group: h5py.Group, pv: ProjectVolume) -> None:
    geometry = pv.volume.geometry
    group.attrs["name"] = pv.volume.name
    group.attrs["modality"] = pv.volume.modality
    group.attrs["source_path"] = pv.source_path or ""
    group.attrs["shape_zyx"] = np.asarray(geometry.shape_zyx, dtype=np.int64)
    group.attrs["spacing_zyx"] = np.asarray(geometry.spacing_zyx, dtype=np.float64)
    group.attrs["origin_xyz"] = np.asarray(geometry.origin_xyz, dtype=np.float64)
    group.attrs["direction_xyz"] = np.asarray(geometry.direction_xyz, dtype=np.float64)
    group.attrs["label_table_json"] = _table_to_json(pv.labels.table)
    _write_array(group, "image_zyx", pv.volume.image_zyx)
    _write_array(group, "labels_zyx", pv.labels.labels_zyx)
    marks = group.create_group("labeled_slices")
    for axis in AXES:
        length = geometry.shape_zyx[AXES[axis]]
        mask = pv.labeled_slices.get(axis, np.zeros(length, dtype=bool))
        marks.create_dataset(axis, data=np.asarray(mask, dtype=bool))
    for kind, arrays in (("predictions", pv.predictions), ("uncertainty", pv.uncertainty)):
        sub = group.create_group(kind)
        for k, (version, array) in enumerate(arrays.items()):
            _write_array(sub, str(k), array).attrs["model_version"] = version


def _table_to_json(table: LabelTable) -> str:
    return json.dumps([[c.value, c.name, list(c.color_rgb)] for c in table.classes])


def _table_from_json(text: str) -> LabelTable:
    rows = json.loads(text)
    return LabelTable(
        tuple(LabelClass(int(v), str(n), (int(c[0]), int(c[1]), int(c[2]))) for v, n, c in rows)
    )


# ----------------------------------------------------------------------------- loading


def load_project(path: str | Path) -> Project:
    """Read a project file, migrating older schema versions.

    Args:
        path: a ``.ugpcl`` file.

    Returns:
        The project with every array loaded into memory.

    Raises:
        InputError: missing file, not an HDF5 file, not a ugpcl-studio project, damaged or
            truncated file, or a file written by a newer ugpcl-studio.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Project file not found: {path}. Check the path and try again.")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path.name} is not a ugpcl-studio project (not an HDF5 file).")
    try:
        with h5py.File(path, "r") as f:
            version = _schema_version(f, path)
            return _READERS[version](f)
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as err:
        if "unable to lock" in str(err).lower():
            raise InputError(
                f"{path.name} is open in another program; close it there and try again."
            ) from None
        raise InputError(
            f"The project file {path.name} is damaged or truncated ({str(err).strip()[:120]}); "
            "open a backup copy, or start a new project and import the volume again."
        ) from None


def _schema_version(f: h5py.File, path: Path) -> int:
    version = int(f.attrs.get("schema_version", 0))
    if version > SCHEMA_VERSION:
        raise InputError(
            f"{path.name} was made by a newer ugpcl-studio (project schema {version}, this app "
            f"reads up to {SCHEMA_VERSION}); update the app to open it."
        )
    is_v0 = version == 0 and "image" in f and "labels" in f
    if not is_v0 and f.attrs.get("format") != FORMAT_TAG:
        raise InputError(f"{path.name} is an HDF5 file but not a ugpcl-studio project.")
    return version


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _read_v1(f: h5py.File) -> Project:
    volumes = [_read_volume(f["volumes"][key]) for key in sorted(f["volumes"], key=int)]
    runs = json.loads(_text(f["runs_json"][()]))
    models = json.loads(_text(f["models_json"][()]))
    return Project(volumes=volumes, runs=runs, models=models)


def _read_volume(group: h5py.Group) -> ProjectVolume:
    a = group.attrs
    geometry = VolumeGeometry(
        shape_zyx=_triple(a["shape_zyx"], int),
        spacing_zyx=_triple(a["spacing_zyx"], float),
        origin_xyz=_triple(a["origin_xyz"], float),
        direction_xyz=tuple(float(v) for v in a["direction_xyz"]),
    )
    volume = Volume(
        group["image_zyx"][()], geometry, name=_text(a["name"]), modality=_text(a["modality"])
    )
    table = _table_from_json(_text(a["label_table_json"]))
    labels = LabelMap(group["labels_zyx"][()].astype(np.uint8, copy=False), geometry, table)
    marks = {axis: group["labeled_slices"][axis][()].astype(bool) for axis in AXES}
    return ProjectVolume(
        volume=volume,
        labels=labels,
        labeled_slices=marks,
        source_path=_text(a["source_path"]) or None,
        predictions=_read_versioned(group["predictions"]),
        uncertainty=_read_versioned(group["uncertainty"]),
    )


def _read_versioned(group: h5py.Group) -> dict[str, np.ndarray]:
    keys = sorted(group, key=int)
    return {_text(group[k].attrs["model_version"]): group[k][()] for k in keys}


def _triple(values: Any, kind: Callable[[Any], Any]) -> Any:
    items = tuple(kind(v) for v in values)
    if len(items) != 3:
        raise ValueError(f"expected three values, got {len(items)}")
    return items


def _read_v0(f: h5py.File) -> Project:
    a = f.attrs
    image = f["image"][()]
    geometry = VolumeGeometry(
        shape_zyx=(int(image.shape[0]), int(image.shape[1]), int(image.shape[2])),
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
    marks["z"][np.asarray(a.get("labeled_z", []), dtype=np.int64)] = True
    pv = ProjectVolume(
        volume=Volume(image, geometry, name=_text(a.get("name", "volume"))),
        labels=LabelMap(f["labels"][()].astype(np.uint8), geometry, table),
        labeled_slices=marks,
    )
    return Project(volumes=[pv])


_READERS: dict[int, Callable[[h5py.File], Project]] = {0: _read_v0, 1: _read_v1}


# ----------------------------------------------------------------------------- fast path


def write_label_slices(
    path: str | Path, volume_index: int, labels_zyx: np.ndarray, z_slices: Sequence[int]
) -> None:
    """Overwrite some axial label slices of a saved project in place (autosave fast path).

    Only the chunks of the given z slices are rewritten (one chunk per slice), so this costs
    milliseconds where ``save_project`` rewrites the whole file. It is not atomic: a crash in
    the middle can damage the file, so call it only while the edit journal still holds these
    edits, and clear the journal after it returns. Labeled-slice marks, predictions and records
    are not touched; use ``save_project`` for those.

    Args:
        path: an existing project file of the current schema.
        volume_index: which volume (index into ``Project.volumes``).
        labels_zyx: the full uint8 label volume (Z, Y, X) of that volume.
        z_slices: the axial slice indices to write.

    Raises:
        InputError: the file is missing, read-only, of another schema, or does not hold
            such a volume or slice.
    """
    path = Path(path)
    try:
        with h5py.File(path, "r+") as f:
            if int(f.attrs.get("schema_version", 0)) != SCHEMA_VERSION:
                raise InputError(f"{path.name} has an older layout; save the project fully first.")
            ds = f["volumes"][f"{volume_index:04d}"]["labels_zyx"]
            if tuple(ds.shape) != tuple(labels_zyx.shape):
                raise InputError(f"Labels of shape {labels_zyx.shape} do not fit {ds.shape}.")
            slices = sorted({int(z) for z in z_slices})
            if slices and (slices[0] < 0 or slices[-1] >= ds.shape[0]):
                raise InputError(f"Slice indices {slices} lie outside 0..{ds.shape[0] - 1}.")
            for z in slices:
                ds[z] = np.asarray(labels_zyx[z], dtype=np.uint8)
        _fsync_path(path)
    except InputError:
        raise
    except (OSError, KeyError, IndexError, ValueError) as err:
        raise InputError(
            f"Could not update the labels in {path.name} ({str(err).strip()[:120]}); "
            "save the whole project instead (the edit journal still holds your strokes)."
        ) from None
