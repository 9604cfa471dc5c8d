"""Fill between slices in the state layer (``app.state.slice_fill``) and the held-out
comparison (``app.state.holdout_comparison``), with a stand-in for ITK (``fill_fakes``; what
ITK computes is the engine's test)."""

from __future__ import annotations

import numpy as np
import pytest
from fill_fakes import copy_below

from app.state.document import Document, VolumeItem
from app.state.editor import LabelEditor
from app.state.holdout_comparison import (
    NOT_BETWEEN,
    HoldoutComparison,
    holdout_fill_dice,
    plan_holdout,
)
from app.state.slice_fill import apply_fill, compute_fill, plan_fill
from app.state.undo import UndoStack
from app.state.view_state import PaintOver, ToolState
from ugpcl_engine import CancelledError, InputError, axis_index
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

SHAPE = (8, 20, 30)


def make(classes: int = 4) -> tuple[Document, LabelEditor, ToolState, list[tuple]]:
    geometry = VolumeGeometry(SHAPE, (2.0, 1.0, 1.0))
    image = np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE)
    labels = LabelMap(np.zeros(SHAPE, np.uint8), geometry, LabelTable.default(classes))
    doc = Document([VolumeItem.new(Volume(image, geometry, "t"), labels)])
    tools = ToolState()
    records: list[tuple] = []

    class Sink:
        def record(self, volume_index, origin_zyx, values_zyx, marks=()):
            records.append((origin_zyx, values_zyx.copy(), marks))

        def record_table(self, volume_index, table):
            raise AssertionError("no table edit")

    return doc, LabelEditor(doc, tools, UndoStack(1 << 22), Sink()), tools, records


def mark(doc: Document, axis: str, *indices: int) -> None:
    for i in indices:
        doc.item.labeled[axis][i] = True


def fill(editor: LabelEditor, axis: str = "z", label: int | None = None):
    plan = plan_fill(editor, axis, label)
    return plan, apply_fill(editor, plan, compute_fill(plan, None, copy_below))


def test_one_undo_step_only_between_the_marked_slices_and_they_stay_unmarked() -> None:
    doc, editor, _, records = make()
    labels = doc.labels_zyx
    labels[1, 5:10, 5:12] = 1
    labels[5, 6:11, 6:14] = 1
    labels[0, 0:3, 0:3] = 2  # unmarked, before the first marked slice
    labels[7, 0:3, 0:3] = 2  # unmarked, after the last
    mark(doc, "z", 1, 5)
    before = labels.copy()
    steps = len(editor.undo_stack)
    plan, result = fill(editor)
    assert plan.box.origin_zyx == (1, 4, 4) and plan.box.shape_zyx == (5, 8, 11)  # cropped
    assert result.slices == (2, 3, 4) and result.voxels == 3 * 35
    changed = np.flatnonzero((labels != before).any(axis=(1, 2)))
    assert changed.tolist() == [2, 3, 4]
    assert np.array_equal(labels[2:5], np.repeat(before[1:2], 3, axis=0))
    assert not doc.item.labeled["z"][2:5].any()  # a proposal: not marked
    assert doc.modified and len(records) == 1 and records[0][2] == ()  # journaled, no marks
    assert len(editor.undo_stack) == steps + 1
    assert editor.undo()
    assert np.array_equal(labels, before)
    assert not editor.undo()  # it was one step


def test_the_fill_replaces_its_labels_on_the_unmarked_slices() -> None:
    doc, editor, _, _ = make()
    labels = doc.labels_zyx
    labels[2, 5:8, 5:8] = 1
    labels[4, 5:8, 5:8] = 1
    labels[3, 15:18, 20:25] = 1  # a stray stroke of label 1 between them: taken away
    labels[3, 0:2, 0:2] = 3  # label 3 is on no marked slice: left alone
    mark(doc, "z", 2, 4)
    fill(editor)
    assert (labels[3] == 1).sum() == 9 and labels[3, 5:8, 5:8].all()
    assert (labels[3] == 3).sum() == 4


def test_active_label_only_and_all_labels() -> None:
    doc, editor, _, _ = make()
    labels = doc.labels_zyx
    labels[0, 2:5, 2:5] = 1
    labels[0, 10:14, 10:14] = 2
    mark(doc, "z", 0, 3)
    _, only = fill(editor, label=2)
    assert set(np.unique(labels[1:3])) == {0, 2}
    editor.undo()
    _, both = fill(editor)
    assert set(np.unique(labels[1:3])) == {0, 1, 2} and both.voxels == 2 * (9 + 16)
    assert only.voxels == 2 * 16
    with pytest.raises(InputError, match="Label 3 is on none of the labeled slices"):
        plan_fill(editor, "z", 3)


def test_locked_labels_are_kept_and_not_filled() -> None:
    doc, editor, _, _ = make()
    labels = doc.labels_zyx
    labels[0, 2:6, 2:6] = 1
    labels[0, 10:14, 10:14] = 2
    labels[2, 3:5, 3:5] = 2  # a locked label where label 1 would go
    mark(doc, "z", 0, 4)
    editor.set_locked(2, True)
    plan, _ = fill(editor)
    assert plan.values == (1,)
    assert (labels[2, 3:5, 3:5] == 2).all()  # never overwritten
    assert (labels[1:4] == 2).sum() == 4  # label 2 is not interpolated
    assert (labels[1:4] == 1).sum() == 3 * 16 - 4
    with pytest.raises(InputError, match="Label 2 is locked"):
        plan_fill(editor, "z", 2)


def test_paint_over_background_only_and_the_intensity_range() -> None:
    doc, editor, tools, _ = make()
    labels = doc.labels_zyx
    labels[0, 2:6, 2:6] = 1
    labels[2, 2:4, 2:4] = 3  # painted by hand on an unmarked slice
    mark(doc, "z", 0, 3)
    tools.update(paint_over=PaintOver.BACKGROUND)
    fill(editor)
    assert (labels[2, 2:4, 2:4] == 3).all() and (labels[2] == 1).sum() == 12
    editor.undo()
    tools.update(paint_over=PaintOver.EVERYTHING)
    image = doc.item.volume.image_zyx
    tools.update(intensity_range=(float(image[1, 0, 0]), float(image[1, 3, 29])))  # rows 0..3
    fill(editor)
    assert (labels[1] == 1).sum() == 2 * 4 and (labels[2] == 1).sum() == 0  # slice 1 rows 2, 3


@pytest.mark.parametrize("axis", ["y", "x"])
def test_other_axes(axis: str) -> None:
    doc, editor, _, _ = make()
    a = axis_index(axis)
    labels = doc.labels_zyx
    index: list = [slice(2, 6), slice(3, 9), slice(3, 9)]
    for s in (2, 6):
        index[a] = s
        labels[tuple(index)] = 1
    mark(doc, axis, 2, 6)
    before = labels.copy()
    _, result = fill(editor, axis)
    assert result.axis == axis and result.slices == (3, 4, 5)
    changed = np.flatnonzero((labels != before).any(axis=tuple(i for i in range(3) if i != a)))
    assert changed.tolist() == [3, 4, 5]
    assert not doc.item.labeled[axis][3:6].any()


def test_clear_messages_for_what_cannot_be_filled() -> None:
    doc, editor, _, _ = make()
    with pytest.raises(InputError, match="two or more axial slices marked labeled; 0 is"):
        plan_fill(editor, "z")
    mark(doc, "x", 3, 4)
    with pytest.raises(InputError, match="Every sagittal slice from 3 to 4 is marked"):
        plan_fill(editor, "x")
    mark(doc, "z", 1, 5)
    with pytest.raises(InputError, match="no unlocked label to fill from"):
        plan_fill(editor, "z")


def test_a_fill_is_dropped_when_the_marked_slices_changed_meanwhile() -> None:
    doc, editor, _, records = make()
    doc.labels_zyx[1, 2:6, 2:6] = 1
    mark(doc, "z", 1, 5)
    plan = plan_fill(editor, "z")
    filled = compute_fill(plan, None, copy_below)
    editor.dab("z", 5, (10.0, 10.0))  # the user paints a marked slice meanwhile
    before, count = doc.labels_zyx.copy(), len(records)
    with pytest.raises(InputError, match="labeled slices changed while filling"):
        apply_fill(editor, plan, filled)
    assert np.array_equal(doc.labels_zyx, before) and len(records) == count


def test_compute_passes_the_cancel_check_on() -> None:
    doc, editor, _, _ = make()
    doc.labels_zyx[1, 2:6, 2:6] = 1
    mark(doc, "z", 1, 5)
    plan = plan_fill(editor, "z")

    def cancelling(*args, cancelled=None):
        assert cancelled is not None and cancelled()
        raise CancelledError("stop")

    with pytest.raises(CancelledError):
        compute_fill(plan, lambda: True, cancelling)


def test_holdout_plan_and_dice() -> None:
    labels = np.zeros(SHAPE, np.uint8)
    labels[2, 4:8, 4:8] = 1
    labels[4, 4:8, 4:10] = 1  # the held-out slice: 16 of its 24 voxels match slice 2
    labels[6, 4:8, 4:8] = 1
    labeled = np.zeros(SHAPE[0], bool)
    labeled[[2, 4, 6]] = True
    plan = plan_holdout(labels, labeled, "z", 4)
    assert plan is not None and plan.slab_zyx.shape == (5, 20, 30) and plan.index == 2
    assert holdout_fill_dice(plan, None, copy_below) == pytest.approx(2 * 16 / (16 + 24))
    assert plan_holdout(labels, labeled, "z", 2) is None  # no labeled slice below it
    assert plan_holdout(labels, labeled, "z", 6) is None


def test_the_comparison_keeps_the_latest_runs_numbers() -> None:
    seen: list[None] = []
    comparison = HoldoutComparison()
    comparison.changed.connect(seen.append)
    comparison.begin(4)
    comparison.set_fill(4, 0.8)
    comparison.set_fill(3, 0.1)  # another run's late result: ignored
    assert (comparison.model_dice, comparison.fill_dice) == (None, 0.8)
    comparison.set_model(4, 0.9)
    assert (comparison.slice_index, comparison.model_dice, comparison.fill_dice) == (4, 0.9, 0.8)
    comparison.set_model(7, 0.5)  # a run it was not told about starts over
    assert (comparison.slice_index, comparison.fill_dice) == (7, None)
    comparison.set_fill(7, None, NOT_BETWEEN)
    assert comparison.fill_note == NOT_BETWEEN and len(seen) == 6


@pytest.mark.slow  # two real ITK runs on the chest CT
def test_the_cropped_fill_equals_the_whole_volume_interpolation(chest_ct) -> None:
    """The fill interpolates only the box of its labels (faster); ITK's result is the same."""
    import SimpleITK as sitk

    from ugpcl_engine import SAMPLE_LABELED_SLICES, interpolate_labels

    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(chest_ct.labels))).astype(np.uint8)
    slices = list(SAMPLE_LABELED_SLICES)
    geometry = VolumeGeometry(ref.shape, (2.5, 1.0, 1.0))
    sparse = np.zeros_like(ref)
    sparse[slices] = ref[slices]
    table = LabelTable.default(int(ref.max()) + 1)
    volume = Volume(np.zeros(ref.shape, np.int16), geometry, "chest")
    doc = Document([VolumeItem.new(volume, LabelMap(sparse, geometry, table))])
    mark(doc, "z", *slices)
    editor = LabelEditor(doc, ToolState(), UndoStack(1 << 28))
    plan = plan_fill(editor, "z")
    assert plan.box.shape_zyx[1:] != ref.shape[1:]  # cropped in-plane
    apply_fill(editor, plan, compute_fill(plan))
    assert np.array_equal(doc.labels_zyx, interpolate_labels(ref, slices))
