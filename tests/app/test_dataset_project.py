"""A dataset folder opened as the app's document, and trained on with the app's own path.

Through the state layer (``load_paths`` on a dataset folder, ``load_dataset``, the journal's
origin, the volumes a run takes) and through the window with the real training child.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "engine"))

from synthetic_datasets import DEPTH, MSD_TRAIN, SSL_TRAIN, write_msd, write_ssl4mis
from training_fakes import record_snapshots

from app.state.document import DocumentOrigin
from app.state.files import load_dataset, load_origin, load_paths
from app.state.training_runs import training_volumes
from ugpcl_engine import InputError

TINY = {"steps": 3, "log_every": 1, "max_input_size": 32, "batch_labeled": 2, "batch_unlabeled": 2}


def test_an_msd_folder_opens_as_its_training_cases(tmp_path: Path) -> None:
    root = write_msd(tmp_path / "msd")
    doc = load_paths([root])
    assert [i.volume.name for i in doc.items] == [*MSD_TRAIN, "case_e"]
    marked = [int(i.labeled["z"].sum()) for i in doc.items]
    assert marked == [DEPTH, DEPTH, DEPTH, DEPTH, 0]
    assert all(not i.labeled["y"].any() and not i.labeled["x"].any() for i in doc.items)
    assert doc.items[0].labels.labels_zyx.max() == 3
    assert not doc.items[4].labels.labels_zyx.any()
    assert doc.table.names == ("background", "RV", "myocardium", "LV")
    assert doc.current == 0 and doc.items[0].source_path is not None
    assert doc.origin == DocumentOrigin("paths", (str(root.absolute()),))
    assert not doc.modified
    choice = training_volumes(doc)
    assert choice.indices == (0, 1, 2, 3, 4) and choice.skipped == ()


def test_an_ssl4mis_folder_with_a_labeled_count_and_its_origin(tmp_path: Path) -> None:
    root = write_ssl4mis(tmp_path / "acdc")
    doc = load_dataset(root, "2")
    names = [f"{p}_{f}" for p in SSL_TRAIN for f in ("frame01", "frame02")]
    assert [i.volume.name for i in doc.items] == names
    assert [bool(i.labeled["z"].all()) for i in doc.items] == [True] * 4 + [False] * 2
    assert not doc.items[5].labeled["z"].any()
    assert doc.origin == DocumentOrigin("dataset", (str(root.absolute()), "2"))
    again = load_origin(doc.origin)
    assert [int(i.labeled["z"].sum()) for i in again.items] == [DEPTH] * 4 + [0, 0]
    assert np.array_equal(again.items[1].labels.labels_zyx, doc.items[1].labels.labels_zyx)


def test_the_shown_volume_is_the_first_labeled_case(tmp_path: Path) -> None:
    root = write_ssl4mis(tmp_path / "acdc")
    (root / "ids.txt").write_text("patient002\n")
    doc = load_dataset(root, str(root / "ids.txt"))
    assert doc.current == 4 and doc.item.volume.name == "patient002_frame01"


def test_a_dataset_folder_opens_alone_and_refuses_too_many_cases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import app.state.files as files
    from ugpcl_engine import read_dataset_cases

    root = write_msd(tmp_path / "msd")
    with pytest.raises(InputError, match="dataset folder on its own"):
        load_paths([root, root / "imagesTr" / "case_b_0000.nii.gz"])
    monkeypatch.setattr(
        files,
        "read_dataset_cases",
        lambda r, labeled, **kw: read_dataset_cases(r, labeled, 3, **kw),
    )
    with pytest.raises(InputError, match="ugpcl-studio train-dataset"):
        load_paths([root])


def test_train_on_a_dataset_opened_from_the_file_menu(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File › Open dataset folder…, then the real training child on every case."""
    from PySide6.QtWidgets import QFileDialog

    from app.ui import dataset_dialog
    from app.ui.assist import install_assist

    root = write_msd(tmp_path / "msd")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(root))
    monkeypatch.setattr(dataset_dialog, "ask_labeled", lambda *_a: (True, None))
    controller = install_assist(window, runs_root=tmp_path / "runs")
    try:
        snapshots = record_snapshots(controller.supervisor)
        with qtbot.waitSignal(window.files.opened, timeout=30000):
            file_menu = window.menuBar().actions()[0].menu()
            actions = {a.text(): a for a in file_menu.actions()}
            actions["Open dataset folder…"].trigger()
        doc = window.ws.doc
        assert doc is not None and len(doc.items) == 5
        controller.training.overrides = dict(TINY)
        with qtbot.waitSignal(controller.training.result_ready, timeout=120000) as blocker:
            assert controller.training.start("quick", "cpu")
        version = blocker.args[0]
        volumes, request = snapshots[version.run_dir]
        assert request.volume_count == 5
        assert [int(v.labeled.sum()) for v in volumes] == [DEPTH] * 4 + [0]
        assert version.volumes == (0, 1, 2, 3, 4) and version.labeled_count == 4 * DEPTH
        assert version.metrics["steps"] == 3.0
        run = doc.records["runs"][-1]
        assert [v["labeled_slices"] for v in run["volumes"]] == [DEPTH] * 4 + [0]
        assert version.prediction_zyx().shape == doc.labels_zyx.shape
        doc.modified = False
    finally:
        controller.supervisor.shutdown(5)


def test_the_open_dataset_dialog_chooses_the_labeled_cases(
    qtbot, window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """File › Open dataset folder… asks which cases are labeled (as ``--labeled``): the first
    two of the four with label files; Cancel opens nothing."""
    from PySide6.QtWidgets import QFileDialog

    from app.ui import dataset_dialog
    from ugpcl_engine import dataset_summary

    root = write_msd(tmp_path / "msd")
    summary = dataset_summary(root)
    assert (summary.layout, summary.unit, summary.cases) == ("msd", "cases", 5)
    assert len(summary.units) == 5 and len(summary.with_labels) == 4
    dialog = dataset_dialog.LabeledCasesDialog(summary)
    qtbot.addWidget(dialog)
    assert dialog.choice() is None  # default: the cases with label files
    assert dialog.count.maximum() == 4
    dialog.count.setValue(2)  # choosing a count picks "the first N"
    assert dialog.choice() == "2"
    dialog.share.setValue(50)
    assert dialog.choice() == "50%"

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *_a, **_k: str(root))
    actions = {a.text(): a for a in window.menuBar().actions()[0].menu().actions()}
    monkeypatch.setattr(dataset_dialog, "ask_labeled", lambda *_a: (False, "2"))
    actions["Open dataset folder…"].trigger()
    assert not window.tasks.busy() and window.ws.doc is None
    monkeypatch.setattr(dataset_dialog, "ask_labeled", lambda *_a: (True, "2"))
    with qtbot.waitSignal(window.files.opened, timeout=30000):
        actions["Open dataset folder…"].trigger()
    doc = window.ws.doc
    assert doc is not None and len(doc.items) == 5
    assert [bool(item.labeled["z"].any()) for item in doc.items] == [True, True] + [False] * 3
    assert not doc.items[2].labels.labels_zyx.any()  # its label file is left unread
