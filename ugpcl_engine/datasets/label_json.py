"""The ``labels`` and modality entries of an MSD / nnU-Net ``dataset.json``.

Both versions are read: v1 (``{"0": "background", "1": "left atrium"}`` and ``modality``) and
v2 (``{"background": 0, "PZ": 1}`` and ``channel_names``). nnU-Net v2's region labels (a list of
values per name) have no single-label meaning and are refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ugpcl_engine.datasets.base import read_text
from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import DEFAULT_COLORS, LabelClass, LabelTable

ACDC_TABLE = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "right ventricle", (216, 101, 79)),
        LabelClass(2, "myocardium", (241, 214, 145)),
        LabelClass(3, "left ventricle", (111, 184, 210)),
    )
)
"""ACDC's classes, as the SSL4MIS preparation stores them."""


def read_dataset_json(path: Path) -> dict[str, Any]:
    """Parse ``dataset.json``.

    Raises:
        InputError: missing, too large, not JSON or not a JSON object.
    """
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise InputError(
            f"{path.name} is not valid JSON (line {err.lineno}: {err.msg}); fix or regenerate it."
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"{path.name} must hold a JSON object with 'labels'; fix it.")
    return data


def label_table(data: dict[str, Any], where: str) -> LabelTable:
    """The label table of a ``dataset.json`` (v1 or v2 ``labels``).

    Raises:
        InputError: no ``labels``, region labels, values that are not 0..C-1 without gaps.
    """
    labels = data.get("labels")
    if not isinstance(labels, dict) or len(labels) < 2:
        raise InputError(
            f"{where} has no 'labels' with background and at least one class; add them "
            '(e.g. "labels": {"0": "background", "1": "tumour"}).'
        )
    pairs: list[tuple[int, str]] = []
    for key, value in labels.items():
        if isinstance(value, int) and not isinstance(value, bool):
            pairs.append((value, str(key)))  # v2: name -> value
        elif isinstance(value, str) and str(key).isdigit():
            pairs.append((int(key), value))  # v1: "value" -> name
        else:
            raise InputError(
                f"{where}: label '{key}' maps to {value!r}; only one whole value per class is "
                "supported (nnU-Net region labels are not), fix 'labels'."
            )
    pairs.sort()
    classes = tuple(
        LabelClass(v, name[:100], DEFAULT_COLORS[v % len(DEFAULT_COLORS)]) for v, name in pairs
    )
    return LabelTable(classes)  # refuses gaps with its own message


def modality(data: dict[str, Any]) -> str:
    """``"CT"``, ``"MR"`` or ``"unknown"`` from ``modality`` (v1) or ``channel_names`` (v2)."""
    names = data.get("modality") or data.get("channel_names") or {}
    first = str(names.get("0", "")) if isinstance(names, dict) else ""
    if first.upper() == "CT":
        return "CT"
    return "MR" if first else "unknown"


def channels(data: dict[str, Any]) -> int:
    """How many image channels the dataset declares (1 when it does not say)."""
    names = data.get("modality") or data.get("channel_names") or {}
    return max(1, len(names)) if isinstance(names, dict) else 1
