"""``ugpcl-studio train`` / ``evaluate`` on the real chest CT, and bad input on the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from ugpcl_engine.cli import main
from ugpcl_engine.io.volume_files import read_label_map, read_volume
from ugpcl_engine.sample import SamplePaths


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
