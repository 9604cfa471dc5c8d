"""ITK's messages: silence its warnings while the data layer reads and writes, shorten its errors.

ITK prints its warnings straight to stderr from C++ (``WARNING: In .../itkGDCMSeriesFileNames.cxx,
line 101 ... No Series were found``), before the data layer turns the same problem into one
clear ``InputError``; the user would see ITK's lines first. The switch is process-wide, so
nested and concurrent users (pool threads in the app) share one count: the first one in turns
the warnings off, the last one out restores what was there.
"""

from __future__ import annotations

import re
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


_QUIET = _QuietCount()


@contextmanager
def itk_warnings_off() -> Iterator[None]:
    """Turn ITK's global warning display off for the ``with`` block (errors still raise)."""
    with _QUIET.lock:
        if _QUIET.depth == 0:
            _QUIET.was_on = bool(sitk.ProcessObject.GetGlobalWarningDisplay())
            sitk.ProcessObject.SetGlobalWarningDisplay(False)
        _QUIET.depth += 1
    try:
        yield
    finally:
        with _QUIET.lock:
            _QUIET.depth -= 1
            if _QUIET.depth == 0:
                sitk.ProcessObject.SetGlobalWarningDisplay(_QUIET.was_on)


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
