"""The run folder with several volumes, and the real training child on it (tiny network)."""

from __future__ import annotations

import json
import queue
import threading
from pathlib import Path

import numpy as np
import pytest
from tiny import TINY_MODEL

from ugpcl_engine.config import RunSpec, TrainingConfig
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.errors import InputError
from ugpcl_engine.training.child import run_child
from ugpcl_engine.training.events import Failed, Finished, Preview, Started, Validation
from ugpcl_engine.training.preparation import TrainingVolume, prepare_slices
from ugpcl_engine.training.run_folder import (
    RESULT_FILE,
    RunFolder,
    SnapshotVolume,
    file_sha256,
    labeled_hash,
    read_snapshot,
    read_volumes_snapshot,
    snapshot_hash,
    volume_file,
    write_snapshot,
    write_volumes_snapshot,
)
from ugpcl_engine.training.run_request import HANDBACK_SECONDS, RunRequest
from ugpcl_engine.volume import LabelTable

TABLE = LabelTable.default(3)


def discs(n: int, h: int, w: int, labeled: tuple[int, ...]) -> SnapshotVolume:
    """Two discs of different brightness on every slice; labels kept on ``labeled`` only."""
    yy, xx = np.mgrid[:h, :w]
    image = np.zeros((n, h, w), np.float32)
    labels = np.zeros((n, h, w), np.uint8)
    a = (yy - h // 3) ** 2 + (xx - w // 3) ** 2 < (h // 6) ** 2
    b = (yy - 2 * h // 3) ** 2 + (xx - 2 * w // 3) ** 2 < (h // 5) ** 2
    image[:, a], image[:, b] = 0.5, 1.0
    marks = np.zeros(n, bool)
    marks[list(labeled)] = True
    for z in labeled:
        labels[z][a], labels[z][b] = 1, 2
    noise = np.random.default_rng(n).normal(0, 0.05, image.shape).astype(np.float32)
    return SnapshotVolume(image + noise, labels, marks)


def request(count: int, **kwargs: object) -> RunRequest:
    training = TrainingConfig(
        steps=4, batch_labeled=2, batch_unlabeled=2, log_every=2, device="cpu", preview_every=2
    )
    spec = RunSpec(TINY_MODEL, training, "test")
    return RunRequest(
        spec, TABLE, volume_count=count, modalities=("MR",) * count, threads=1, **kwargs
    )


def test_two_volumes_round_trip_with_suffixed_files(tmp_path: Path) -> None:
    a, b = discs(6, 32, 32, (1, 4)), discs(5, 24, 28, ())
    req = request(2)
    write_volumes_snapshot(tmp_path / "run", [a, b], req)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    first = ["image.npy", "labels.npy", "labeled.npy", "request.json"]
    assert names == sorted([*first, "image-1.npy", "labels-1.npy", "labeled-1.npy"])
    volumes, back = read_volumes_snapshot(tmp_path / "run")
    assert back == req and back.volume_count == 2 and back.modality_of(1) == "MR"
    assert [v.image_zyx.shape for v in volumes] == [(6, 32, 32), (5, 24, 28)]
    for got, sent in zip(volumes, (a, b), strict=True):
        assert np.array_equal(got.image_zyx, sent.image_zyx)
        assert np.array_equal(got.labels_zyx, sent.labels_zyx)
        assert np.array_equal(got.labeled, sent.labeled)
    image, _, labeled, _ = read_snapshot(tmp_path / "run")  # the first volume, as before
    assert np.array_equal(image, a.image_zyx) and np.array_equal(labeled, a.labeled)
    assert volume_file("prediction.npy", 0) == "prediction.npy"
    assert volume_file("prediction.npy", 3) == "prediction-3.npy"


def test_a_one_volume_folder_keeps_its_format_and_old_requests_read_as_one_volume(
    tmp_path: Path,
) -> None:
    a = discs(6, 32, 32, (1,))
    req = RunRequest(request(1).spec, TABLE)
    write_snapshot(tmp_path / "run", a.image_zyx, a.labels_zyx, a.labeled, req)
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert names == ["image.npy", "labeled.npy", "labels.npy", "request.json"]
    data = json.loads((tmp_path / "run" / "request.json").read_text())
    del data["volume_count"], data["modalities"]  # a folder written before several volumes
    (tmp_path / "run" / "request.json").write_text(json.dumps(data))
    volumes, back = read_volumes_snapshot(tmp_path / "run")
    assert back == req and len(volumes) == 1 and back.modality_of(0) == "unknown"
    assert snapshot_hash(volumes) == labeled_hash(a.labels_zyx, a.labeled)


def test_run_folder_names_every_file_of_the_layout(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path / "v001-try1")
    where = tmp_path / "v001-try1"
    assert (folder.request, folder.model) == (where / "request.json", where / "model.pt")
    assert (folder.result, folder.error_log) == (where / "result.json", where / "error.log")
    assert folder.snapshot(0) == (where / "image.npy", where / "labels.npy", where / "labeled.npy")
    assert [p.name for p in folder.snapshot(2)] == ["image-2.npy", "labels-2.npy", "labeled-2.npy"]
    assert (folder.prediction(0).name, folder.prediction(1).name) == (
        "prediction.npy",
        "prediction-1.npy",
    )
    assert (folder.uncertainty(0).name, folder.uncertainty(3).name) == (
        "uncertainty.npy",
        "uncertainty-3.npy",
    )
    assert folder == RunFolder(where) and hash(folder) == hash(RunFolder(where))
    with pytest.raises(AttributeError):
        folder.path = tmp_path  # type: ignore[misc]  # frozen
    assert not where.exists()  # a value: naming files creates nothing


def test_run_folder_reads_the_snapshot_and_finds_the_results(tmp_path: Path) -> None:
    a, b = discs(6, 32, 32, (1, 4)), discs(5, 24, 28, ())
    written = write_volumes_snapshot(tmp_path / "run", [a, b], request(2))
    folder = RunFolder(written)
    assert folder.path == tmp_path / "run" and folder.volume_count() == 2
    assert folder.read_request() == request(2)
    assert all(p.is_file() for k in range(2) for p in folder.snapshot(k))
    assert folder.read_result() == {} and not folder.has_results(1)
    np.save(folder.prediction(0), np.zeros((6, 32, 32), np.uint8))
    assert not folder.has_results(1)  # the uncertainty is missing
    np.save(folder.uncertainty(0), np.zeros((6, 32, 32), np.float32))
    assert folder.has_results(1) and not folder.has_results(2)
    folder.result.write_text(json.dumps({"model_version": "abc"}))
    assert folder.read_result() == {"model_version": "abc"}


def test_volume_count_of_a_folder_without_a_readable_request_is_one(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    assert folder.volume_count() == 1  # no request.json
    for text, count in [("not json", 1), ("[2]", 1), ('{"volume_count": "x"}', 1), ("{}", 1)]:
        folder.request.write_text(text)
        assert folder.volume_count() == count, text
    folder.request.write_text(json.dumps({"volume_count": 3}))
    assert folder.volume_count() == 3


def test_snapshot_checks_come_before_anything_is_written(tmp_path: Path) -> None:
    a, b = discs(6, 32, 32, ()), discs(5, 24, 28, ())
    with pytest.raises(InputError, match="No slice is marked"):
        write_volumes_snapshot(tmp_path / "r1", [a, b], request(2))
    bad = SnapshotVolume(b.image_zyx, b.labels_zyx, np.ones(3, bool))
    with pytest.raises(InputError, match="marks of volume 2"):
        write_volumes_snapshot(tmp_path / "r2", [discs(6, 32, 32, (1,)), bad], request(2))
    with pytest.raises(ValueError, match="2 volumes, 1 given"):
        write_volumes_snapshot(tmp_path / "r3", [a], request(2))
    with pytest.raises(ValueError, match="modalities"):
        RunRequest(request(1).spec, TABLE, volume_count=2, modalities=("CT",))
    assert not any(tmp_path.iterdir())


def test_snapshot_hash_changes_with_any_volumes_labels(tmp_path: Path) -> None:
    a, b = discs(6, 32, 32, (1,)), discs(5, 24, 28, (2,))
    before = snapshot_hash([a, b])
    assert before != snapshot_hash([a]) and len(before) == 12
    b.labels_zyx[2, 0, 0] = 1
    assert snapshot_hash([a, b]) != before


def test_a_volume_without_labeled_slices_gives_unlabeled_slices_only() -> None:
    a, b = discs(6, 32, 32, (1, 4)), discs(5, 24, 28, ())
    volumes = [
        TrainingVolume(v.image_zyx, v.labels_zyx, [int(i) for i in np.flatnonzero(v.labeled)])
        for v in (a, b)
    ]
    windows = [IntensityWindow("mr", 0.0, 1.0)] * 2
    slices = prepare_slices(volumes, windows, "z", 1.0, (32, 32), 3)
    assert slices.labeled_images.shape == (2, 32, 32)
    assert slices.unlabeled_images.shape == (4 + 5, 32, 32)
    with pytest.raises(InputError, match="No labeled slice"):
        prepare_slices(volumes[1:], windows[1:], "z", 1.0, (32, 32), 3)


def test_the_child_trains_on_both_volumes_and_predicts_each(tmp_path: Path) -> None:
    a, b = discs(6, 32, 32, (0, 1, 3, 5)), discs(5, 24, 28, ())
    run = tmp_path / "run"
    write_volumes_snapshot(run, [a, b], request(2, preview_slice=2, holdout_slice=3))
    events: queue.Queue[object] = queue.Queue()
    run_child(str(run), events, threading.Event())
    seen = [events.get_nowait() for _ in range(events.qsize())]
    assert not [e for e in seen if isinstance(e, Failed)], seen
    started = next(e for e in seen if isinstance(e, Started))
    # 3 of the first volume's 4 labeled slices (one held out, so unlabeled data); every other
    # slice of both volumes is unlabeled data
    assert (started.labeled, started.unlabeled) == (3, 3 + 5)
    assert {e.slice_index for e in seen if isinstance(e, Preview)} == {2}
    # one held-out check while training (every 2 of the 4 steps, not at the last one) and
    # one on the final prediction
    checks = [e for e in seen if isinstance(e, Validation)]
    assert [(e.step, e.slice_index) for e in checks] == [(2, 3), (4, 3)]
    assert all(0.0 <= e.dice <= 1.0 for e in checks)
    finished = seen[-1]
    assert isinstance(finished, Finished) and finished.metrics["volumes"] == 2.0
    folder = RunFolder(run)
    for k, shape in enumerate([(6, 32, 32), (5, 24, 28)]):
        pred, entropy = np.load(folder.prediction(k)), np.load(folder.uncertainty(k))
        assert pred.shape == entropy.shape == shape
        assert pred.dtype == np.uint8 and entropy.dtype == np.float32
        assert pred.max() < 3 and float(entropy.min()) >= 0.0
    result = json.loads((run / RESULT_FILE).read_text())
    assert result == folder.read_result()
    assert Path(finished.checkpoint) == folder.model
    assert result["model_sha256"] == file_sha256(finished.checkpoint)
    assert len(result["mean_uncertainty_per_volume"]) == 2
    assert result["mean_uncertainty"] == result["mean_uncertainty_per_volume"][0]


def test_a_time_budget_counts_from_the_click_not_from_the_child() -> None:
    budgeted = RunSpec(TINY_MODEL, TrainingConfig(steps=3, time_budget=60.0))
    clicked = RunRequest(budgeted, LabelTable.default(3), requested_at=1000.0)
    assert clicked.budget_left(1010.0) == pytest.approx(60.0 - 10.0 - HANDBACK_SECONDS)
    assert clicked.budget_left(2000.0) == 1.0  # a very late start still trains a little
    assert RunRequest.from_dict(json.loads(json.dumps(clicked.to_dict()))) == clicked
    unclocked = RunRequest(budgeted, LabelTable.default(3))
    assert unclocked.budget_left(5.0) == pytest.approx(60.0 - HANDBACK_SECONDS)
    plain = RunRequest(RunSpec(TINY_MODEL, TrainingConfig(steps=3)), LabelTable.default(3))
    assert plain.budget_left(5.0) is None
    old = clicked.to_dict()
    del old["requested_at"]  # folders written before the field existed
    assert RunRequest.from_dict(old).requested_at is None


def test_a_crashing_child_writes_its_traceback_to_the_error_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ugpcl_engine.training import child

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(child, "train", broken)
    run = write_volumes_snapshot(tmp_path / "run", [discs(6, 32, 32, (1,))], request(1))
    events: queue.Queue[object] = queue.Queue()
    run_child(str(run), events, threading.Event())
    failed = events.get_nowait()
    folder = RunFolder(run)
    assert isinstance(failed, Failed) and str(folder.error_log) in failed.message
    assert "RuntimeError: boom" in folder.error_log.read_text()
