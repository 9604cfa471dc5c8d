"""ITK's messages: silence its warnings while the data layer reads and writes, shorten its errors.

ITK prints its warnings straight to stderr from C++ (``WARNING: In .../itkGDCMSeriesFileNames.cxx,
line 101 ... No Series were found``), before the data layer turns the same problem into one
clear ``InputError``; the user would see ITK's lines first. Its file readers (MetaIO, NIfTI,
NRRD) also write their complaints straight to the C++ ``std::cerr`` (``MetaImage: M_Read: Error
parsing file``, ``** ERROR: nifti_convert_nhdr2nim: bad datatype``), past the warning switch:
so the process's standard error (file descriptor 2) points to the null device for the block too.
Both switches are process-wide, so nested and concurrent users (pool threads in the app) share
one count: the first one in turns them off, the last one out restores what was there.
"""

from __future__ import annotations

import os
import re
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import SimpleITK as sitk


class _QuietCount:
    """How many readers want ITK quiet, and the display setting to restore after the last."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.was_on = True
        self.saved_stderr: int | None = None


def _mute_stderr() -> int | None:
    """Point file descriptor 2 at the null device; return a copy of the old one (None if
    the process has no usable stderr)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        return None
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
    finally:
        os.close(null)
    return saved


def _restore_stderr(saved: int | None) -> None:
    if saved is None:
        return
    os.dup2(saved, 2)
    os.close(saved)


_QUIET = _QuietCount()


@contextmanager
def itk_warnings_off() -> Iterator[None]:
    """Turn ITK's global warning display and the native stderr off for the ``with`` block
    (errors still raise, as exceptions)."""
    with _QUIET.lock:
        if _QUIET.depth == 0:
            _QUIET.was_on = bool(sitk.ProcessObject.GetGlobalWarningDisplay())
            sitk.ProcessObject.SetGlobalWarningDisplay(False)
            _QUIET.saved_stderr = _mute_stderr()
        _QUIET.depth += 1
    try:
        yield
    finally:
        with _QUIET.lock:
            _QUIET.depth -= 1
            if _QUIET.depth == 0:
                sitk.ProcessObject.SetGlobalWarningDisplay(_QUIET.was_on)
                _restore_stderr(_QUIET.saved_stderr)
                _QUIET.saved_stderr = None


def itk_reason(err: Exception) -> str:
    """Shorten an ITK exception to one line of reason, without source paths and addresses.

    Args:
        err: the ``RuntimeError`` SimpleITK raised.

    Returns:
        At most 160 characters, cut between words.
    """
    text = " ".join(str(err).split())
    if "ERROR:" in text:
        text = text.split("ERROR:", 1)[1]
        text = re.sub(r"^\s*\w+\(0x[0-9a-f]+\):\s*(ERROR:\s*)?", "", text)
    return textwrap.shorten(text, 160, placeholder=" …") or "unknown error"
