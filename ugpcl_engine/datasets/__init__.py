"""Datasets on disk, read lazily: the MSD / nnU-Net layout and the SSL4MIS (ACDC) layout.

``open_dataset(root, layout)`` indexes a folder without reading images; ``select_labeled``
picks the labeled patients or cases (``--labeled 7|10%|ids.txt``); cases and slices are read
one at a time. ``commands`` and ``train_command`` hold the ``evaluate-dataset`` and
``train-dataset`` subcommands.

Names are exported lazily, so that the CLI's parser (``commands.add_parsers``) loads neither
SimpleITK nor h5py nor torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ugpcl_engine.datasets.base import CaseData, CaseRef, Dataset, SliceRef
    from ugpcl_engine.datasets.labeled import LabeledChoice, parse_labeled, select_labeled
    from ugpcl_engine.datasets.layout import LAYOUTS, detect_layout, open_dataset

_LAZY = {
    "CaseData": "ugpcl_engine.datasets.base",
    "CaseRef": "ugpcl_engine.datasets.base",
    "Dataset": "ugpcl_engine.datasets.base",
    "SliceRef": "ugpcl_engine.datasets.base",
    "LabeledChoice": "ugpcl_engine.datasets.labeled",
    "parse_labeled": "ugpcl_engine.datasets.labeled",
    "select_labeled": "ugpcl_engine.datasets.labeled",
    "LAYOUTS": "ugpcl_engine.datasets.layout",
    "detect_layout": "ugpcl_engine.datasets.layout",
    "open_dataset": "ugpcl_engine.datasets.layout",
}

__all__ = [
    "LAYOUTS",
    "CaseData",
    "CaseRef",
    "Dataset",
    "LabeledChoice",
    "SliceRef",
    "detect_layout",
    "open_dataset",
    "parse_labeled",
    "select_labeled",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ugpcl_engine.datasets' has no attribute {name!r}")
