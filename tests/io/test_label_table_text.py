"""Text label tables read for import (issue 16): ITK-SNAP and Slicer files, crafted lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ugpcl_engine import read_label_entries, table_with_entries
from ugpcl_engine.errors import InputError
from ugpcl_engine.io import label_table_text
from ugpcl_engine.volume import LabelClass, LabelTable

ITKSNAP = (
    "################################################\n"
    "# ITK-SnAP Label Description File\n"
    "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL\n"
    "################################################\n"
    '    0     0    0    0        0  0  0    "Clear Label"\n'
    '    1   255    0    0        1  1  1    "Liver"\n'
    '    2     0  255    0      0.5  1  1    "Right \\"kidney\\""\n'
    '    5     0    0  255        1  0  0    "Tumour"\n'
)
CTBL = (
    "# Color table file colors.ctbl\n# 3 values\n"
    "0 Background 0 0 0 0\n1 left_lung 10 20 30 255\n4 heart 1 2 3 255\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_itksnap_label_description(tmp_path: Path) -> None:
    entries = read_label_entries(write(tmp_path, "label_description.txt", ITKSNAP))
    assert entries == {
        0: ("Clear Label", (0, 0, 0)),
        1: ("Liver", (255, 0, 0)),
        2: ('Right \\"kidney\\"', (0, 255, 0)),
        5: ("Tumour", (0, 0, 255)),
    }


def test_slicer_colour_table(tmp_path: Path) -> None:
    for name in ("colors.ctbl", "colors.txt"):  # Slicer writes both; told apart by content
        entries = read_label_entries(write(tmp_path, name, CTBL))
        assert entries == {
            0: ("Background", (0, 0, 0)),
            1: ("left lung", (10, 20, 30)),
            4: ("heart", (1, 2, 3)),
        }


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("a.txt", ITKSNAP + '  1 2 3 "x"\n', r"a.txt line 9 is not an ITK-SNAP label line"),
        ("a.txt", ITKSNAP + '  300 1 2 3 1 1 1 "x"\n', r"line 9: label value 300 is outside"),
        ("a.txt", ITKSNAP + '  6 1 256 3 1 1 1 "x"\n', r"line 9: colour \(1, 256, 3\) is outside"),
        ("a.txt", ITKSNAP + '  1 1 2 3 1 1 1 "again"\n', r"line 9: label value 1 is listed twice"),
        ("b.ctbl", "# c\n1 liver 1 2 3\n", r"b.ctbl line 2 is not a colour-table line"),
        ("b.ctbl", "1 liver 1 2 x 255\n", r"line 1 is not a colour-table line"),
        ("b.ctbl", "-1 liver 1 2 3 255\n", r"line 1: label value -1 is outside 0..255"),
        ("b.ctbl", "1 liver 1 2 -3 255\n", r"line 1: colour \(1, 2, -3\) is outside"),
        ("b.ctbl", "1 a 1 2 3 255\n2 b 1 2 3 255\n1 c 1 2 3 255\n", r"line 3: label value 1 is"),
        ("b.ctbl", "# only comments\n\n", r"holds no label entries"),
    ],
)
def test_bad_lines_are_refused_with_their_number(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        read_label_entries(write(tmp_path, name, text))


def test_crafted_files_are_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(label_table_text, "MAX_TABLE_BYTES", 64)
    with pytest.raises(InputError, match=r"a label table is a few kB"):
        read_label_entries(write(tmp_path, "big.txt", CTBL * 3))
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00")
    with pytest.raises(InputError, match=r"Cannot read image.txt as a text label table"):
        read_label_entries(binary)
    with pytest.raises(InputError, match=r"not found"):
        read_label_entries(tmp_path / "missing.txt")


def test_names_are_cleaned_and_bounded(tmp_path: Path) -> None:
    long = "x" * 500
    text = f'1 0 0 0 1 1 1 "a\tb\x01c"\n2 0 0 0 1 1 1 "{long}"\n3 0 0 0 1 1 1 "  "\n'
    entries = read_label_entries(write(tmp_path, "snap.txt", "\ufeff" + text))
    assert entries[1][0] == "a b c"
    assert len(entries[2][0]) == label_table_text.MAX_NAME_CHARS
    assert entries[3][0] == "label 3"


def test_table_with_entries_replaces_extends_and_keeps() -> None:
    table = LabelTable(
        (
            LabelClass(0, "background", (0, 0, 0)),
            LabelClass(1, "label 1", (1, 1, 1)),
            LabelClass(2, "spleen", (2, 2, 2)),
        )
    )
    new = table_with_entries(
        table, {0: ("Clear Label", (9, 9, 9)), 1: ("liver", (255, 0, 0)), 4: ("tumour", (0, 0, 9))}
    )
    assert new.names == ("background", "liver", "spleen", "label 3", "tumour")
    assert new.classes[0].color_rgb == (0, 0, 0), "background keeps its entry"
    assert new.classes[1].color_rgb == (255, 0, 0) and new.classes[4].color_rgb == (0, 0, 9)
    assert new.classes[2] == table.classes[2], "a value the file does not list is kept"
    with pytest.raises(InputError, match=r"outside 0..255"):
        table_with_entries(table, {256: ("x", (0, 0, 0))})
