"""Checks a ``.ugpcl`` file must pass before any of its data is read (part of project_file).

A project file comes from anywhere: a crafted one must not make the app read other local files or
allocate gigabytes. ``check_file_structure`` walks every link of the file, without following any,
and refuses what a project never holds: soft, external and user-defined links, objects linked
twice, datasets whose data lives outside the file (HDF5 external storage, virtual datasets),
filters that would load a plugin, datasets larger than ``MAX_VOXELS`` or with an axis longer than
``MAX_AXIS``, and datasets with parts never written (reading those would hand back fill values,
gigabytes of them from a file of kilobytes). ``check_array`` then compares one dataset with the
shape and dtype kinds the schema expects, still before reading it.

Every refusal is an ``InputError`` whose message is a clause about the file; ``load_project``
prefixes the file name.
"""

from __future__ import annotations

import math

import h5py
import numpy as np

from ugpcl_engine.errors import InputError

MAX_AXIS = 1 << 15
MAX_VOXELS = 1 << 31
MAX_OBJECTS = 100_000
_ALLOWED_FILTERS = frozenset(
    {
        h5py.h5z.FILTER_DEFLATE,
        h5py.h5z.FILTER_SHUFFLE,
        h5py.h5z.FILTER_FLETCHER32,
        h5py.h5z.FILTER_LZF,
    }
)
_ADVICE = "open a backup copy, or start a new project and import the volume again"


class RefusedFileError(InputError):
    """A project file broke a rule; the message is a clause that ``load_project`` prefixes."""


def refuse(what: str, why: str = "a project file never holds that") -> RefusedFileError:
    """Build the error for a file that breaks the project rules.

    Args:
        what: what is wrong, as a clause about the file ("/x links to another file").
        why: why that stops the opening.

    Returns:
        The error; its message ends with what the user can do.
    """
    return RefusedFileError(f"{what}; {why}, so it was not opened: {_ADVICE}.")


def check_file_structure(f: h5py.File, plain_types: bool) -> None:
    """Refuse links and dataset storage that reach outside the file, without reading data.

    Args:
        f: an open HDF5 file.
        plain_types: also refuse attributes and datasets of any type but numbers, enums and
            fixed-length strings (schema 2 and later store nothing else). Variable-length
            values live in the HDF5 global heap, which has no checksum: a damaged one can
            hang or crash the HDF5 library, so a file that should not hold any is refused
            before one is read.

    Raises:
        InputError: a soft/external/user-defined link, an object linked twice, a committed
            datatype, too many objects, a value type refused by ``plain_types``, or a dataset
            refused by ``check_storage``.
    """
    seen: set[int] = {hash(f.id)}
    pending: list[tuple[h5py.Group, str]] = [(f, "")]
    if plain_types:
        check_attribute_types(f, "/")
    while pending:
        group, prefix = pending.pop()
        for name in group:
            where = f"{prefix}/{name}"
            obj = _open_hard_link(group, name, where)
            if hash(obj.id) in seen:
                raise refuse(f"{where} is a second link to an object already in the file")
            seen.add(hash(obj.id))
            if len(seen) > MAX_OBJECTS:
                raise refuse(f"the file holds more than {MAX_OBJECTS} objects")
            if isinstance(obj, h5py.Group):
                pending.append((obj, where))
            elif isinstance(obj, h5py.Dataset):
                check_storage(obj, where)
                if plain_types:
                    _check_plain_type(obj.id.get_type(), where)
            else:
                raise refuse(f"{where} is a stored datatype")
            if plain_types:
                check_attribute_types(obj, where)


def check_attribute_types(obj: h5py.HLObject, where: str) -> None:
    """Refuse attributes of any type but numbers, enums and fixed-length strings (unread).

    Args:
        obj: a file, group or dataset.
        where: its path in the file, for the message.

    Raises:
        InputError: an attribute of another type (variable-length, reference, compound ...).
    """
    for name in obj.attrs:
        _check_plain_type(obj.attrs.get_id(name).get_type(), f"the attribute {name!r} of {where}")


_PLAIN_CLASSES = frozenset({h5py.h5t.INTEGER, h5py.h5t.FLOAT, h5py.h5t.ENUM, h5py.h5t.STRING})


def _check_plain_type(kind: h5py.h5t.TypeID, where: str) -> None:
    variable = isinstance(kind, h5py.h5t.TypeStringID) and kind.is_variable_str()
    if kind.get_class() not in _PLAIN_CLASSES or variable:
        raise refuse(f"{where} has a value type this project schema never uses")


def _open_hard_link(group: h5py.Group, name: str, where: str) -> h5py.HLObject:
    link = group.get(name, getlink=True)
    if isinstance(link, h5py.SoftLink):
        raise refuse(f"{where} is a soft link (to {link.path})")
    if isinstance(link, h5py.ExternalLink):
        raise refuse(f"{where} is a link into another file ({link.filename})")
    if not isinstance(link, h5py.HardLink):
        raise refuse(f"{where} is a link of an unknown kind")
    obj: h5py.HLObject = group[name]
    return obj


def check_storage(ds: h5py.Dataset, where: str) -> None:
    """Refuse a dataset whose data lies outside the file, needs a plugin, or is not all written.

    Args:
        ds: the dataset (nothing of its data is read).
        where: its path in the file, for the message.

    Raises:
        InputError: external storage, virtual dataset, unknown filter, too large, or with
            chunks or contiguous storage never written.
    """
    dcpl = ds.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL or ds.is_virtual:
        raise refuse(f"{where} is a virtual dataset (its data comes from other datasets)")
    if dcpl.get_external_count() > 0:
        raise refuse(f"{where} keeps its data in another file (HDF5 external storage)")
    for index in range(dcpl.get_nfilters()):
        code = dcpl.get_filter(index)[0]
        if code not in _ALLOWED_FILTERS:
            raise refuse(f"{where} is compressed with an unknown HDF5 filter ({code})")
    if ds.shape is None:
        raise refuse(f"{where} is an empty dataset")
    _check_size(ds.shape, where)
    if layout == h5py.h5d.CHUNKED:
        _check_chunks_written(ds, where)
    elif layout == h5py.h5d.CONTIGUOUS and ds.id.get_storage_size() < ds.size * ds.dtype.itemsize:
        raise refuse(f"{where} was never written (it has no data in the file)")


def _check_size(shape: tuple[int, ...], where: str) -> None:
    if any(n > MAX_AXIS for n in shape) or math.prod(shape) > MAX_VOXELS:
        raise refuse(
            f"{where} has the shape {shape}, larger than {MAX_AXIS} per axis or "
            f"{MAX_VOXELS} elements in all"
        )


def _check_chunks_written(ds: h5py.Dataset, where: str) -> None:
    chunks = ds.chunks or ds.shape
    needed = math.prod(math.ceil(n / c) for n, c in zip(ds.shape, chunks, strict=True))
    if ds.id.get_num_chunks() != needed:
        raise refuse(f"{where} has parts that were never written ({needed} chunks expected)")


def check_array(ds: h5py.Dataset, where: str, shape: tuple[int, ...], kinds: str) -> None:
    """Refuse a dataset whose shape or dtype is not the one the schema expects.

    Args:
        ds: the dataset (nothing of its data is read).
        where: its path in the file, for the message.
        shape: the expected shape.
        kinds: accepted numpy dtype kinds, e.g. ``"biuf"`` for any real number, ``"u"`` for
            unsigned integers.

    Raises:
        InputError: the shape or the dtype differs.
    """
    if tuple(ds.shape) != tuple(shape):
        raise refuse(f"{where} has the shape {tuple(ds.shape)} where {tuple(shape)} is expected")
    dtype = ds.dtype
    if dtype.kind not in kinds or dtype.itemsize > 8 or dtype.fields is not None:
        raise refuse(f"{where} holds values of type {dtype}, not a plain number type it needs")


def check_text(ds: h5py.Dataset, where: str) -> None:
    """Refuse a dataset that is not a single text string.

    Args:
        ds: the dataset (nothing of its data is read).
        where: its path in the file, for the message.

    Raises:
        InputError: not a scalar, or not of a string type.
    """
    if ds.shape != () or h5py.check_string_dtype(ds.dtype) is None:
        raise refuse(f"{where} is not a single text string")


def as_labels(array: np.ndarray, where: str) -> np.ndarray:
    """Return labels as uint8, refusing values a uint8 label map cannot hold.

    Args:
        array: labels of any integer, bool or float dtype, any shape.
        where: what they are, for the message.

    Returns:
        ``array`` as uint8 (the same object when it already is uint8).

    Raises:
        InputError: a value below 0 or above 255 (casting would wrap 300 to 44), or a value
            that is not a whole number.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "biuf":
        raise refuse(f"{where} hold values of type {array.dtype}, not integer labels")
    if array.dtype.kind == "f" and not np.array_equal(array, np.rint(array)):
        raise refuse(f"{where} hold values that are not whole numbers")
    if array.size and (array.min() < 0 or array.max() > 255):
        raise RefusedFileError(
            f"{where} hold label values {array.min():g}..{array.max():g}, outside the 0..255 "
            "a label map stores; relabel that segmentation with values 0..255, or open a "
            "backup copy."
        )
    return array.astype(np.uint8)
