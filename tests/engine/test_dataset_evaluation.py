"""evaluate-dataset: per-case and per-class scores on hand-made cases, the nearest protocol, the
command's report."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from synthetic_datasets import write_msd, write_ssl4mis
from tiny import TINY_MODEL, tiny_checkpoint

from ugpcl_engine.checkpoint import save_checkpoint
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.datasets import commands
from ugpcl_engine.datasets.prediction import VolumePredictor
from ugpcl_engine.datasets.scores import score_case, summarise
from ugpcl_engine.errors import InputError
from ugpcl_engine.model import build_model
from ugpcl_engine.volume import LabelTable

SPACING = (2.0, 1.0, 0.5)
TABLE = LabelTable.default(4)


def hand_made() -> tuple[np.ndarray, np.ndarray]:
    """Reference and prediction: class 1 identical, class 2 one voxel moved 3 voxels along x,
    class 3 missed."""
    ref = np.zeros((6, 12, 12), np.uint8)
    ref[1:4, 2:6, 2:6] = 1
    ref[3, 8, 2] = 2
    ref[4, 10, 10] = 3
    pred = np.zeros_like(ref)
    pred[1:4, 2:6, 2:6] = 1
    pred[3, 8, 5] = 2
    return ref, pred


def test_known_scores_of_one_case() -> None:
    ref, pred = hand_made()
    result = score_case("a", pred, ref, 4, SPACING, True)
    one, two, three = result.classes[1], result.classes[2], result.classes[3]
    assert one == {
        "dice": 1.0, "jaccard": 1.0, "hd95_vox": 0.0, "asd_vox": 0.0, "hd95_mm": 0.0,
        "asd_mm": 0.0,
    }  # fmt: skip
    assert two["dice"] == 0.0 and two["hd95_vox"] == pytest.approx(3.0)
    assert two["asd_vox"] == pytest.approx(3.0) and two["hd95_mm"] == pytest.approx(1.5)
    assert two["asd_mm"] == pytest.approx(1.5)
    # an empty prediction of a present class: Dice 0, not null; no surface to measure to
    assert three["dice"] == 0.0 and three["jaccard"] == 0.0 and three["hd95_vox"] is None
    assert result.mean("dice") == pytest.approx(1 / 3)


def test_partial_overlap_dice_and_unknown_spacing() -> None:
    ref = np.zeros((4, 10, 10), np.uint8)
    ref[1:3, 2:6, 2:6] = 1  # 32 voxels
    pred = np.zeros_like(ref)
    pred[1:3, 2:6, 4:8] = 1  # 32 voxels, 16 shared
    result = score_case("b", pred, ref, 2, (1.0, 1.0, 1.0), False)
    assert result.classes[1]["dice"] == pytest.approx(0.5)
    assert result.classes[1]["jaccard"] == pytest.approx(16 / 48)
    assert result.classes[1]["hd95_vox"] == pytest.approx(2.0)
    assert result.classes[1]["hd95_mm"] is None  # the files store no spacing


def test_summary_means_and_sd_over_cases() -> None:
    ref, pred = hand_made()
    summary = summarise(
        [score_case("a", pred, ref, 4, SPACING, True), score_case("b", ref, ref, 4, SPACING, True)],
        TABLE,
    )
    assert summary["classes"]["2"]["dice"] == {"mean": 0.5, "sd": 0.5, "undefined": 0}
    assert summary["classes"]["3"]["hd95_vox"] == {"mean": 0.0, "sd": 0.0, "undefined": 1}
    assert summary["classes"]["2"]["hd95_mm"]["mean"] == pytest.approx(0.75)
    assert summary["mean_dice"] == pytest.approx(2 / 3)
    assert summary["sd_dice"] == pytest.approx(1 / 3)  # per-case means 1/3 and 1
    assert [c["case"] for c in summary["cases"]] == ["a", "b"]
    json.dumps(summary, allow_nan=False)


def test_nearest_protocol_returns_every_pixel_to_its_place() -> None:
    """Slices enlarged to S×S with nearest neighbours and labels shrunk back land exactly."""
    rng = np.random.default_rng(0)
    image = rng.random((3, 30, 37)).astype(np.float32)
    ckpt = replace(tiny_checkpoint(window=IntensityWindow("ct", 0.0, 1.0)), network_size=64)

    def threshold(x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2:] == (64, 64)
        return torch.cat([(x <= 0.5).float(), (x > 0.5).float()], 1)

    labels = VolumePredictor(ckpt, decode=threshold).predict(image)
    np.testing.assert_array_equal(labels, (image > 0.5).astype(np.uint8))


def four_class_checkpoint(path: Path) -> Path:
    model = replace(TINY_MODEL, num_classes=4)
    base = tiny_checkpoint(window=IntensityWindow("ct", 0.0, 1000.0))
    torch.manual_seed(0)
    ckpt = replace(
        base,
        spec=replace(base.spec, model=model),
        state_dict=build_model(model).state_dict(),
        label_table=TABLE,
    )
    save_checkpoint(path, ckpt)
    return path


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands.add_parsers(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return commands.evaluate_dataset_command(args)


def test_evaluate_dataset_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_msd(tmp_path / "Task")
    ckpt = four_class_checkpoint(tmp_path / "model.pt")
    out = tmp_path / "reports" / "report.json"
    argv = ["evaluate-dataset", "--checkpoint", str(ckpt), "--data", str(data)]
    assert run([*argv, "--split", "test", "--device", "cpu", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert {"mean_dice", "classes", "cases"} <= set(report)
    assert [c["case"] for c in report["cases"]] == ["test_a", "test_b"]
    assert report["cases"][0]["spacing_zyx"] == [2.0, 1.0, 1.0]
    assert "myocardium" in capsys.readouterr().out  # the table, with the dataset's names
    # the checkpoint's own inference graph scores the same cases
    assert run([*argv, "--resample", "model", "--device", "cpu", "--out", str(out)]) == 0
    model = json.loads(out.read_text())
    assert model["resample"] == "model" and len(model["cases"]) == 2

    # a model that finds nothing scores Dice 0 (never null)
    monkeypatch.setattr(VolumePredictor, "predict", lambda self, image: np.zeros_like(image))
    assert run([*argv, "--split", "test", "--device", "cpu", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["mean_dice"] == 0.0
    assert report["classes"]["1"]["dice"] == {"mean": 0.0, "sd": 0.0, "undefined": 0}
    assert report["classes"]["1"]["hd95_mm"]["undefined"] == 2


def test_evaluate_dataset_refusals(tmp_path: Path) -> None:
    data = write_ssl4mis(tmp_path / "ACDC")
    ckpt = four_class_checkpoint(tmp_path / "model.pt")
    three = tmp_path / "three.pt"
    save_checkpoint(three, tiny_checkpoint())
    base = ["evaluate-dataset", "--data", str(data), "--device", "cpu"]
    with pytest.raises(InputError, match="predicts 3 classes but the dataset has 4"):
        run([*base, "--checkpoint", str(three), "--out", str(tmp_path / "r.json")])
    with pytest.raises(InputError, match="is a folder"):
        run([*base, "--checkpoint", str(ckpt), "--out", str(tmp_path)])
    (data / "test.list").unlink()
    with pytest.raises(InputError, match=r"test split .* is empty"):
        run([*base, "--checkpoint", str(ckpt), "--out", str(tmp_path / "r.json")])
    assert not (tmp_path / "r.json").exists()


def test_ssl4mis_distances_in_voxels_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_ssl4mis(tmp_path / "ACDC")
    ckpt = four_class_checkpoint(tmp_path / "model.pt")
    monkeypatch.setattr(
        VolumePredictor, "predict", lambda self, image: (image > 0.9).astype(np.uint8) * 3
    )
    out = tmp_path / "r.json"
    argv = ["evaluate-dataset", "--checkpoint", str(ckpt), "--data", str(data), "--out", str(out)]
    assert run([*argv, "--device", "cpu"]) == 0
    report = json.loads(out.read_text())
    assert report["cases"][0]["spacing_known"] is False
    assert report["classes"]["3"]["hd95_vox"]["mean"] is not None
    assert report["mean_hd95_mm"] is None
