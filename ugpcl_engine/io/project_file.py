"""The ``.ugpcl`` project file: one HDF5 file per project (h5py is used here and in the
``project_readers``, ``project_safety`` and ``project_checksums`` modules it is made of, nowhere
else).

Layout, schema version 2::

    /                          attrs: format = "ugpcl-studio project", schema_version = 2
    /runs_json                 scalar UTF-8 string: JSON list of run records
    /models_json               scalar UTF-8 string: JSON list of {"version", "path", "sha256"}
    /volumes/<i>               i = 0000, 0001, ...; attrs: name, modality, source_path ("" = none),
                               header_window (optional: the DICOM header's centre, width),
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

Every group and dataset also carries CRC-32 checksums (``attrs_crc32``, ``data_crc32``; see
``project_checksums``), verified on open. Strings (attrs and the JSON datasets) are fixed-length
UTF-8, and the file is written in the HDF5 1.10 format, whose metadata is checksummed: nothing in
the file is left to HDF5's unchecked global heap.

``save_project`` is atomic: it writes ``.<name>.<pid>.<token>.tmp`` in the same folder, fsyncs it
and ``os.replace``-s it over the old file, so a crash or a full disk never leaves a broken project.
Temps left by a killed save are removed (``remove_stale_temps``) at the next save or open in that
folder once their writer process is gone.

A project file is not trusted: before reading any data, ``load_project`` refuses links, external
or virtual storage, unknown filters, unwritten or oversized datasets (``project_safety``) and
datasets whose shape or type differ from the schema; label values outside 0..255 are refused,
never wrapped.

Schema history: version 0 was the prototype layout (one volume as root datasets ``image`` and
``labels``, root attrs ``spacing_zyx``, ``origin_xyz``, ``direction_xyz``, ``name``,
``label_names`` (JSON) and ``labeled_z`` (int indices)); ``load_project`` migrates it. Version 1
is version 2 without checksums; it loads without them (checksums are verified where present).
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.io.project_checksums import (
    array_crcs,
    reseal_slices,
    seal_attrs,
    seal_data,
    text_crcs,
)
from ugpcl_engine.io.project_data import (
    FORMAT_TAG,
    SCHEMA_VERSION,
    Project,
    ProjectVolume,
    table_codes_json,
    table_to_json,
)
from ugpcl_engine.io.project_readers import read_project
from ugpcl_engine.io.project_safety import RefusedFileError, check_array, check_file_structure
from ugpcl_engine.io.project_temps import PROJECT_SUFFIX, remove_stale_temps, temp_path_for
from ugpcl_engine.volume import AXES

_COMPRESSION: dict[str, Any] = {"compression": "gzip", "compression_opts": 1, "shuffle": True}
# The HDF5 1.10 file format checksums its metadata (object headers, chunk indexes, link
# storage), so damage there is refused by the library instead of being parsed; any HDF5 >= 1.10
# (h5py >= 2.8) reads it.
_LIBVER = ("v110", "v110")
__all__ = [
    "SCHEMA_VERSION",
    "Project",
    "ProjectVolume",
    "load_project",
    "remove_stale_temps",
    "save_project",
    "write_label_slices",
]


# ----------------------------------------------------------------------------- saving


def _stop_if(cancelled: Callable[[], bool] | None) -> None:
    if cancelled is not None and cancelled():
        raise CancelledError("save cancelled; the previous file is unchanged")


def save_project(
    path: str | Path, project: Project, cancelled: Callable[[], bool] | None = None
) -> None:
    """Write a project file atomically (temp file in the same folder, fsync, ``os.replace``).

    Args:
        path: destination ``.ugpcl`` file; an existing file is replaced only on success.
        project: what to save; arrays must match their volume's grid.
        cancelled: polled before each volume and before the temp file replaces ``path``;
            True stops the save with ``CancelledError`` and the previous file stays.

    Raises:
        CancelledError: ``cancelled()`` became true before the file was replaced.
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
    remove_stale_temps(folder, path.name)
    tmp = temp_path_for(folder / path.name)
    try:
        with h5py.File(tmp, "w", libver=_LIBVER) as f:
            _write_root(f, runs_json, models_json)
            volumes = f.create_group("volumes")
            for index, pv in enumerate(project.volumes):
                _stop_if(cancelled)
                _write_volume(volumes.create_group(f"{index:04d}"), pv)
            _seal_all_attrs(f)
        _fsync_path(tmp)
        _stop_if(cancelled)  # the last moment the old file can stay
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
    f.attrs["format"] = _fixed_text(FORMAT_TAG)
    f.attrs["schema_version"] = SCHEMA_VERSION
    for name, value in (("runs_json", runs_json), ("models_json", models_json)):
        seal_data(f.create_dataset(name, data=_fixed_text(value)), text_crcs(value))


def _fixed_text(text: str) -> np.ndarray:
    # Fixed-length UTF-8, never variable-length: those live in the HDF5 global heap, which has
    # no checksum and whose damage can hang the HDF5 library (found by the reliability fuzz).
    raw = text.encode("utf-8")
    return np.array(raw, dtype=h5py.string_dtype("utf-8", max(len(raw), 1)))


def _write_array(group: h5py.Group, name: str, array_zyx: np.ndarray) -> h5py.Dataset:
    array_zyx = np.ascontiguousarray(array_zyx)
    chunks = (1, *array_zyx.shape[1:])
    ds = group.create_dataset(name, data=array_zyx, chunks=chunks, **_COMPRESSION)
    seal_data(ds, array_crcs(array_zyx))
    return ds


def _seal_all_attrs(f: h5py.File) -> None:
    # Last, when every attribute and member is in place: a group's checksum covers its members.
    names: list[str] = []
    f.visit(names.append)
    for name in names:
        seal_attrs(f[name])
    seal_attrs(f)


def _write_volume(group: h5py.Group, pv: ProjectVolume) -> None:
    geometry = pv.volume.geometry
    group.attrs["name"] = _fixed_text(pv.volume.name)
    group.attrs["modality"] = _fixed_text(pv.volume.modality)
    group.attrs["source_path"] = _fixed_text(pv.source_path or "")
    if pv.volume.header_window is not None:  # (centre, width); optional, absent = none
        group.attrs["header_window"] = np.asarray(pv.volume.header_window, dtype=np.float64)
    group.attrs["shape_zyx"] = np.asarray(geometry.shape_zyx, dtype=np.int64)
    group.attrs["spacing_zyx"] = np.asarray(geometry.spacing_zyx, dtype=np.float64)
    group.attrs["origin_xyz"] = np.asarray(geometry.origin_xyz, dtype=np.float64)
    group.attrs["direction_xyz"] = np.asarray(geometry.direction_xyz, dtype=np.float64)
    group.attrs["label_table_json"] = _fixed_text(table_to_json(pv.labels.table))
    codes = table_codes_json(pv.labels.table)
    if codes is not None:  # absent in projects without codes (and in those written before)
        group.attrs["label_codes_json"] = _fixed_text(codes)
    _write_array(group, "image_zyx", pv.volume.image_zyx)
    _write_array(group, "labels_zyx", pv.labels.labels_zyx)
    marks = group.create_group("labeled_slices")
    for axis in AXES:
        length = geometry.shape_zyx[AXES[axis]]
        mask = np.asarray(pv.labeled_slices.get(axis, np.zeros(length, dtype=bool)), dtype=bool)
        seal_data(marks.create_dataset(axis, data=mask), array_crcs(mask))
    for kind, arrays in (("predictions", pv.predictions), ("uncertainty", pv.uncertainty)):
        sub = group.create_group(kind)
        for k, (version, array) in enumerate(arrays.items()):
            _write_array(sub, str(k), array).attrs["model_version"] = _fixed_text(version)


# ----------------------------------------------------------------------------- loading


def load_project(path: str | Path) -> Project:
    """Read a project file, migrating older schema versions.

    Nothing is read from a dataset before the whole file passed the structure checks
    (``project_safety.check_file_structure``) and the dataset matched the schema's shape and
    type; every checksum in the file is verified (schema 2 requires them). Stale save temps in
    the file's folder are removed first (``remove_stale_temps``).

    Args:
        path: a ``.ugpcl`` file.

    Returns:
        The project with every array loaded into memory.

    Raises:
        InputError: missing file, not an HDF5 file, not a ugpcl-studio project, damaged or
            truncated file (checksum mismatch), a file that reaches outside itself (links,
            external or virtual storage) or breaks the schema (shapes, types, sizes, label
            values above 255), or a file written by a newer ugpcl-studio.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Project file not found: {path}. Check the path and try again.")
    remove_stale_temps(path.parent)  # temps of every project in the folder
    if not path.name.endswith(PROJECT_SUFFIX):
        remove_stale_temps(path.parent, path.name)
    if not h5py.is_hdf5(path):
        raise InputError(f"{path.name} is not a ugpcl-studio project (not an HDF5 file).")
    try:
        with h5py.File(path, "r") as f:
            return read_project(f, path)
    except RefusedFileError as err:
        raise InputError(f"Cannot open {path.name}: {err}") from None
    except InputError:
        raise
    except MemoryError:
        raise InputError(
            f"Not enough memory to open {path.name}; close other programs and try again."
        ) from None
    except _DAMAGE_ERRORS as err:
        raise InputError(_damaged_message(path, err)) from None


# what h5py, numpy, json and the dataclasses raise on a damaged file
_DAMAGE_ERRORS = (
    OSError,
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    ArithmeticError,
    RuntimeError,
)


def _damaged_message(path: Path, err: BaseException) -> str:
    if "unable to lock" in str(err).lower():
        return f"{path.name} is open in another program; close it there and try again."
    return (
        f"The project file {path.name} is damaged or truncated ({str(err).strip()[:120]}); "
        "open a backup copy, or start a new project and import the volume again."
    )


# ----------------------------------------------------------------------------- fast path


def write_label_slices(
    path: str | Path, volume_index: int, labels_zyx: np.ndarray, z_slices: Sequence[int]
) -> None:
    """Overwrite some axial label slices of a saved project in place (autosave fast path).

    Only the chunks of the given z slices are rewritten (one chunk per slice), and their
    checksums, so this costs milliseconds where ``save_project`` rewrites the whole file. It is
    not atomic: a crash in the middle can damage the file, so call it only while the edit
    journal still holds these edits, and clear the journal after it returns. Labeled-slice
    marks, predictions and records are not touched; use ``save_project`` for those.

    Args:
        path: an existing project file of the current schema.
        volume_index: which volume (index into ``Project.volumes``).
        labels_zyx: the full uint8 label volume (Z, Y, X) of that volume.
        z_slices: the axial slice indices to write.

    Raises:
        InputError: the file is missing, read-only, of another schema, reaches outside itself
            (see ``load_project``), or does not hold such a volume or slice.
        ValueError: ``labels_zyx`` is not uint8 (casting would wrap values above 255).
    """
    path = Path(path)
    if labels_zyx.dtype != np.uint8:
        raise ValueError(f"labels must be uint8, got {labels_zyx.dtype}")
    try:
        with h5py.File(path, "r+") as f:
            _write_slices(f, path, volume_index, labels_zyx, z_slices)
        _fsync_path(path)
    except RefusedFileError as err:
        raise InputError(f"Cannot update {path.name}: {err}") from None
    except InputError:
        raise
    except (OSError, KeyError, IndexError, ValueError) as err:
        raise InputError(
            f"Could not update the labels in {path.name} ({str(err).strip()[:120]}); "
            "save the whole project instead (the edit journal still holds your strokes)."
        ) from None


def _write_slices(
    f: h5py.File, path: Path, volume_index: int, labels_zyx: np.ndarray, z_slices: Sequence[int]
) -> None:
    if int(f.attrs.get("schema_version", 0)) != SCHEMA_VERSION:
        raise InputError(f"{path.name} has an older layout; save the project fully first.")
    check_file_structure(f, plain_types=True)  # never write through a link or into another file
    ds = f["volumes"][f"{volume_index:04d}"]["labels_zyx"]
    if tuple(ds.shape) != tuple(labels_zyx.shape):
        raise InputError(f"Labels of shape {labels_zyx.shape} do not fit {ds.shape}.")
    check_array(ds, f"/volumes/{volume_index:04d}/labels_zyx", labels_zyx.shape, "u")
    slices = sorted({int(z) for z in z_slices})
    if slices and (slices[0] < 0 or slices[-1] >= ds.shape[0]):
        raise InputError(f"Slice indices {slices} lie outside 0..{ds.shape[0] - 1}.")
    for z in slices:
        ds[z] = labels_zyx[z]
    reseal_slices(ds, labels_zyx, slices)
