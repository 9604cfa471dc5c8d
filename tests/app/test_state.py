"""Qt-free state: painting rules, undo deltas, marks, raster shapes, layouts, recent files."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from app.state.document import Document, Region, VolumeItem
from app.state.editor import LabelEditor
from app.state.raster import disc_box, flood_mask, polygon_mask
from app.state.recent import RecentFiles
from app.state.undo import UndoStack
from app.state.view_geometry import slice_layout, voxel_to_mm
from app.state.view_state import PaintOver, ToolState, ViewState, auto_window
from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry


def make_doc(shape=(6, 20, 30), spacing=(2.0, 1.0, 1.0), classes=3) -> Document:
    geometry = VolumeGeometry(shape, spacing)
    image = np.arange(np.prod(shape), dtype=np.int16).reshape(shape)
    labels = LabelMap(np.zeros(shape, np.uint8), geometry, LabelTable.default(classes))
    return Document([VolumeItem.new(Volume(image, geometry, "t"), labels)])


def make_editor(doc: Document, max_bytes: int = 1 << 20) -> tuple[LabelEditor, ToolState]:
    tools = ToolState(radius=2.0)
    return LabelEditor(doc, tools, UndoStack(max_bytes)), tools


def test_state_imports_no_qt() -> None:
    assert not any(
        m.startswith(("PySide6", "pyqtgraph")) for m in sys.modules if m.startswith("app.state")
    ), "sanity"
    import app.state.workspace  # noqa: F401

    mods = [m for m in sys.modules if m.startswith("app.state")]
    assert mods


def test_stroke_is_one_undo_step_and_marks_slice() -> None:
    doc = make_doc()
    editor, _ = make_editor(doc)
    changes: list[Region] = []
    doc.labels_changed.connect(changes.append)
    editor.begin_stroke("z", 3)
    for col in range(5, 20):
        editor.stroke_to((10.0, float(col)))
    delta = editor.end_stroke()
    assert delta is not None and changes
    painted = doc.labels_zyx[3]
    assert painted[10, 5:20].tolist() == [1] * 15 and painted[10, 0] == 0
    assert doc.labels_zyx[[0, 1, 2, 4, 5]].sum() == 0
    assert doc.is_labeled("z", 3) and not doc.is_labeled("z", 2)
    assert len(editor.undo_stack) == 1
    assert editor.undo() and doc.labels_zyx.sum() == 0 and not doc.is_labeled("z", 3)
    assert editor.redo() and (doc.labels_zyx[3] == painted).all() and doc.is_labeled("z", 3)


def test_undo_survives_other_axes_and_slices() -> None:
    doc = make_doc()
    editor, tools = make_editor(doc)
    editor.dab("z", 1, (5.0, 5.0))
    tools.update(label=2)
    editor.dab("y", 10, (3.0, 15.0))  # coronal slice: rows z, cols x
    editor.dab("x", 25, (2.0, 12.0))  # sagittal slice: rows z, cols y
    assert doc.labels_zyx[3, 10, 15] == 2 and doc.labels_zyx[2, 12, 25] == 2
    assert doc.is_labeled("y", 10) and doc.is_labeled("x", 25)
    editor.undo()
    editor.undo()
    assert doc.labels_zyx[3, 10, 15] == 0 and doc.labels_zyx[1, 5, 5] == 1


def test_paint_over_rules_and_locks() -> None:
    doc = make_doc()
    editor, tools = make_editor(doc)
    doc.labels_zyx[0, :, :10] = 2
    tools.update(paint_over=PaintOver.BACKGROUND, radius=40.0)
    editor.dab("z", 0, (10.0, 10.0))
    assert (doc.labels_zyx[0, :, :10] == 2).all() and (doc.labels_zyx[0, :, 10:] == 1).all()
    tools.update(paint_over=PaintOver.EVERYTHING)
    editor.set_locked(2, True)
    editor.dab("z", 0, (10.0, 10.0), erase=True)
    assert (doc.labels_zyx[0, :, :10] == 2).all() and (doc.labels_zyx[0, :, 10:] == 0).all()
    editor.set_locked(2, False)
    tools.update(paint_over=PaintOver.LABEL, paint_over_label=2, label=1)
    editor.dab("z", 0, (10.0, 25.0))  # reaches everything; changes only label 2
    assert (doc.labels_zyx[0, :, :10] == 1).all() and (doc.labels_zyx[0, :, 10:] == 0).all()


def test_fill_and_polygon_are_single_steps() -> None:
    doc = make_doc()
    editor, tools = make_editor(doc)
    doc.labels_zyx[2, 5, 5:15] = 2
    doc.labels_zyx[2, 15, 5:15] = 2
    doc.labels_zyx[2, 5:16, 5] = 2
    doc.labels_zyx[2, 5:16, 14] = 2
    assert editor.fill("z", 2, (10, 10)) is not None
    inside = doc.labels_zyx[2, 6:15, 6:14]
    assert (inside == 1).all() and doc.labels_zyx[2, 0, 0] == 0
    tools.update(label=2)
    square = np.array([[0, 20], [0, 29], [4, 29], [4, 20]], float)
    assert editor.polygon("z", 4, square) is not None
    assert doc.labels_zyx[4, 0:5, 20:30].all() and doc.labels_zyx[4].sum() == 2 * 50
    assert len(editor.undo_stack) == 2
    editor.undo()
    editor.undo()
    assert not doc.labels_zyx[2, 6:15, 6:14].any() and not doc.labels_zyx[4].any()


def test_undo_is_bounded_by_bytes() -> None:
    doc = make_doc((4, 64, 64))
    editor, tools = make_editor(doc, max_bytes=3000)
    rng = np.random.default_rng(0)
    for k in range(40):
        tools.update(label=1 + k % 2)
        editor.dab("z", k % 4, tuple(rng.uniform(0, 64, 2)))
    assert editor.undo_stack.nbytes <= 3000 or len(editor.undo_stack) == 1
    assert editor.undo_stack.dropped > 0
    steps = 0
    while editor.undo():
        steps += 1
    assert steps == len(editor.undo_stack) < 40


def test_marks_explicit_and_undoable() -> None:
    doc = make_doc()
    editor, _ = make_editor(doc)
    editor.set_mark("z", 2, True)
    assert doc.is_labeled("z", 2)
    assert editor.set_mark("z", 2, True) is None
    editor.set_mark("z", 2, False)
    assert not doc.is_labeled("z", 2)
    editor.undo()
    assert doc.is_labeled("z", 2)


def test_label_table_edits() -> None:
    doc = make_doc(classes=2)
    editor, _ = make_editor(doc)
    value = editor.add_label("liver", (10, 20, 30))
    assert value == 2 and doc.table.classes[2].name == "liver"
    editor.rename_label(2, "spleen")
    editor.recolour_label(2, (300, -1, 5))
    assert doc.table.classes[2].name == "spleen" and doc.table.classes[2].color_rgb == (255, 0, 5)
    with pytest.raises(InputError):
        editor.rename_label(2, "  ")
    with pytest.raises(InputError):
        editor.rename_label(7, "x")
    editor.undo()
    editor.undo()
    assert doc.table.classes[2].name == "liver"
    editor.set_hidden(1, True)
    assert doc.hidden == {1}


def test_journal_sink_gets_every_step() -> None:
    records: list[tuple[int, tuple[int, int, int], np.ndarray]] = []

    class Sink:
        def record(self, volume_index, origin_zyx, values_zyx, marks=()):
            records.append((volume_index, origin_zyx, values_zyx))

        def record_table(self, volume_index, table):
            raise AssertionError("no table change was made")

    doc = make_doc()
    editor, _ = make_editor(doc)
    editor.journal = Sink()
    editor.dab("z", 1, (5.0, 5.0))
    editor.undo()
    assert len(records) == 2 and records[0][2].any() and not records[1][2].any()
    replay = np.zeros_like(doc.labels_zyx)
    for _, (z, y, x), values in records[:1]:
        dz, dy, dx = values.shape
        replay[z : z + dz, y : y + dy, x : x + dx] = values
    assert replay[1, 5, 5] == 1


def test_raster_shapes() -> None:
    box = disc_box((20, 20), (10.0, 10.0), (0.5, 0.5))
    assert box is not None and box[2].sum() == 1
    box = disc_box((50, 50), (25.0, 25.0), (10.0, 10.0))
    assert box is not None and abs(box[2].sum() - np.pi * 100) < 20
    assert disc_box((5, 5), (-20.0, -20.0), (2.0, 2.0)) is None
    tri = polygon_mask((10, 10), np.array([[0, 0], [9, 0], [9, 9]], float))
    assert tri[9, 0] and tri[9, 9] and not tri[0, 9]
    same = np.ones((6, 6), bool)
    same[:, 3] = False
    assert flood_mask(same, (0, 0)).sum() == 18
    assert not flood_mask(same, (0, 3)).any()


def test_layout_of_lps_and_flipped_grids() -> None:
    identity = VolumeGeometry((4, 5, 6), (3.0, 1.0, 2.0))
    axial = slice_layout(identity, "z")
    assert axial.view == "axial" and not axial.flip_h and not axial.flip_v
    assert axial.letters == ("A", "P", "R", "L") and axial.spacing_rc == (1.0, 2.0)
    coronal = slice_layout(identity, "y")
    assert coronal.view == "coronal" and coronal.flip_v and not coronal.transpose
    flipped = VolumeGeometry((4, 5, 6), direction_xyz=(-1, 0, 0, 0, -1, 0, 0, 0, 1))
    assert slice_layout(flipped, "z").flip_h and slice_layout(flipped, "z").flip_v
    assert voxel_to_mm(flipped, (1, 2, 3)) == (-3.0, -2.0, 1.0)


def test_view_state_and_windows() -> None:
    view = ViewState()
    seen: list[str] = []
    view.changed.connect(seen.append)
    view.set_slice("z", 99, 10)
    view.set_window(0, -5)
    view.set_overlay(opacity=3.0)
    assert view.cursor_zyx[0] == 9 and view.window[1] == 1.0 and view.opacity == 1.0
    assert seen == ["cursor", "window", "overlay"]
    centre, width = auto_window(np.arange(1000, dtype=float).reshape(10, 10, 10))
    assert 400 < centre < 600 and 900 < width < 1000
    tools = ToolState(radius=4, radius_in_mm=True)
    assert tools.radius_rc((2.0, 0.5)) == (2.0, 8.0)
    tools.resize(100)
    assert tools.radius == 200.0


def test_recent_files(tmp_path: Path) -> None:
    recent = RecentFiles(tmp_path / "r" / "recent.json", limit=2)
    assert recent.paths() == []
    recent.add(["a"])
    recent.add(["b", "c"])
    recent.add(["a"])
    assert recent.paths() == [["a"], ["b", "c"]]
    (tmp_path / "r" / "recent.json").write_text("{broken")
    assert recent.paths() == []


def test_slice_caption_names_the_slice_and_its_ras_position() -> None:
    from app.state.view_geometry import slice_caption, slice_layout
    from ugpcl_engine import VolumeGeometry

    grid = VolumeGeometry((4, 6, 8), (2.0, 1.0, 0.5), origin_xyz=(10.0, 20.0, 30.0))
    assert slice_caption(grid, slice_layout(grid, "z"), 3) == "Axial\n3 / 3   S 36.0 mm"
    assert slice_caption(grid, slice_layout(grid, "y"), 2) == "Coronal\n2 / 5   A -22.0 mm"
    assert slice_caption(grid, slice_layout(grid, "x"), 5) == "Sagittal\n5 / 7   R -12.5 mm"


def test_painting_limited_to_an_intensity_range() -> None:
    """Threshold-limited painting (issue 16): brush and fill change only voxels whose image
    intensity lies in the range, ends included; None paints everywhere again."""
    doc = make_doc()
    image = doc.item.volume.image_zyx
    image[2] = np.where(np.arange(30)[None, :] < 15, 100, 500)  # left half 100, right 500
    editor, tools = make_editor(doc)
    tools.update(intensity_range=(50.0, 150.0), radius=20.0)
    editor.dab("z", 2, (10.0, 15.0))
    painted = doc.labels_zyx[2] > 0
    assert painted.any() and (image[2][painted] == 100).all()
    assert not painted[:, 15:].any()
    tools.update(intensity_range=(500.0, 500.0))
    editor.fill("z", 2, (5, 20))  # the fill region is all of slice 2's background
    assert (doc.labels_zyx[2][:, 15:] > 0).all()
    tools.update(intensity_range=None)
    editor.dab("z", 3, (10.0, 15.0))
    assert (doc.labels_zyx[3] > 0).sum() > 100
