"""Training and suggestions along any of the three axes (issue 16), with the scripted child."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document, open_assist, record_snapshots

from app.assist.run_plan import default_axis
from app.state.suggestions import Suggestion
from app.state.training_session import TrainingSession

CORONAL = (12, 20, 27)  # y slices of the 12×40×50 box volume


def coronal_document():  # type: ignore[no-untyped-def]
    """The box volume with three coronal slices painted and marked, nothing axial."""
    doc = box_document(())
    item = doc.item
    for y in CORONAL:
        item.labels.labels_zyx[:, y, :] = item.volume.image_zyx[:, y, :] > 0
    item.labeled["y"][list(CORONAL)] = True
    return doc


def test_a_new_axis_drops_the_old_axis_suggestions_and_accepted_slices() -> None:
    session = TrainingSession()
    topics: list[str] = []
    session.axis_changed.connect(topics.append)
    session.set_suggestions([Suggestion(4, 1.0, 0.5, 2, ())])
    session.add_accepted([4])
    assert not session.set_axis("z")  # already axial: nothing dropped
    assert session.suggestions and session.accepted
    assert session.set_axis("x")
    assert topics == ["x"] and session.axis == "x"
    assert session.suggestions == [] and session.ranking is None and not session.accepted
    with pytest.raises(ValueError, match="unknown axis"):
        session.set_axis("t")


def test_a_document_starts_on_the_axis_its_user_painted_most() -> None:
    assert default_axis(None) == "z"
    assert default_axis(box_document((2, 5))) == "z"
    assert default_axis(coronal_document()) == "y"
    tie = coronal_document()
    tie.item.labeled["z"][[1, 2, 3]] = True  # as many axial as coronal: axial
    assert default_axis(tie) == "z"


def test_coronal_training_uses_the_coronal_marks_and_n_jumps_coronally(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import Qt

    assist = open_assist(window, tmp_path / "runs", monkeypatch, box_document(()), False)
    try:
        panel, session = assist.panel, assist.session
        assert session.axis == "z" and not panel.start_button.isEnabled()
        assert "axial slice" in panel.start_button.toolTip()
        # choosing Coronal in the panel: the start rule and the texts follow the coronal marks
        panel.axis.setCurrentIndex(panel.axis.findData("y"))
        panel.axis.activated.emit(panel.axis.currentIndex())
        assert session.axis == "y" and "coronal slice" in panel.start_button.toolTip()
        window.ws.editor.dab("y", 20, (5.0, 25.0))  # painting a coronal slice marks it
        assert panel.start_button.isEnabled()
        assert panel.status.text().startswith("1 coronal slice is already labeled (20)")
        assert panel.range_to.maximum() == 39  # 40 coronal slices
        snapshots = record_snapshots(assist.supervisor)
        (assist.training.runs_root / "script.txt").write_text("ok")
        window.ws.view.set_slice("y", 14, 40)
        with qtbot.waitSignal(assist.training.result_ready, timeout=20000) as blocker:
            qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
            assert not panel.axis.isEnabled()  # no axis change while a run goes
        version = blocker.args[0]
        volumes, request = snapshots[version.run_dir]
        assert request.axis == "y" and request.preview_slice == 14
        assert volumes[0].labeled.shape == (40,) and np.flatnonzero(volumes[0].labeled) == [20]
        seen = json.loads((Path(version.run_dir) / "seen.json").read_text())
        assert seen[0]["labeled"] == 1
        assert window.ws.doc.records["runs"][-1]["axis"] == "y"
        qtbot.waitUntil(lambda: bool(session.suggestions), timeout=5000)
        assert all(0 <= s.slice_index < 40 and s.slice_index != 20 for s in session.suggestions)
        z_before = window.ws.view.slice_index("z")
        assist.actions["Next suggestion"].trigger()
        assert window.ws.view.slice_index("y") == session.suggestions[0].slice_index
        assert 0 <= window.ws.view.slice_index("z") < 12 and z_before is not None
        # back to axial: the coronal suggestions go and are ranked again along z
        panel.axis.setCurrentIndex(panel.axis.findData("z"))
        panel.axis.activated.emit(panel.axis.currentIndex())
        assert session.axis == "z"
        qtbot.waitUntil(lambda: bool(session.suggestions), timeout=5000)
        assert all(0 <= s.slice_index < 12 for s in session.suggestions)
    finally:
        assist.supervisor.shutdown(2)


def test_a_coronally_painted_document_opens_on_the_coronal_axis(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assist = open_assist(window, tmp_path / "runs", monkeypatch, coronal_document(), False)
    try:
        assert assist.session.axis == "y"
        assert assist.panel.axis.currentData() == "y"
        assert assist.panel.start_button.isEnabled()
        assert assist.panel.status.text().startswith("3 coronal slices are already labeled")
    finally:
        assist.supervisor.shutdown(2)
