"""Datasets on disk, read lazily: the MSD / nnU-Net layout and the SSL4MIS (ACDC) layout.

``open_dataset(root, layout)`` indexes a folder without reading images; ``select_labeled``
picks the labeled patients or cases (``--labeled 7|10%|ids.txt``); cases and slices are read
one at a time. ``commands`` holds the ``train-dataset`` and ``evaluate-dataset`` subcommands.
"""

from __future__ import annotations

from ugpcl_engine.datasets.base import CaseData, CaseRef, Dataset, SliceRef
from ugpcl_engine.datasets.labeled import LabeledChoice, parse_labeled, select_labeled
from ugpcl_engine.datasets.layout import LAYOUTS, detect_layout, open_dataset

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
