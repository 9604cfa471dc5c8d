"""Text label tables other tools write: ITK-SNAP label descriptions and Slicer colour tables.

- ITK-SNAP (``label_description.txt``)::

      # IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
          1   255    0    0     1   1   1  "Liver"

- 3D Slicer colour table (``.ctbl`` / ``.txt``)::

      # value name r g b a
      1 liver 255 0 0 255

Both have ``#`` comments. The files are not trusted (issue 16): the size is bounded before
reading, every value and colour must lie in 0..255, a value may appear once, and every
refusal names the file and the line. Torch-free and SimpleITK-free, so the app can use it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import DEFAULT_COLORS, LabelClass, LabelTable

MAX_LABEL_VALUE = 255
MAX_TABLE_BYTES = 1 << 20
"""A real table of 256 labels is a few kB; larger files are refused before reading."""
MAX_NAME_CHARS = 200

Entries = dict[int, tuple[str, tuple[int, int, int]]]
"""``value -> (name, (r, g, b))`` as read from a file, colours 0-255."""

_ITKSNAP_LINE = re.compile(
    r"^\s*(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+(-?\d+)\s+([\d.eE+-]+)\s+(\d+)\s+(\d+)\s+\"(.*)\"\s*$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def default_color(value: int) -> tuple[int, int, int]:
    """The colour a label value gets when nobody chose one (``DEFAULT_COLORS``, then a hash)."""
    if value < len(DEFAULT_COLORS):
        return DEFAULT_COLORS[value]
    return ((value * 67) % 256, (value * 131) % 256, (value * 193) % 256)


def _clean_name(raw: str, value: int) -> str:
    name = _CONTROL.sub(" ", raw).strip()[:MAX_NAME_CHARS].strip()
    return name or f"label {value}"


def _checked(
    path: Path, number: int, value: int, rgb: tuple[int, int, int], entries: Entries
) -> None:
    if not 0 <= value <= MAX_LABEL_VALUE:
        raise InputError(
            f"{path.name} line {number}: label value {value} is outside 0..{MAX_LABEL_VALUE}; "
            "renumber it or remove the line."
        )
    if any(not 0 <= c <= 255 for c in rgb):
        raise InputError(
            f"{path.name} line {number}: colour {rgb} is outside 0..255; fix the line."
        )
    if value in entries:
        raise InputError(
            f"{path.name} line {number}: label value {value} is listed twice; keep one line."
        )


def parse_itksnap(lines: list[str], path: Path) -> Entries:
    """Read ITK-SNAP label description lines (``IDX R G B A VIS MSH "LABEL"``).

    Args:
        lines: the file's lines.
        path: the file (for messages).

    Returns:
        ``value -> (name, rgb)`` in file order.

    Raises:
        InputError: a line that is not a label line, a value or colour outside 0..255, a
            value listed twice; the message names the line.
    """
    entries: Entries = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _ITKSNAP_LINE.match(line)
        if match is None:
            raise InputError(
                f"{path.name} line {number} is not an ITK-SNAP label line "
                '(IDX R G B A VIS MSH "NAME"); fix or remove it.'
            )
        value, r, g, b = (int(match.group(i)) for i in range(1, 5))
        _checked(path, number, value, (r, g, b), entries)
        entries[value] = (_clean_name(match.group(8), value), (r, g, b))
    return entries


def parse_ctbl(lines: list[str], path: Path) -> Entries:
    """Read Slicer colour table lines (``value name r g b a``; ``_`` in names reads as a space).

    Args:
        lines: the file's lines.
        path: the file (for messages).

    Returns:
        ``value -> (name, rgb)`` in file order.

    Raises:
        InputError: as ``parse_itksnap``.
    """
    entries: Entries = {}
    for number, line in enumerate(lines, start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            if len(parts) < 6:
                raise ValueError(line)
            value = int(parts[0])
            rgb = (int(parts[-4]), int(parts[-3]), int(parts[-2]))
            int(parts[-1])
        except ValueError:
            raise InputError(
                f"{path.name} line {number} is not a colour-table line (value name r g b a); "
                "fix or remove it."
            ) from None
        _checked(path, number, value, rgb, entries)
        entries[value] = (_clean_name(" ".join(parts[1:-4]).replace("_", " "), value), rgb)
    return entries


def read_label_entries(path: str | Path) -> Entries:
    """Read an ITK-SNAP label description or a Slicer colour table file.

    The two are told apart by content: a quoted name on a non-comment line means ITK-SNAP.

    Args:
        path: the text file.

    Returns:
        ``value -> (name, (r, g, b))`` for every line of the file, values and colours 0..255.

    Raises:
        InputError: missing, too large, not text, a bad line (named by its number), or no
            entries at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Label table {path} not found; check the path.")
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise InputError(
                f"{path.name} is {size // 1024} kB; a label table is a few kB. Is it a label "
                "table (ITK-SNAP label description or Slicer colour table)?"
            )
        lines = path.read_bytes().decode("utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError):
        raise InputError(
            f"Cannot read {path.name} as a text label table (ITK-SNAP label description or "
            "Slicer colour table)."
        ) from None
    is_itksnap = any('"' in line and not line.lstrip().startswith("#") for line in lines)
    entries = parse_itksnap(lines, path) if is_itksnap else parse_ctbl(lines, path)
    if not entries:
        raise InputError(f"{path.name} holds no label entries; is it a label table?")
    return entries


def table_with_entries(
    table: LabelTable, entries: Mapping[int, tuple[str, tuple[int, int, int]]]
) -> LabelTable:
    """Give a table the names and colours of the values a file lists.

    Values the file lists take its name and colour; values above the table extend it (values
    in between get placeholder classes ``label k``); values of the table the file does not
    list keep their name and colour. Background (value 0) keeps its entry: files call it
    "Clear Label" or "Background", and the app's background is not a class the user edits.

    Args:
        table: the current table.
        entries: ``value -> (name, rgb)`` (``read_label_entries``).

    Returns:
        The new table (values 0..max(table, entries) without gaps).

    Raises:
        InputError: a value outside 0..255.
    """
    bad = sorted(v for v in entries if not 0 <= v <= MAX_LABEL_VALUE)
    if bad:
        raise InputError(f"Label value(s) {bad} are outside 0..{MAX_LABEL_VALUE}.")
    top = max([table.num_classes - 1, *entries])
    classes = []
    for value in range(top + 1):
        if value in entries and value > 0:
            name, color = entries[value]
            classes.append(LabelClass(value, name, color))
        elif value < table.num_classes:
            classes.append(table.classes[value])
        else:
            classes.append(LabelClass(value, f"label {value}", default_color(value)))
    return LabelTable(tuple(classes))
