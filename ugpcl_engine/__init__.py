"""ugpcl_engine: the UGPCL segmentation engine (torch + numpy, never Qt).

Public names are exported lazily so that ``from ugpcl_engine import Volume`` does not import
torch (the GUI process must stay torch-free).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "Volume": "ugpcl_engine.volume",
    "VolumeGeometry": "ugpcl_engine.volume",
    "LabelMap": "ugpcl_engine.volume",
    "LabelTable": "ugpcl_engine.volume",
    "LabelClass": "ugpcl_engine.volume",
    "InputError": "ugpcl_engine.errors",
    "read_volume": "ugpcl_engine.io.volume_files",
    "read_label_map": "ugpcl_engine.io.volume_files",
    "write_array": "ugpcl_engine.io.volume_files",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ugpcl_engine' has no attribute {name!r}")
