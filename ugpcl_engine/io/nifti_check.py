"""Checks SimpleITK's NIfTI reader skips: truncated files and NaN/Inf voxels.

ITK's NIfTI reader fills the missing part of a truncated ``.nii`` / ``.nii.gz`` with zeros and
turns NaN voxels into 0 without a word, so a broken file would load as a plausible volume.
Here the header is parsed (NIfTI-1 and NIfTI-2) to know how many data bytes must follow, the
file length (or the gzip size trailer, falling back to a streamed count) is compared with it,
and float data are scanned for non-finite values.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ugpcl_engine.errors import InputError

# NIfTI datatype code -> numpy dtype (little-endian form; byte order fixed from the header)
_DTYPES = {2: "u1", 4: "i2", 8: "i4", 16: "f4", 64: "f8", 256: "i1", 512: "u2", 768: "u4",
           1024: "i8", 1280: "u8"}  # fmt: skip


@dataclass(frozen=True)
class NiftiLayout:
    """Where a NIfTI file's voxels are: data offset, byte count, dtype and compression."""

    vox_offset: int
    data_bytes: int
    dtype: np.dtype
    gzipped: bool

    @property
    def total_bytes(self) -> int:
        """Uncompressed length the file must have at least."""
        return self.vox_offset + self.data_bytes


def _header_bytes(path: Path, gzipped: bool) -> bytes:
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as f:
            return bytes(f.read(540))
    except (OSError, EOFError, zlib.error):
        return b""


def nifti_layout(path: Path) -> NiftiLayout | None:
    """Parse a NIfTI header; None when the file is not NIfTI-1/2 (SimpleITK then reports)."""
    gzipped = path.name.lower().endswith(".gz")
    head = _header_bytes(path, gzipped)
    for order in ("<", ">"):
        size = np.frombuffer(head[:4], dtype=order + "i4") if len(head) >= 4 else None
        if size is None or int(size[0]) not in (348, 540):
            continue
        if int(size[0]) == 348 and len(head) >= 348:
            dims = np.frombuffer(head[40:56], dtype=order + "i2").astype(np.int64)
            code = int(np.frombuffer(head[70:72], dtype=order + "i2")[0])
            offset = int(np.frombuffer(head[108:112], dtype=order + "f4")[0])
        elif len(head) >= 540:
            dims = np.frombuffer(head[16:80], dtype=order + "i8")
            code = int(np.frombuffer(head[12:14], dtype=order + "i2")[0])
            offset = int(np.frombuffer(head[168:176], dtype=order + "i8")[0])
        else:
            return None
        if code not in _DTYPES or not 1 <= dims[0] <= 7:
            return None
        dtype = np.dtype(order + _DTYPES[code])
        count = int(np.prod(dims[1 : int(dims[0]) + 1]))
        return NiftiLayout(max(offset, int(size[0])), count * dtype.itemsize, dtype, gzipped)
    return None


def _gzip_length(path: Path) -> int:
    """Uncompressed length of a gzip file, streamed (stops short when it is truncated)."""
    total = 0
    decompressor = zlib.decompressobj(wbits=31)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            try:
                total += len(decompressor.decompress(chunk))
            except zlib.error:
                return total
            if decompressor.eof:
                break
    return total


def check_nifti_complete(path: Path, layout: NiftiLayout) -> None:
    """Raise when the file holds fewer data bytes than its header promises.

    Raises:
        InputError: a truncated file.
    """
    if not layout.gzipped:
        length = path.stat().st_size
    else:
        with open(path, "rb") as f:
            f.seek(-4, 2)
            trailer = int.from_bytes(f.read(4), "little")
        if trailer == layout.total_bytes % (1 << 32):
            return
        length = _gzip_length(path)  # several gzip members, or truncated
    if length < layout.total_bytes:
        raise InputError(
            f"{path.name} is truncated: its header promises {layout.total_bytes} bytes but only "
            f"{length} are there; copy the complete file again."
        )


def nonfinite_mask_zyx(
    path: Path, layout: NiftiLayout, shape_zyx: tuple[int, ...]
) -> np.ndarray | None:
    """Return a (Z, Y, X) mask of NaN/Inf voxels of a float NIfTI, or None if it has none.

    Only for 3-D data (the shape SimpleITK returned); other data are not scanned.
    """
    if (
        layout.dtype.kind != "f"
        or int(np.prod(shape_zyx)) * layout.dtype.itemsize != layout.data_bytes
    ):
        return None
    opener = gzip.open if layout.gzipped else open
    with opener(path, "rb") as f:
        f.seek(layout.vox_offset)
        raw = f.read(layout.data_bytes)
    values = np.frombuffer(raw, dtype=layout.dtype).reshape(shape_zyx)
    mask = ~np.isfinite(values)
    return mask if mask.any() else None
