"""Check what an image header declares before the pixels are read.

A damaged or crafted header can declare a size no computer holds (ITK then fails deep in an
allocation and its message names C++ internals), and a MetaImage (``.mha``) cut short makes
ITK say "No such file or directory". Both are told in our words here, before ``ReadImage``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import psutil
import SimpleITK as sitk

from ugpcl_engine.errors import InputError

_META_DATA_LINE = re.compile(rb"^ElementDataFile\s*=\s*LOCAL\s*$", re.MULTILINE)
_META_COMPRESSED = re.compile(rb"^CompressedData\s*=\s*True\s*$", re.MULTILINE | re.IGNORECASE)
_META_COMPRESSED_SIZE = re.compile(rb"^CompressedDataSize\s*=\s*(\d+)\s*$", re.MULTILINE)
_HEADER_LIMIT = 1 << 16  # a MetaImage header is a few hundred bytes of text


def _bytes_per_voxel(reader: sitk.ImageFileReader) -> int:
    one = sitk.Image([1] * reader.GetDimension(), reader.GetPixelID())
    itemsize: int = sitk.GetArrayViewFromImage(one).dtype.itemsize
    return itemsize * max(1, int(reader.GetNumberOfComponents()))


def _human(count: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if count < 1000 or unit == "PB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} PB"  # pragma: no cover - the loop always returns


def check_declared_size(path: Path, memory_bytes: int | None = None) -> None:
    """Refuse a header that declares more than this computer's memory, or a cut MetaImage.

    Args:
        path: an image file (not a DICOM folder).
        memory_bytes: the memory to compare with (default: the computer's physical memory).

    Raises:
        InputError: the declared image would not fit in memory, or a ``.mha`` holds fewer
            data bytes than its header declares.
    """
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        return  # ReadImage will fail with its own message
    size = reader.GetSize()
    needed = math.prod(size) * _bytes_per_voxel(reader)
    memory = memory_bytes if memory_bytes is not None else psutil.virtual_memory().total
    if needed > memory:
        shape = " × ".join(str(s) for s in size)
        raise InputError(
            f"{path.name} declares {shape} voxels ({_human(needed)}), more than this computer's "
            f"memory ({_human(memory)}): its header is damaged, or the image must be cropped or "
            "downsampled before it can be opened here."
        )
    if path.suffix.lower() == ".mha":
        _check_meta_complete(path, needed)


def _check_meta_complete(path: Path, raw_bytes: int) -> None:
    """A MetaImage with its data in the same file must hold what its header declares: the raw
    voxels, or ``CompressedDataSize`` bytes when compressed."""
    with open(path, "rb") as f:
        head = f.read(_HEADER_LIMIT)
    found = _META_DATA_LINE.search(head)
    if found is None:
        return  # the data live in another file: ITK names it when it is missing
    header = head[: found.start()]
    needed: int | None = raw_bytes
    if _META_COMPRESSED.search(header):
        size = _META_COMPRESSED_SIZE.search(header)
        needed = int(size.group(1)) if size else None
    if needed is None:
        return
    start = found.end() + (1 if head[found.end() : found.end() + 1] == b"\n" else 0)
    have = path.stat().st_size - start
    if have < needed:
        raise InputError(
            f"{path.name} is truncated: its header promises {needed} bytes but only {have} are "
            "there; copy the complete file again."
        )
