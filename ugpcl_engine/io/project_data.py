"""What a ``.ugpcl`` project holds, as Python objects (the file format lives in project_file)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ugpcl_engine.segment_codes import codes_from_json, codes_of, codes_to_json
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume

SCHEMA_VERSION = 2
FORMAT_TAG = "ugpcl-studio project"


@dataclass
class ProjectVolume:
    """One volume of a project with everything drawn on it.

    Attributes:
        volume: the image (``image_zyx`` + geometry, name, modality).
        labels: uint8 ``labels_zyx`` on the same grid, with its label table.
        labeled_slices: axis ``"z"``/``"y"``/``"x"`` -> bool array of that axis' length; True
            marks a slice the user labeled. ``load_project`` always returns all three axes.
        source_path: the original file or DICOM folder, if any (the image is cached anyway).
        predictions: model version id -> uint8 ``labels_zyx`` predicted by that model.
        uncertainty: model version id -> float16/float32 ``entropy_zyx`` of that model.
    """

    volume: Volume
    labels: LabelMap
    labeled_slices: dict[str, np.ndarray]
    source_path: str | None = None
    predictions: dict[str, np.ndarray] = field(default_factory=dict)
    uncertainty: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Project:
    """Everything a ``.ugpcl`` file holds.

    Attributes:
        volumes: the project's volumes, in order (``volume_index`` counts in this list).
        runs: run records (config, metrics, timings, version id, label snapshot hash); JSON-able.
        models: model files, ``{"version": str, "path": str, "sha256": str}``; JSON-able.
    """

    volumes: list[ProjectVolume]
    runs: list[dict[str, Any]] = field(default_factory=list)
    models: list[dict[str, Any]] = field(default_factory=list)


def table_to_json(table: LabelTable) -> str:
    """Encode a label table as JSON rows ``[value, name, [r, g, b]]``."""
    return json.dumps([[c.value, c.name, list(c.color_rgb)] for c in table.classes])


def table_from_json(text: str) -> LabelTable:
    """Decode ``table_to_json``'s text (raises ValueError/TypeError/InputError when malformed)."""
    rows = json.loads(text)
    return LabelTable(
        tuple(LabelClass(int(v), str(n), (int(c[0]), int(c[1]), int(c[2]))) for v, n, c in rows)
    )


def table_codes_json(table: LabelTable) -> str | None:
    """The DICOM codes the table's classes carry, as JSON (``segment_codes.codes_to_json``);
    None when no class carries one (kept apart from ``table_to_json`` so that projects written
    before codes existed, and readers that predate them, read the table unchanged)."""
    codes = codes_of(table.classes)
    return codes_to_json(codes) if codes else None


def table_with_codes(table: LabelTable, text: str | None) -> LabelTable:
    """Put ``table_codes_json``'s codes back on a table (``text`` None: the table unchanged).

    Raises:
        InputError: unreadable codes.
    """
    if not text:
        return table
    codes = codes_from_json(text)
    return LabelTable(tuple(replace(c, code=codes.get(c.value, c.code)) for c in table.classes))
