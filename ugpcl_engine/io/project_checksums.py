"""CRC-32 checksums of everything a ``.ugpcl`` file stores (part of project_file).

From schema 2 on, every group and dataset of a project carries ``attrs_crc32``: the CRC-32 of its
other attributes (names and values) and, for a group, of its member names, so a damaged spacing,
label table or a lost volume is caught. Every dataset also carries ``data_crc32``: the CRC-32 of
its values (one per axial slice for 3-D arrays, so ``write_label_slices`` updates only the
slices it rewrites; one for anything else), seeded with the value type, so a flipped sign or
byte-order bit in the stored type is caught too. ``load_project`` verifies every checksum present
(required from schema 2, optional before) right after reading each dataset.

The checksums find damage (bad sectors, truncated copies, bit flips); they do not authenticate. A
crafted file can carry matching checksums, which is why ``project_safety`` checks links, storage
and sizes first.
"""

from __future__ import annotations

import zlib
from typing import Any

import h5py
import numpy as np

from ugpcl_engine.io.project_safety import refuse

DATA_CRC = "data_crc32"
ATTRS_CRC = "attrs_crc32"
_OWN = frozenset({DATA_CRC, ATTRS_CRC})
_DAMAGED = "the file is damaged"


def array_crcs(array: np.ndarray) -> np.ndarray:
    """Return the CRC-32 of each axial slice of a 3-D array, or of the whole of another array.

    Args:
        array: numbers or bools, any byte order (values, not bytes, are summed up).

    Returns:
        uint32 array: (Z,) for a 3-D array, (1,) otherwise.
    """
    values = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
    seed = zlib.crc32(f"{values.dtype.kind}{values.dtype.itemsize}".encode())
    parts: list[np.ndarray] = list(values) if values.ndim == 3 else [values]
    return np.array([zlib.crc32(part.data, seed) for part in parts], dtype=np.uint32)


def text_crcs(text: str | bytes) -> np.ndarray:
    """Return the CRC-32 of a string's UTF-8 bytes as a (1,) uint32 array."""
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    return np.array([zlib.crc32(raw)], dtype=np.uint32)


def attrs_crc(obj: h5py.HLObject) -> int:
    """Return the CRC-32 of an object's attributes (but its own checksums) and member names.

    Args:
        obj: a group or dataset; a group's member names count, in sorted order.
    """
    crc = 0
    for name in sorted(obj.attrs):
        if name not in _OWN:
            crc = zlib.crc32(b"attr\0" + name.encode() + b"\0" + _value_bytes(obj.attrs[name]), crc)
    if isinstance(obj, h5py.Group):
        for name in sorted(obj):
            crc = zlib.crc32(b"member\0" + name.encode() + b"\0", crc)
    return crc


def _value_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        return b"\x1f".join(_value_bytes(v) for v in array.ravel().tolist())
    head = f"{array.dtype.kind}{array.dtype.itemsize}{array.shape}".encode()
    return head + np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<")).tobytes()


def seal_attrs(obj: h5py.HLObject) -> None:
    """Store ``attrs_crc32`` on an object; call it after its attributes and members are final."""
    obj.attrs[ATTRS_CRC] = np.uint32(attrs_crc(obj))


def seal_data(ds: h5py.Dataset, crcs: np.ndarray) -> None:
    """Store ``data_crc32`` (from ``array_crcs`` or ``text_crcs``) on ``ds``.

    ``attrs_crc32`` is not part of it (``seal_attrs`` it once its attributes are final).
    """
    ds.attrs[DATA_CRC] = crcs


def verify_attrs(obj: h5py.HLObject, where: str, required: bool) -> None:
    """Compare an object's ``attrs_crc32`` with its attributes and members.

    Args:
        obj: a group or dataset.
        where: its path, for the message.
        required: refuse an object without a checksum (schema 2 and later).

    Raises:
        InputError: the checksum is missing (when required) or does not match.
    """
    stored = obj.attrs.get(ATTRS_CRC)
    if stored is None:
        if required:
            raise refuse(f"{where} has no checksum", _DAMAGED)
        return
    if not np.array_equal(np.asarray(stored), np.uint32(attrs_crc(obj))):
        raise refuse(f"the attributes or members of {where} do not match their checksum", _DAMAGED)


def verify_data(ds: h5py.Dataset, values: np.ndarray | bytes, where: str, required: bool) -> None:
    """Compare a dataset's ``data_crc32`` (and ``attrs_crc32``) with the values just read.

    Args:
        ds: the dataset.
        values: what was read from it (an array, or the bytes of a text dataset).
        where: its path, for the message.
        required: refuse a dataset without checksums (schema 2 and later).

    Raises:
        InputError: a checksum is missing (when required) or does not match.
    """
    verify_attrs(ds, where, required)
    stored = ds.attrs.get(DATA_CRC)
    if stored is None:
        if required:
            raise refuse(f"{where} has no checksum", _DAMAGED)
        return
    crcs = text_crcs(values) if isinstance(values, bytes) else array_crcs(values)
    stored = np.asarray(stored)
    if stored.shape != crcs.shape:
        raise refuse(f"{where} does not match its checksum", _DAMAGED)
    bad = np.flatnonzero(stored != crcs)
    if bad.size:
        part = f" (axial slice {int(bad[0])})" if crcs.size > 1 else ""
        raise refuse(f"the values of {where} do not match their checksum{part}", _DAMAGED)


def reseal_slices(ds: h5py.Dataset, labels_zyx: np.ndarray, z_slices: list[int]) -> None:
    """Update ``data_crc32`` of a 3-D dataset after its slices ``z_slices`` were rewritten.

    Args:
        ds: a sealed 3-D dataset.
        labels_zyx: the full array whose slices were written (Z, Y, X).
        z_slices: the rewritten axial slices.
    """
    crcs = np.array(ds.attrs[DATA_CRC], dtype=np.uint32)
    for z in z_slices:
        crcs[z] = array_crcs(labels_zyx[z : z + 1])[0]
    ds.attrs[DATA_CRC] = crcs
