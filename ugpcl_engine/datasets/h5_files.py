"""Reading the ``image``/``label`` pairs of SSL4MIS h5 files, refusing crafted files first.

A dataset's h5 files come from anywhere. Before any data is read, the file's structure goes
through the project file's guard (``io.project_safety.check_file_structure``: no soft or
external links, no external or virtual storage, no plugin filters, no huge or unwritten
datasets); then ``image`` and ``label`` must be plain numeric arrays of the expected rank and
of one shape.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ugpcl_engine.datasets.base import check_pair
from ugpcl_engine.errors import InputError
from ugpcl_engine.io.project_safety import RefusedFileError, check_file_structure

_REPLACE = "replace it with the file the dataset's preparation script wrote"


def read_pair(path: Path, ndim: int, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``image`` (float32) and, when asked, ``label`` (uint8) of an SSL4MIS h5 file.

    Args:
        path: a slice file (``ndim`` 2, H×W) or a volume file (``ndim`` 3, D×H×W).
        ndim: the rank both arrays must have.
        labels: read ``label`` too (else it is neither checked nor read).

    Returns:
        ``(image, labels or None)``.

    Raises:
        InputError: missing or non-HDF5 file, a structure the guard refuses, a missing
            dataset, a wrong rank or type, shapes that differ, NaN/Inf intensities, label
            values that are not whole numbers in 0..255.
    """
    with _open_checked(path) as handle:
        image = _dataset(handle, "image", path, ndim)
        label = _dataset(handle, "label", path, ndim) if labels else None
        if label is not None:
            check_pair(image.shape, label.shape, path.name)
        return _image(image[()], path), None if label is None else _labels(label[()], path)


def declared_shape(path: Path, ndim: int) -> tuple[int, ...]:
    """The shape of ``image`` in an SSL4MIS h5 file, read from its header (no pixels).

    Raises:
        InputError: as ``read_pair`` for a missing, unreadable or crafted file.
    """
    with _open_checked(path) as handle:
        return tuple(int(n) for n in _dataset(handle, "image", path, ndim).shape)


def _open_checked(path: Path) -> h5py.File:
    """Open ``path`` for reading once its structure passed the guard."""
    try:
        handle = h5py.File(path, "r")
    except FileNotFoundError:
        raise InputError(f"{path} is missing; the dataset's list names it.") from None
    except OSError:
        raise InputError(f"{path.name} is not a readable HDF5 file; {_REPLACE}.") from None
    try:
        check_file_structure(handle, plain_types=True)  # SSL4MIS files hold plain numbers
    except RefusedFileError as err:
        handle.close()
        clause = str(err).split("; ")[0]
        raise InputError(
            f"{path.name}: {clause}; a dataset file never holds that, so it was not "
            f"read: {_REPLACE}."
        ) from None
    return handle


def _dataset(f: h5py.File, name: str, path: Path, ndim: int) -> h5py.Dataset:
    ds = f.get(name)
    if not isinstance(ds, h5py.Dataset):
        raise InputError(
            f"{path.name} has no '{name}' array; an SSL4MIS file holds 'image' and 'label'."
        )
    if ds.ndim != ndim or min(ds.shape, default=0) < 1:
        what = "H×W slice" if ndim == 2 else "D×H×W volume"
        raise InputError(
            f"{path.name}: '{name}' has the shape {ds.shape}, not a {what}; {_REPLACE}."
        )
    if ds.dtype.kind not in "biuf" or ds.dtype.fields is not None or ds.dtype.itemsize > 8:
        raise InputError(f"{path.name}: '{name}' holds {ds.dtype} values, not numbers.")
    return ds


def _image(array: np.ndarray, path: Path) -> np.ndarray:
    image = np.asarray(array, dtype=np.float32)
    if not np.isfinite(image).all():
        raise InputError(f"{path.name}: 'image' holds NaN or infinite values; {_REPLACE}.")
    return image


def _labels(array: np.ndarray, path: Path) -> np.ndarray:
    values = np.asarray(array)
    if values.dtype.kind == "f" and not np.array_equal(values, np.rint(values)):
        raise InputError(f"{path.name}: 'label' holds values that are not whole numbers.")
    if values.size and (values.min() < 0 or values.max() > 255):
        raise InputError(
            f"{path.name}: 'label' holds values {values.min():g}..{values.max():g}, outside the "
            "0..255 a label map stores."
        )
    return values.astype(np.uint8)
