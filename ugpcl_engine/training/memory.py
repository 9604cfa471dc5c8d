"""Process memory policy for big CPU steps: freed blocks go back to the system at once.

glibc's malloc serves a large block with its own ``mmap`` only until a block of that size is
freed; then it raises the threshold (up to 32 MiB) and serves such blocks from its heaps, which
keep freed memory for reuse. A training step frees and allocates gigabytes of activations of
ever-changing sizes, so the heaps fragment: the ``paper`` step at 224², batch 8 + 8, with
encoder checkpointing alone held about 5.4 GB at its peak for about 4.0 GB of live tensors,
growing from step to step. A fixed
threshold (``mallopt(M_MMAP_THRESHOLD)``) keeps every block from 1 MiB up in its own mapping,
returned when freed. The price is a page fault per 4 KiB each time such memory is touched
anew (a few seconds of system time per ``paper`` step on a CPU, a large share of a small
network's step), so it is a switch that no preset turns on (``TrainingConfig.release_memory``):
for the runs that must fit the least memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

M_MMAP_THRESHOLD = -3
"""glibc's ``mallopt`` parameter number (``malloc.h``)."""

THRESHOLD_BYTES = 1 << 20
"""Blocks of at least this size get their own mapping."""


def release_freed_memory(threshold_bytes: int = THRESHOLD_BYTES) -> bool:
    """Have malloc map blocks of ``threshold_bytes`` and more separately (and unmap them when
    freed) for the rest of the process's life.

    Args:
        threshold_bytes: the fixed threshold (fixing it also stops glibc from raising it).

    Returns:
        Whether the policy is in force (``False`` off Linux or without glibc's ``mallopt``:
        nothing changes there).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold_bytes))
