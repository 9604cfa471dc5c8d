"""Tools › Fill between slices in the window, and the held-out comparison in the training panel.

One real ITK run (the menu action along the coronal axis); the others use a stand-in.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fill_fakes import copy_below
from PySide6.QtWidgets import QPushButton

from app.jobs.fill_jobs import FILL_KIND
from app.state.document import Document, VolumeItem
from app.state.holdout_comparison import NOT_BETWEEN
from app.ui.fill_between import FILL_KEY, FILL_TEXT, ONLY_TEXT
from ugpcl_engine import CancelledError, Validation
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry


def disc_document() -> Document:
    """10×24×24 volume; label 1 is a disc growing with y on coronal slices 2 and 8."""
    shape = (10, 24, 24)
    geometry = VolumeGeometry(shape, (1.0, 1.0, 1.0))
    image = np.zeros(shape, np.int16)
    labels = np.zeros(shape, np.uint8)
    z, x = np.indices((shape[0], shape[2]))
    for y, radius in ((2, 2.5), (8, 4.5)):
        labels[:, y, :] = np.hypot(z - 5, x - 12) <= radius
    item = VolumeItem.new(
        Volume(image, geometry, "disc"), LabelMap(labels, geometry, LabelTable.default(2))
    )
    item.labeled["y"][[2, 8]] = True
    return Document([item])


def entry(window, text: str):
    return next(a for a in window.menus["Tools"].actions() if a.text() == text)


def test_the_menu_fills_along_the_active_axis_and_undo_restores(qtbot, window) -> None:
    window.ws.set_document(disc_document())
    doc = window.ws.doc
    before = doc.labels_zyx.copy()
    action = entry(window, FILL_TEXT)
    assert action.shortcut().toString() == FILL_KEY
    window.controller.active_axis = "y"  # the coronal view is the one under the mouse
    with qtbot.waitSignal(window.fill_between.filled, timeout=60000) as done:
        action.trigger()  # real ITK, in its child process
    result = done.args[0]
    assert result.axis == "y" and result.slices == (3, 4, 5, 6, 7)
    areas = (doc.labels_zyx == 1).sum(axis=(0, 2))
    assert areas[0] == areas[9] == 0 and np.all(np.diff(areas[2:9]) >= 0)  # grows
    assert areas[2] < areas[5] < areas[8]
    assert np.array_equal(doc.labels_zyx[:, [2, 8], :], before[:, [2, 8], :])
    assert not doc.item.labeled["y"][3:8].any()  # a proposal, not marked
    assert "NOT marked labeled" in window.statusBar().currentMessage()
    assert doc.modified and window.windowTitle().startswith("disc *")
    window.undo()
    assert np.array_equal(doc.labels_zyx, before)


@pytest.fixture
def stand_in(window):
    window.fill_between.interpolate = copy_below
    return window


def test_the_label_panel_button_and_the_active_label_option(qtbot, stand_in, dialogs_log) -> None:
    window = stand_in
    doc = disc_document()
    doc.labels_zyx[2:4, 2, 0:3] = 2  # label 2 on coronal slice 2 only
    window.ws.set_document(doc)
    window.controller.active_axis = "y"
    only = entry(window, ONLY_TEXT)
    assert not only.isChecked() and not window.ws.tools.fill_active_label_only  # default
    only.setChecked(True)
    window.ws.tools.update(label=2)
    with qtbot.waitSignal(window.fill_between.filled, timeout=10000) as done:
        window.label_panel.fill_requested.emit()  # the panel's button
    assert set(np.unique(doc.labels_zyx[:, 3:8, :])) == {0, 2} and done.args[0].voxels == 5 * 6
    window.controller.active_axis = "z"  # nothing marked along z: a message, no change
    before = doc.labels_zyx.copy()
    assert window.fill_between.fill() is None
    assert "two or more axial slices marked labeled" in dialogs_log["errors"][-1]
    assert np.array_equal(doc.labels_zyx, before)


def test_cancel_leaves_the_labels_unchanged(qtbot, stand_in) -> None:
    window = stand_in
    window.ws.set_document(disc_document())
    window.controller.active_axis = "y"
    before = window.ws.doc.labels_zyx.copy()

    def slow(*args, cancelled):  # on the pool thread: waits for the cancel, as the engine does
        while not cancelled():
            time.sleep(0.01)
        raise CancelledError("cancelled")

    window.fill_between.interpolate = slow
    task = window.fill_between.fill()
    assert task is not None and window.fill_between.progress is not None
    with qtbot.waitSignal(task.signals.cancelled, timeout=10000):
        window.fill_between.progress.findChild(QPushButton).click()  # the dialog's Cancel
    qtbot.waitUntil(lambda: not window.tasks.busy(FILL_KIND))
    assert "cancelled" in window.statusBar().currentMessage()
    assert np.array_equal(window.ws.doc.labels_zyx, before) and not window.ws.doc.modified
    assert window.fill_between.progress is None


def test_the_holdout_label_shows_the_model_and_fill_between_slices(
    qtbot, window, tmp_path: Path
) -> None:
    from app.ui.assist import install_assist

    view = install_assist(window, runs_root=tmp_path / "runs")
    holdout = view.loop.holdout
    holdout.interpolate = copy_below
    doc = disc_document()
    labels, labeled = doc.labels_zyx, np.zeros(10, bool)
    labels[:] = 0
    for z, cols in ((2, 8), (4, 12), (6, 8)):  # held-out slice 4: 8 of its 12 columns
        labels[z, 5:10, 0:cols] = 1
        labeled[z] = True

    def pending(holdout_slice: int | None, label_hash: str = "abc") -> SimpleNamespace:
        snapshot = SimpleNamespace(labels_zyx=labels, labeled=labeled)
        request = SimpleNamespace(holdout_slice=holdout_slice, axis="z")
        return SimpleNamespace(
            request=request, label_hash=label_hash, volumes=[SimpleNamespace(snapshot=snapshot)]
        )

    comparison = holdout.comparison
    with qtbot.waitSignal(
        comparison.changed,
        timeout=10000,
        check_params_cb=lambda _: comparison.fill_dice is not None,
    ):
        view.training.run_started.emit(pending(4))
    assert view.panel.holdout.text() == ""  # nothing before the model's number
    view.session.apply(Validation(100, 4, 0.912))
    assert view.panel.holdout.text() == "Held-out slice 4: model 0.91 · fill-between-slices 0.80"
    view.training.run_started.emit(pending(2))  # the first labeled slice: nothing below it
    view.session.apply(Validation(100, 2, 0.5))
    assert (
        view.panel.holdout.text()
        == f"Held-out slice 2: model 0.50 · fill-between-slices — ({NOT_BETWEEN})"
    )
    calls: list[int] = []
    holdout.interpolate = lambda *a, **k: calls.append(1) or copy_below(*a, **k)
    view.training.run_started.emit(pending(4))  # a round on the same labels: reused, not rerun
    view.session.apply(Validation(200, 4, 0.95))
    assert view.panel.holdout.text().endswith("model 0.95 · fill-between-slices 0.80")
    assert calls == [] and not window.tasks.busy()
