"""Qt-free assist state: versions, suggestions, accept rules, label check, run folders."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from app.state.document import Document, VolumeItem
from app.state.editor import LabelEditor
from app.state.model_version import ModelVersion
from app.state.prediction_edits import AcceptOptions, accept_prediction, label_check, mark_labeled
from app.state.suggestions import Suggestion, suggest_slices
from app.state.training_session import TrainingSession, holdout_slice
from app.state.undo import UndoStack
from app.state.view_state import ToolState
from ugpcl_engine.config import preset
from ugpcl_engine.errors import InputError
from ugpcl_engine.training.run_folder import labeled_hash, read_snapshot, write_snapshot
from ugpcl_engine.training.run_request import RunRequest
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry


def editor_on(labels: np.ndarray, labeled: tuple[int, ...] = ()) -> LabelEditor:
    geometry = VolumeGeometry(labels.shape, (1.0, 1.0, 1.0))
    item = VolumeItem.new(
        Volume(np.zeros(labels.shape, np.int16), geometry),
        LabelMap(labels, geometry, LabelTable.default(3)),
    )
    item.labeled["z"][list(labeled)] = True
    return LabelEditor(Document([item]), ToolState(), UndoStack())


def version(n: int, tmp_path: Path, preset_name: str = "quick") -> ModelVersion:
    run = tmp_path / f"v{n}"
    run.mkdir()
    (run / "model.pt").write_bytes(b"x")
    return ModelVersion(n, run, preset_name, 3, "abc123def456", {"holdout_dice": 0.75})


def test_versions_compare_rollback_and_warm_start(tmp_path: Path) -> None:
    session = TrainingSession()
    seen: list[str] = []
    session.versions_changed.connect(lambda _: seen.append("versions"))
    session.shown_changed.connect(lambda _: seen.append("shown"))
    assert session.warm_start("quick") is None
    session.add_version(version(1, tmp_path))
    session.add_version(version(2, tmp_path, "standard"))
    assert (session.current, session.compare) == (1, 0)
    assert session.warm_start("standard") == tmp_path / "v2" / "model.pt"
    assert session.warm_start("quick") is None  # another architecture: from scratch
    assert session.toggle_shown() and session.shown_version is session.versions[0]
    session.rollback(0)
    assert session.current_version is session.versions[0] and session.compare == 1
    assert not session.showing_compare
    with pytest.raises(IndexError):
        session.rollback(5)
    assert "held-out Dice 0.75" in session.versions[0].summary()
    assert seen.count("versions") == 3


def test_losses_skip_non_finite_values() -> None:
    session = TrainingSession()
    session.record_losses(10, {"sup": 0.5, "con": float("nan"), "rot": 0.1})
    assert session.losses["sup"] == [(10, 0.5)] and session.losses["con"] == []


def test_holdout_rotates_over_the_inner_labeled_slices_only_with_enough_of_them() -> None:
    few = np.zeros(10, bool)
    few[[1, 2, 3]] = True
    assert holdout_slice(few, 1) is None
    many = few.copy()
    many[7] = True  # labeled 1, 2, 3, 7: the ends 1 and 7 are never left out
    assert [holdout_slice(many, n) for n in (1, 2, 3, 5)] == [2, 3, 2, 2]


def test_suggestions_skip_labeled_slices_and_locate_regions() -> None:
    entropy = np.zeros((8, 64, 64), np.float32)
    pred = np.zeros((8, 64, 64), np.uint8)
    entropy[1, 40:56, 5:21] = 1.0  # an uncertain structure, centre (47.5, 12.5)
    entropy[4, :, :] = 0.3  # mildly unsure everywhere
    entropy[7] = 1.5  # very unsure but labeled
    labeled = np.zeros(8, bool)
    labeled[7] = True
    ranked = suggest_slices(entropy, pred, labeled, min_gap=2)
    assert ranked[0].slice_index == 1 and ranked[0].regions_rc[0] in ((47, 12), (48, 12))
    assert ranked[0].region_nats == pytest.approx(1.0)
    indices = [s.slice_index for s in ranked]
    assert 7 not in indices and 6 not in indices  # labeled, and too close to labeled
    assert all(abs(a - b) >= 2 for a in indices for b in indices if a != b)
    # the distance to the nearest label travels with each suggestion and into its line
    assert [s.from_label for s in ranked] == [7 - i for i in indices]
    assert ranked[0].describe() == (
        f"slice 1 · uncertainty {ranked[0].score:.2f} · 6 slices from a label"
        f" · unsure region at row {ranked[0].regions_rc[0][0]}, col 12 (1.00 nats)"
    )
    unlabeled = suggest_slices(entropy, pred, np.zeros(8, bool), min_gap=2)
    assert unlabeled[0].from_label is None and "from a label" not in unlabeled[0].describe()
    assert (
        Suggestion(4, 0.5, from_label=1).describe()
        == "slice 4 · uncertainty 0.50 · 1 slice from a label"
    )


def test_suggestions_skip_slices_where_nothing_is_predicted() -> None:
    # a structure on slices 3..8 of 12, labeled on 2, 5 and 9: the empty slices 0 and 11 are far
    # from every label and unsure, but painting them would teach nothing
    entropy = np.full((12, 16, 16), 0.4, np.float32)
    pred = np.zeros((12, 16, 16), np.uint8)
    pred[3:9, 4:12, 4:12] = 1
    labeled = np.zeros(12, bool)
    labeled[[2, 5, 9]] = True
    assert [s.slice_index for s in suggest_slices(entropy, pred, labeled, min_gap=2)] == [7]


def test_next_suggestion_walks_the_ranking_and_skips_new_labels() -> None:
    session = TrainingSession()
    session.set_suggestions([Suggestion(z, 1.0 - 0.1 * k) for k, z in enumerate((1, 3, 2))])
    labeled = np.zeros(5, bool)
    order = [session.next_suggestion(0, labeled).slice_index]
    for _ in range(2):
        order.append(session.next_suggestion(order[-1], labeled).slice_index)
    assert order == [1, 3, 2]
    labeled[1] = True
    assert session.next_suggestion(4, labeled).slice_index == 3


def test_accept_respects_paint_marks_locks_and_confidence() -> None:
    labels = np.zeros((3, 4, 4), np.uint8)
    labels[0, 0, 0] = 2  # painted on an unmarked slice
    editor = editor_on(labels, labeled=(2,))
    pred = np.ones((3, 4, 4), np.uint8)
    entropy = np.zeros((3, 4, 4), np.float32)
    entropy[0, 3, 3] = 0.9
    options = AcceptOptions(confident_only=True, threshold=0.3)
    result = accept_prediction(editor, pred, entropy, "z", [0, 1, 2], options)
    assert result is not None and result.slices == (0, 1)
    assert result.voxels == 16 + 16 - 1 - 1  # minus the painted and the unsure voxel
    assert labels[0, 0, 0] == 2 and labels[0, 3, 3] == 0 and (labels[2] == 0).all()
    assert len(editor.undo_stack) == 1 and not editor.doc.is_labeled("z", 0)
    editor.undo()
    assert labels.sum() == 2
    editor.doc.locked.add(2)
    everything = AcceptOptions(confident_only=False, overwrite_painted=True)
    accept_prediction(editor, pred, entropy, "z", [0, 2], everything)
    assert labels[0, 0, 0] == 2 and (labels[2] == 1).all()  # locked label kept
    with pytest.raises(ValueError):
        AcceptOptions(threshold=-1.0)


def test_confirming_accepted_slices_is_one_undo_step() -> None:
    editor = editor_on(np.zeros((4, 2, 2), np.uint8), labeled=(0,))
    assert mark_labeled(editor, "z", [0, 1, 3]) is not None
    assert list(editor.doc.item.labeled["z"]) == [True, True, False, True]
    editor.undo()
    assert list(editor.doc.item.labeled["z"]) == [True, False, False, False]
    assert mark_labeled(editor, "z", [0]) is None


def test_label_check_is_confident_disagreement_with_paint() -> None:
    labels = np.zeros((2, 3, 3), np.uint8)
    labels[1, 0, 0] = 1  # paint on an unlabeled slice
    pred = np.ones((2, 3, 3), np.uint8)
    entropy = np.zeros((2, 3, 3), np.float32)
    entropy[0, 2, 2] = 0.5  # unsure: not flagged
    mask = label_check(labels, np.array([True, False]), pred, entropy, "z", 0.1)
    assert mask[0].sum() == 8 and not mask[0, 2, 2]
    assert not mask[1].any()  # agrees with the paint; unlabeled background is no paint


def test_snapshot_round_trip_and_hash(tmp_path: Path) -> None:
    image = np.arange(2 * 3 * 4, dtype=np.int16).reshape(2, 3, 4)
    labels = np.zeros(image.shape, np.uint8)
    labeled = np.array([True, False])
    request = RunRequest(preset("quick", 3, steps=5), LabelTable.default(3), holdout_slice=None)
    write_snapshot(tmp_path / "run", image, labels, labeled, request)
    img, lab, marks, back = read_snapshot(tmp_path / "run")
    assert (img == image).all() and img.dtype == np.int16 and (marks == labeled).all()
    assert back == request and lab.dtype == np.uint8
    changed = labels.copy()
    changed[1, 0, 0] = 1  # an unlabeled slice: not part of what training learns
    assert labeled_hash(changed, labeled) == labeled_hash(labels, labeled)
    changed[0, 0, 0] = 1
    assert labeled_hash(changed, labeled) != labeled_hash(labels, labeled)
    with pytest.raises(InputError, match="No slice is marked"):
        write_snapshot(tmp_path / "r2", image, labels, np.zeros(2, bool), request)


def test_death_messages_say_what_happened() -> None:
    from app.jobs.training_supervisor import death_message

    assert "out of memory" in death_message(-signal.SIGKILL)
    assert "SIGTERM" in death_message(-signal.SIGTERM)
    assert "exit code 3" in death_message(3)
