"""Work-arounds for bugs of the installed Qt binding, applied once when ``app.ui`` is imported.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` on every signal emission. ``True``
is not immortal before Python 3.12, so after a few thousand emissions (a minute of mouse
movement) the interpreter aborts with "bool_dealloc: deallocating True or False". We detect the
leak at run time (so fixed versions are left alone) and then give ``True`` a reference count so
large that no session can use it up, which is what Python 3.12+ does for every singleton.
The real fix is a PySide6 version without the bug (pin ``PySide6-Essentials<6.12``).
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

_PROBE_EMITS = 16
_RESERVE = 1 << 40


class _Probe(QObject):
    ping = Signal()


def signal_emit_leaks_true() -> bool:
    """Return True when emitting a Qt signal loses references to ``True``."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    return sys.getrefcount(True) <= before - _PROBE_EMITS


def protect_true_singleton() -> bool:
    """Apply the work-around when needed (Python < 3.12 with a leaking binding).

    Returns:
        True when the reference count of ``True`` was raised.
    """
    if sys.version_info >= (3, 12) or not signal_emit_leaks_true():
        return False
    refcount = ctypes.c_ssize_t.from_address(id(True))
    refcount.value += _RESERVE
    return True


TRUE_PROTECTED = protect_true_singleton()
