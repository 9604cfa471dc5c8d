"""Training on every volume of the document (scripted child): the snapshot, the results per
volume shown when switching, and the run records saved with the project."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from test_volume_switching import ORGANS
from training_fakes import fake_child, fake_result, record_snapshots

from app.state.document import Document, VolumeItem
from app.state.files import load_project_document
from app.state.training_runs import models_of_run, record_export, same_classes
from ugpcl_engine.inference.model_metadata import ExportReport
from ugpcl_engine.training.events import Preview
from ugpcl_engine.training.run_folder import file_sha256, labeled_hash
from ugpcl_engine.volume import LabelClass, LabelMap, LabelTable, Volume, VolumeGeometry

TABLE = LabelTable.default(3)


def item(name: str, shape: tuple[int, int, int], table: LabelTable, labeled=()) -> VolumeItem:
    """A bright box inside a dark volume; label 1 painted on the ``labeled`` axial slices."""
    image = np.full(shape, -900, np.int16)
    image[:, 4:-4, 5:-5] = 50
    geometry = VolumeGeometry(shape, (2.0, 1.0, 1.0))
    labels = np.zeros(shape, np.uint8)
    for z in labeled:
        labels[z] = image[z] > 0
    out = VolumeItem.new(Volume(image, geometry, name, "CT"), LabelMap(labels, geometry, table))
    out.labeled["z"][list(labeled)] = True
    return out


def three_volumes() -> Document:
    """alpha (labeled slices 2, 5), beta (other classes), gamma (same classes, none labeled)."""
    return Document(
        [
            item("alpha", (8, 24, 30), TABLE, (2, 5)),
            item("beta", (6, 20, 22), ORGANS, (1,)),
            item("gamma", (10, 28, 26), TABLE),
        ]
    )


@pytest.fixture
def assisted(window, tmp_path: Path):
    """The window with the assist loop on the scripted child, the model menu, three volumes."""
    from app.ui.assist import install_assist
    from app.ui.model_menu import install_model_menu

    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "script.txt").write_text("ok")
    assist = install_assist(window, target=fake_child, runs_root=tmp_path / "runs")
    menu = install_model_menu(window, quiet=True)
    window.ws.set_document(three_volumes())
    yield assist, menu
    menu.tasks.wait()
    assist.supervisor.shutdown(2)


@pytest.fixture
def snapshots(assisted) -> dict:
    """Run folder -> (volumes, request) of its snapshot, read while the run went on."""
    return record_snapshots(assisted[0].supervisor)


def train(qtbot, assist):
    with qtbot.waitSignal(assist.training.result_ready, timeout=30000) as blocker:
        assert assist.training.start("quick", "cpu")
    qtbot.waitUntil(lambda: not assist.tasks.busy(), timeout=10000)
    return blocker.args[0]


def test_same_classes_ignores_colours_only() -> None:
    recoloured = LabelTable(tuple(LabelClass(c.value, c.name, (9, 9, 9)) for c in TABLE.classes))
    assert same_classes(TABLE, recoloured)
    assert not same_classes(TABLE, ORGANS)
    assert not same_classes(TABLE, LabelTable.default(2))


def test_a_run_trains_on_every_volume_with_the_same_classes(
    qtbot, window, assisted, snapshots
) -> None:
    assist, _ = assisted
    doc = window.ws.doc
    version = train(qtbot, assist)

    volumes, request = snapshots[version.run_dir]
    assert request.volume_count == 2 and request.modalities == ("CT", "CT")
    assert [v.image_zyx.shape for v in volumes] == [(8, 24, 30), (10, 28, 26)]
    assert np.array_equal(volumes[1].image_zyx, doc.items[2].volume.image_zyx)
    assert [list(np.flatnonzero(v.labeled)) for v in volumes] == [[2, 5], []]
    seen = json.loads((version.run_dir / "seen.json").read_text())
    assert seen == [{"shape": [8, 24, 30], "labeled": 2}, {"shape": [10, 28, 26], "labeled": 0}]
    assert "beta" in window.statusBar().currentMessage()
    assert "alpha" not in window.statusBar().currentMessage()

    assert version.volumes == (0, 2) and version.labeled_count == 2
    assert "in 2 volumes" in version.summary()
    assert assist.layers.pred_zyx.shape == (8, 24, 30)
    window.choose_volume(2)
    gamma_pred, gamma_entropy = fake_result(doc.items[2].volume.image_zyx)
    assert np.array_equal(assist.layers.pred_zyx, gamma_pred)
    assert np.array_equal(assist.layers.entropy_zyx, gamma_entropy)
    assert "v1" in assist.panel.shown.text()
    window.choose_volume(1)
    assert assist.layers.pred_zyx is None, "beta was not trained on: nothing drawn"
    window.choose_volume(0)
    assert np.array_equal(assist.layers.pred_zyx, fake_result(doc.items[0].volume.image_zyx)[0])


def test_a_run_started_on_an_unlabeled_volume_learns_from_the_others(
    qtbot, window, assisted, snapshots
) -> None:
    assist, _ = assisted
    window.choose_volume(2)  # gamma: nothing labeled
    window.ws.view.set_slice("z", 6, 10)
    previews = []
    assist.supervisor.reported.connect(lambda e: isinstance(e, Preview) and previews.append(e))
    version = train(qtbot, assist)
    volumes, _ = snapshots[version.run_dir]
    assert [v.image_zyx.shape[0] for v in volumes] == [10, 8], "the volume shown comes first"
    assert version.volume_index == 2 and version.volumes == (2, 0)
    assert previews and previews[0].slice_index == 6 and previews[0].labels_hw.shape == (28, 26)
    assert assist.layers.pred_zyx.shape == (10, 28, 26)
    window.choose_volume(0)
    assert assist.layers.pred_zyx.shape == (8, 24, 30)


def test_no_labeled_slice_in_any_volume_is_refused(qtbot, window, assisted, dialogs_log) -> None:
    assist, _ = assisted
    doc = window.ws.doc
    for k in (0, 2):
        doc.items[k].labeled["z"][:] = False
    assert not assist.training.start("quick", "cpu")
    assert "No slice is marked labeled" in dialogs_log["errors"][-1]
    assert doc.records["runs"] == [] and not assist.supervisor.running


def test_run_records_survive_a_save_and_load_with_matching_hashes(
    qtbot, window, assisted, snapshots, tmp_path: Path
) -> None:
    assist, _ = assisted
    doc = window.ws.doc
    first = train(qtbot, assist)
    doc.items[2].labels.labels_zyx[4] = 1
    doc.items[2].labeled["z"][4] = True
    second = train(qtbot, assist)
    assert (first.number, second.number) == (1, 2)

    project = tmp_path / "three.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: not doc.modified, timeout=10000)
    records = load_project_document(project).records
    assert records == doc.records
    runs = records["runs"]
    assert [r["number"] for r in runs] == [1, 2]
    assert [r["preset"] for r in runs] == ["quick", "quick"]
    assert [[v["labeled_slices"] for v in r["volumes"]] for r in runs] == [[2, 0], [2, 1]]
    assert [[v["volume"] for v in r["volumes"]] for r in runs] == [[0, 2], [0, 2]]
    assert [r["labeled_slices"] for r in runs] == [2, 3]
    for run, version in zip(runs, (first, second), strict=True):
        assert run["label_hash"] == version.label_hash and run["run_dir"] == str(version.run_dir)
        assert run["metrics"] == version.metrics and run["created"] == version.created
        assert run["config"]["model"]["num_classes"] == 3
        result = json.loads((version.run_dir / "result.json").read_text())
        assert run["model_version"] == result["model_version"]
        (checkpoint,) = [
            m for m in models_of_run(records, run["number"]) if m["format"] == "checkpoint"
        ]
        # the version in use at the save (v2) is copied beside the project; v1 stays put
        kept = tmp_path / "three.runs" / version.run_dir.name / "model.pt"
        expected = kept if version is second else version.checkpoint
        assert checkpoint["path"] == str(expected)
        assert checkpoint["sha256"] == file_sha256(expected)
        assert checkpoint["version"] == run["model_version"]
    volumes, _ = snapshots[second.run_dir]
    hashes = [labeled_hash(v.labels_zyx, v.labeled) for v in volumes]
    assert [v["label_hash"] for v in runs[1]["volumes"]] == hashes
    assert runs[0]["label_hash"] != runs[1]["label_hash"]

    window.files.open_paths([project])
    qtbot.waitUntil(lambda: window.ws.doc is not doc, timeout=10000)
    assert assist.session.next_number() == 3, "numbers go on after the recorded runs"


def test_an_onnx_export_is_recorded_with_its_run_and_saved(
    qtbot, window, assisted, tiny_onnx: Path, tmp_path: Path
) -> None:
    assist, menu = assisted
    doc = window.ws.doc
    version = train(qtbot, assist)
    report = ExportReport(str(tiny_onnx), 17, "test", 0.0, 0.0, 1.0, (), "test", 0.1)
    report.metadata["ugpcl.model_version"] = "tiny0001"

    class Finished:  # what ModelMenu reads of a finished ExportTask
        sha256 = file_sha256(tiny_onnx)

    doc.modified = False
    menu._exported(version.checkpoint, report, Finished(), doc)
    assert menu.exports[version.checkpoint] == tiny_onnx and doc.modified

    project = tmp_path / "exported.ugpcl"
    window.files.save(project)
    qtbot.waitUntil(lambda: not doc.modified, timeout=10000)
    records = load_project_document(project).records
    (onnx,) = [m for m in models_of_run(records, version.number) if m["format"] == "onnx"]
    assert onnx["path"] == str(tiny_onnx) and onnx["sha256"] == file_sha256(tiny_onnx)
    assert onnx["checkpoint"] == str(version.checkpoint) and onnx["version"] == "tiny0001"


def test_an_export_of_an_unrecorded_checkpoint_is_recorded_without_a_run(tmp_path: Path) -> None:
    records: dict[str, list] = {"runs": [], "models": []}
    entry = record_export(records, tmp_path / "model.pt", tmp_path / "m.onnx", "ab" * 32, "v1")
    assert entry["run"] is None and records["models"] == [entry]
