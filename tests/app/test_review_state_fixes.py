"""Fixes from the review of the state and assist code added with issue 16 (label table
operations, fill between slices, the training axis)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document, open_assist

from app.assist.review import CHECK_THRESHOLD
from app.state.prediction_edits import label_check


def test_the_label_check_follows_a_new_training_axis(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label check counts every voxel of a slice marked along the training axis as the
    user's; after choosing another axis it must be the check along that axis (and its summary
    must name slices along it), not the old axis's left on screen."""
    doc = box_document((2, 5))
    doc.item.labeled["y"][[20]] = True  # a coronal slice marked too (its background counts)
    assist = open_assist(window, tmp_path / "runs", monkeypatch, doc, False)
    try:
        image = doc.item.volume.image_zyx
        prediction = (image > 0).astype(np.uint8)
        entropy = np.zeros(image.shape, np.float32)
        doc.store_prediction(0, "m1", prediction, entropy)
        summaries: list[str] = []
        assist.loop.review.check_summary.connect(summaries.append)
        assist.loop.review.set_label_check(True)
        assert assist.loop.set_training_axis("y")
        labels = doc.labels_zyx
        expected = label_check(
            labels, doc.item.labeled["y"], prediction, entropy, "y", CHECK_THRESHOLD
        )
        mask = assist.loop.layers.check_zyx
        assert mask is not None and np.array_equal(mask, expected)
        slices = np.flatnonzero(expected.any(axis=(0, 2)))
        assert summaries[-1].endswith(", ".join(str(i) for i in slices[:8]))
    finally:
        assist.supervisor.shutdown(2)


def test_importing_a_label_table_keeps_the_dicom_codes_of_labels_it_does_not_rename(
    tmp_path: Path,
) -> None:
    """A file of names and colours carries no DICOM codes: a label the file only recolours
    (or lists as it is) keeps the code the user gave it; a renamed one goes back to the
    default from its new name. The recovered table is the same."""
    from test_label_ops import recovered, workspace

    from app.state.label_ops import import_label_table
    from ugpcl_engine import Concept, SegmentCode

    ws, path = workspace(tmp_path)
    assert ws.editor is not None and ws.doc is not None
    liver = SegmentCode(
        Concept("SCT", "91723000", "Anatomical Structure"), Concept("SCT", "10200004", "Liver")
    )
    spleen = SegmentCode(
        Concept("SCT", "91723000", "Anatomical Structure"), Concept("SCT", "78961009", "Spleen")
    )
    ws.editor.set_code(1, liver)
    ws.editor.set_code(2, spleen)
    table_file = tmp_path / "label_description.txt"
    table_file.write_text('1 255 0 0 1 1 1 "liver"\n2 0 0 255 1 1 1 "Tumour"\n')
    result = import_label_table(ws.editor, table_file)
    table = ws.doc.table
    assert table.classes[1].color_rgb == (255, 0, 0) and table.classes[1].code == liver
    assert table.classes[2].name == "Tumour" and table.classes[2].code is None
    assert result.changed == (1, 2)
    again = recovered(ws, path)
    assert again.doc is not None and again.doc.table == table


def test_another_document_clears_the_held_out_comparison(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The held-out numbers belong to a run on the document left: opening another one (or
    closing it) must not keep showing them, nor take a late fill result of the old run."""
    assist = open_assist(window, tmp_path / "runs", monkeypatch, box_document((2, 5, 8)), False)
    try:
        comparison = assist.loop.holdout.comparison
        comparison.begin(5)
        comparison.set_model(5, 0.91)
        comparison.set_fill(5, 0.84)
        assert assist.panel.holdout.text().startswith("Held-out slice 5: model 0.91")
        window.ws.set_document(box_document((2, 5, 8)))
        assert assist.panel.holdout.text() == ""
        comparison.set_fill(5, 0.5)  # the old run's fill between slices, late
        assert assist.panel.holdout.text() == "" and comparison.fill_dice is None
        comparison.begin(5)
        comparison.set_model(5, 0.7)
        window.ws.close_document()
        assert assist.panel.holdout.text() == ""
    finally:
        assist.supervisor.shutdown(2)


def test_a_label_table_imported_into_a_document_opened_meanwhile(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file dialog runs an event loop: an open that finishes while it is up replaces the
    document. The table goes to the document on screen, never to the one left (whose step
    would land in the new document's undo history and crash journal)."""
    from test_label_actions_gui import document

    from app.ui import label_actions

    window.ws.set_document(document())
    old = window.ws.doc
    newer = document()
    table_file = tmp_path / "label_description.txt"
    table_file.write_text('1 255 0 0 1 1 1 "Liver"\n')

    def opened_meanwhile(_parent: object) -> str:
        window.ws.set_document(newer)
        return str(table_file)

    monkeypatch.setattr(label_actions, "ask_table_file", opened_meanwhile)
    [action] = [a for a in window.menus["Edit"].actions() if a.text() == "Import label table…"]
    action.trigger()
    assert newer.table.names[1] == "Liver" and old.table.names[1] == "liver"
    window.ws.editor.undo()
    assert newer.table.names[1] == "liver"
    newer.modified = False


def test_a_document_never_opens_with_a_deleted_label_active(tmp_path: Path) -> None:
    """Label 1 deleted and saved: reopening it (the active label is 1 at start) or showing a
    volume where the active label is a deleted one makes a label in use active, so the first
    stroke paints a label the user has, not a grey '(deleted)' one no Delete can clear."""
    from test_label_ops import workspace

    from app.state.files import load_project_document, save_snapshot, snapshot
    from app.state.label_ops import delete_label, is_free
    from app.state.workspace import Workspace

    ws, path = workspace(tmp_path, volumes=2)
    assert ws.editor is not None and ws.doc is not None
    delete_label(ws.editor, 1)  # volume 0's liver
    ws.tools.update(label=3)
    ws.set_current(1)
    delete_label(ws.editor, 3)  # volume 1's kidney: active label moves to 1
    assert ws.tools.label == 1
    ws.set_current(0)  # label 1 is deleted in volume 0
    assert not is_free(ws.doc.table, ws.tools.label) and ws.tools.label == 2
    save_snapshot(path, snapshot(ws.doc, path))
    ws.keeper.close()

    again = Workspace()
    again.tools.update(label=1)
    again.set_document(load_project_document(path))
    assert again.doc is not None and again.tools.label == 2
    again.keeper.close()
