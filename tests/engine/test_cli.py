"""``ugpcl-studio train`` / ``evaluate`` on the real chest CT, and bad input on the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from tiny import tiny_checkpoint

from ugpcl_engine.checkpoint import Checkpoint, save_checkpoint
from ugpcl_engine.cli import main
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.io.volume_files import read_label_map, read_volume
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.training import job
from ugpcl_engine.training.events import Finished


def test_train_then_evaluate_on_chest_ct(
    chest_ct: SamplePaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--image",
            str(chest_ct.image),
            "--labels",
            str(chest_ct.labels),
            "--slices",
            "6,16,28",
            "--steps",
            "2",
            "--device",
            "cpu",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    err = capsys.readouterr().err
    assert "step 2/2" in err and "3 labeled + 31 unlabeled" in err
    image = read_volume(chest_ct.image)
    pred = read_label_map(out / "prediction.nii.gz")
    assert pred.geometry.matches(image.geometry)
    unc = sitk.ReadImage(str(out / "uncertainty.nii.gz"))
    assert unc.GetPixelID() == sitk.sitkFloat32 and unc.GetSize() == (128, 128, 34)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 2 and metrics["labeled_slices"] == [6, 16, 28]
    assert metrics["predict_device"] == "cpu" and metrics["predict_seconds"] >= 0
    assert (out / "model.pt").stat().st_size > 0

    code = main(
        [
            "evaluate",
            "--prediction",
            str(out / "prediction.nii.gz"),
            "--reference",
            str(chest_ct.labels),
            "--exclude-slices",
            "6,16,28",
        ]
    )
    assert code == 0
    scores = json.loads(capsys.readouterr().out)
    assert 0.0 <= scores["mean_dice"] <= 1.0
    assert scores["excluded_slices"] == [6, 16, 28]
    assert scores["mean_dice"] == pytest.approx(metrics["evaluation_other_slices"]["mean_dice"])


def test_train_predicts_on_the_device_it_trained_on(
    chest_ct: SamplePaths, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--device auto`` with a GPU: the whole-volume prediction runs on CUDA, not the CPU.

    No GPU here: CUDA is faked as available, the training is replaced by a tiny checkpoint and
    ``from_checkpoint`` records the device it is given before building on the CPU.
    """
    out = tmp_path / "run"
    out.mkdir()
    ckpt = tiny_checkpoint()

    def fake_train(*args: object, **kwargs: object) -> Iterator[Finished]:
        save_checkpoint(out / "model.pt", ckpt)
        yield Finished(str(out / "model.pt"), 1, 0.1)

    devices: list[torch.device] = []
    build = TorchSegmenter.from_checkpoint

    def spy(ckpt: Checkpoint, device: torch.device | str = "cpu") -> TorchSegmenter:
        devices.append(torch.device(device))
        return build(ckpt, "cpu")

    monkeypatch.setattr(job, "train", fake_train)
    monkeypatch.setattr(TorchSegmenter, "from_checkpoint", spy)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    for flag in ("benchmark", "allow_tf32"):  # restored after the test
        monkeypatch.setattr(torch.backends.cudnn, flag, getattr(torch.backends.cudnn, flag))
    monkeypatch.setattr(
        torch.backends.cuda.matmul, "allow_tf32", torch.backends.cuda.matmul.allow_tf32
    )
    args = ["train", "--image", str(chest_ct.image), "--labels", str(chest_ct.labels)]
    code = main([*args, "--slices", "6,16", "--device", "auto", "--out", str(out)])
    assert code == 0
    assert devices == [torch.device("cuda")]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["predict_device"] == "cuda" and metrics["predict_seconds"] >= 0


def _write(path: Path, array: np.ndarray, spacing: tuple[float, ...] | None = None) -> Path:
    img = sitk.GetImageFromArray(array, isVector=False)
    if spacing:
        img.SetSpacing(spacing)
    sitk.WriteImage(img, str(path))
    return path


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("missing", "File not found"),
        ("grid", "another grid"),
        ("range", "out of range"),
        ("none", "No labeled slice"),
        ("nan", "NaN"),
        ("2d", "3-D"),
        ("4d", "4-D"),
        ("text", "Cannot read"),
        ("beyond", "label value"),
    ],
)
def test_train_bad_input_is_one_line_exit_2(
    case: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    vol = np.zeros((6, 16, 16), np.int16)
    image = _write(tmp_path / "img.nii.gz", vol)
    labels = _write(tmp_path / "lab.nii.gz", np.zeros((6, 16, 16), np.uint8))
    slices = "1,3"
    if case == "missing":
        image = tmp_path / "nope.nii.gz"
    elif case == "grid":
        labels = _write(tmp_path / "lab2.nii.gz", np.zeros((6, 16, 16), np.uint8), (2.0, 2.0, 2.0))
    elif case == "range":
        slices = "1,6"
    elif case == "none":
        slices = ","
    elif case == "nan":
        image = _write(tmp_path / "nan.nii.gz", np.full((6, 16, 16), np.nan, np.float32))
    elif case == "2d":
        image = _write(tmp_path / "flat.nii.gz", np.zeros((16, 16), np.int16))
    elif case == "4d":
        image = _write(tmp_path / "t.nii.gz", np.zeros((2, 6, 16, 16), np.int16))
    elif case == "text":
        image = tmp_path / "notes.nii.gz"
        image.write_text("not an image")
    elif case == "beyond":
        table = tmp_path / "lab.txt"
        table.write_text('0 0 0 0 1 1 1 "background"\n1 255 0 0 1 1 1 "liver"\n')
        lab = np.zeros((6, 16, 16), np.uint8)
        lab[1, 2:4, 2:4] = 5
        labels = _write(tmp_path / "lab5.nii.gz", lab)
        code = main(
            [
                "train",
                "--image",
                str(image),
                "--labels",
                str(labels),
                "--slices",
                slices,
                "--label-table",
                str(table),
                "--out",
                str(tmp_path / "o"),
            ]
        )
        assert code == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
        return
    code = main(
        [
            "train",
            "--image",
            str(image),
            "--labels",
            str(labels),
            "--slices",
            slices,
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.launcher",
            "evaluate",
            "--prediction",
            str(tmp_path / "a.nii"),
            "--reference",
            str(tmp_path / "b.nii"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "File not found" in proc.stderr and "Traceback" not in proc.stderr


def test_train_with_a_time_budget_plans_the_run_and_writes_every_output(
    chest_ct: SamplePaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "budgeted"
    args = ["train", "--image", str(chest_ct.image), "--labels", str(chest_ct.labels)]
    args += ["--slices", "6,16,28", "--steps", "12", "--device", "cpu"]
    code = main([*args, "--time-budget", "120", "--out", str(out)])
    assert code == 0
    err = capsys.readouterr().err
    assert "time budget" in err and "prediction estimated" in err
    for name in ("model.pt", "prediction.nii.gz", "uncertainty.nii.gz", "metrics.json"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["time_budget"] == 120
    # a generous budget keeps the preset's (here: overridden) steps and whole slices
    assert metrics["steps"] == 12 and metrics["crop_size"] is None
    assert metrics["stopped_early"] is False
    assert metrics["evaluation_other_slices"]["mean_dice"] is not None


def test_a_time_budget_used_up_by_the_files_is_refused(
    chest_ct: SamplePaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["train", "--image", str(chest_ct.image), "--labels", str(chest_ct.labels)]
    args += ["--slices", "6,16,28", "--out", str(tmp_path / "x")]
    assert main([*args, "--time-budget", "0.5"]) == 2
    assert "larger --time-budget" in capsys.readouterr().err
    assert main([*args, "--time-budget", "-3"]) == 2
    assert "positive number of seconds" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["train-dataset", "evaluate-dataset"])
def test_dataset_subcommands_are_wired_into_main(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "no_such_dataset"
    argv = [command, "--data", str(missing), "--out", str(tmp_path / "out")]
    argv += ["--preset", "quick"] if command == "train-dataset" else ["--checkpoint", "ck.pt"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_dataset" in err[0], err


def test_launcher_routes_the_dataset_subcommands_to_the_headless_cli() -> None:
    from app.launcher import HEADLESS_COMMANDS

    assert {"train-dataset", "evaluate-dataset"} <= set(HEADLESS_COMMANDS)
