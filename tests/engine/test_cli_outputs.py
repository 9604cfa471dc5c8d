"""The CLI never writes over its inputs, checks its outputs before the work, leaves nothing half
written, and reports bad input as exactly one line (issue 14, items 8-10)."""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from tiny import tiny_checkpoint

from ugpcl_benchmarks import runner as benchmarks
from ugpcl_engine import cli
from ugpcl_engine.checkpoint import save_checkpoint
from ugpcl_engine.cli import main
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.model_metadata import TrainingGrid
from ugpcl_engine.inference.onnx_export import export_onnx
from ugpcl_engine.io import label_tables, volume_files
from ugpcl_engine.io.dicom_series import write_dicom_series
from ugpcl_engine.io.volume_files import write_array
from ugpcl_engine.training import job
from ugpcl_engine.training.events import Failed, Finished
from ugpcl_engine.volume import VolumeGeometry

GEOMETRY = VolumeGeometry((10, 48, 56), (2.0, 1.0, 1.0))


def _image() -> np.ndarray:
    """int16 CT-like volume (Z, Y, X): air around a body ellipse."""
    _, y, x = np.mgrid[:10, :48, :56]
    body = ((y - 24) / 19) ** 2 + ((x - 28) / 25) ** 2 < 1
    return np.where(body, 40, -1000).astype(np.int16)


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(tiny ONNX model trained on GEOMETRY's grid, its checkpoint), written once."""
    folder = tmp_path_factory.mktemp("model")
    ckpt = tiny_checkpoint()
    save_checkpoint(folder / "ck.pt", ckpt)
    grid = TrainingGrid(GEOMETRY.shape_zyx, GEOMETRY.spacing_zyx)
    export_onnx(ckpt, folder / "m.onnx", training_grid=grid, parity_image_zyx=_image())
    return folder / "m.onnx", folder / "ck.pt"


@pytest.fixture
def work(tmp_path: Path, model_files: tuple[Path, Path]) -> Path:
    """A folder with img.nii.gz, lab.nii.gz (labels on slice 2 only), m.onnx and ck.pt."""
    write_array(tmp_path / "img.nii.gz", _image(), GEOMETRY)
    labels = np.zeros(GEOMETRY.shape_zyx, np.uint8)
    labels[2, 10:20, 10:20] = 1
    write_array(tmp_path / "lab.nii.gz", labels, GEOMETRY)
    for source in model_files:
        shutil.copy(source, tmp_path / source.name)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder`` (hidden ones included): file bytes, None for folders."""
    return {
        p.relative_to(folder).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(folder.rglob("*"))
    }


def _one_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ugpcl-studio ") and "Traceback" not in err
    return lines[0]


def _train(work: Path, *extra: str) -> list[str]:
    args = ["train", "--image", str(work / "img.nii.gz"), "--labels", str(work / "lab.nii.gz")]
    return [*args, "--slices", "2", "--steps", "1", "--device", "cpu", *extra]


def _predict(work: Path, *extra: str) -> list[str]:
    args = ["predict", "--model", str(work / "m.onnx"), "--image", str(work / "img.nii.gz")]
    return [*args, "--device", "cpu", *extra]


def _fake_train(out: Path) -> Callable[..., Iterator[Finished]]:
    """Stands in for the trainer: writes ``out/model.pt`` (as it does) and finishes."""

    def train(*args: object, **kwargs: object) -> Iterator[Finished]:
        save_checkpoint(out / "model.pt", tiny_checkpoint("fake0001"))
        yield Finished(str(out / "model.pt"), 1, 0.1)

    return train


def _output_is_input_case(case: str, work: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    img = str(work / "img.nii.gz")
    if case == "predict --out is --image":
        return _predict(work, "--out", img)
    if case == "predict --uncertainty is --image":
        return _predict(work, "--out", str(work / "p.nii.gz"), "--uncertainty", img)
    if case == "predict --out is a hard link to --image":
        os.link(work / "img.nii.gz", work / "hard.nii.gz")
        return _predict(work, "--out", str(work / "hard.nii.gz"))
    if case == "predict --out is a symlink to --image":
        (work / "soft.nii.gz").symlink_to(work / "img.nii.gz")
        return _predict(work, "--out", str(work / "soft.nii.gz"))
    if case == "export --out is a hard link to --checkpoint":
        os.link(work / "ck.pt", work / "ck.onnx")
        return ["export", "--checkpoint", str(work / "ck.pt"), "--out", str(work / "ck.onnx")]
    if case == "train --labels is --out's prediction":
        (work / "run").mkdir()
        shutil.copy(work / "lab.nii.gz", work / "run" / "prediction.nii.gz")
        args = _train(work, "--out", str(work / "run"))
        args[args.index("--labels") + 1] = str(work / "run" / "prediction.nii.gz")
        return args
    if case == "train --init is --out's model.pt":
        monkeypatch.setattr(job, "train", _fake_train(work / "run"))
        (work / "run").mkdir()
        shutil.copy(work / "ck.pt", work / "run" / "model.pt")
        return _train(work, "--init", str(work / "run" / "model.pt"), "--out", str(work / "run"))
    if case == "convert OUT is a hard link to IN":
        os.link(work / "img.nii.gz", work / "hard.nii.gz")
        return ["convert", img, str(work / "hard.nii.gz")]
    assert case == "convert DICOM-SEG over a slice of --reference"
    files = write_dicom_series(_image(), GEOMETRY, work / "src")
    args = ["convert", str(work / "lab.nii.gz"), str(files[0]), "--labels"]
    return [*args, "--reference", str(work / "src")]


@pytest.mark.parametrize(
    "case",
    [
        "predict --out is --image",
        "predict --uncertainty is --image",
        "predict --out is a hard link to --image",
        "predict --out is a symlink to --image",
        "export --out is a hard link to --checkpoint",
        "train --labels is --out's prediction",
        "train --init is --out's model.pt",
        "convert OUT is a hard link to IN",
        "convert DICOM-SEG over a slice of --reference",
    ],
)
def test_an_output_that_is_an_input_is_refused(
    case: str, work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _output_is_input_case(case, work, monkeypatch)
    before = _snapshot(work)
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert "would destroy the input" in line or "in the input folder" in line, line
    assert _snapshot(work) == before  # every input byte for byte, nothing added


def test_export_over_its_own_checkpoint_is_refused(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(work)
    ck = str(work / "ck.pt")
    assert main(["export", "--checkpoint", ck, "--out", ck]) == 2
    assert ".onnx" in _one_line(capsys.readouterr().err)
    assert _snapshot(work) == before


def _unwritable_case(case: str, work: Path) -> tuple[list[str], str]:
    under_file = str(work / "img.nii.gz" / "sub")
    if case == "train --out under a file":
        return _train(work, "--out", under_file), "is a file, not a folder"
    if case == "predict --out under a file":
        return _predict(work, "--out", f"{under_file}/p.nii.gz"), "is a file, not a folder"
    if case == "predict --uncertainty unknown type":
        args = _predict(work, "--out", str(work / "p.nii.gz"), "--uncertainty", str(work / "u.xyz"))
        return args, "use one of .nii.gz"
    if case == "export --out under a file":
        ck = str(work / "ck.pt")
        return ["export", "--checkpoint", ck, "--out", f"{under_file}/m.onnx"], "not a folder"
    if case == "convert to an unknown type":
        args = ["convert", str(work / "img.nii.gz"), str(work / "c.xyz")]
        return args, "unknown file type '.xyz'; use one of .nii.gz, .nii, .nrrd"
    assert case == "benchmark --out under a file"
    return ["benchmark", "io", "--out", under_file], "is a file, not a folder"


@pytest.mark.parametrize(
    "case",
    [
        "train --out under a file",
        "predict --out under a file",
        "predict --uncertainty unknown type",
        "export --out under a file",
        "convert to an unknown type",
        "benchmark --out under a file",
    ],
)
def test_outputs_are_checked_before_the_work(
    case: str, work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One line and nothing written; predict no longer segments first ("slice 8/10" lines)."""

    def benchmark_ran(*args: object) -> None:
        pytest.fail("the benchmark ran before its --out was checked")

    monkeypatch.setattr(benchmarks, "run_and_record", benchmark_ran)
    args, message = _unwritable_case(case, work)
    before = _snapshot(work)
    assert main(args) == 2
    assert message in _one_line(capsys.readouterr().err)
    assert _snapshot(work) == before


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes anywhere")
def test_train_out_in_a_read_only_folder(work: Path, capsys: pytest.CaptureFixture[str]) -> None:
    locked = work / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(_train(work, "--out", str(locked / "run"))) == 2
        assert "no permission" in _one_line(capsys.readouterr().err)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("steps", ["0", "-5", "two"])
def test_train_steps_must_be_a_positive_whole_number(
    steps: str, work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _train(work, "--out", str(work / "run"))
    args[args.index("--steps") + 1] = steps
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "argument --steps: must be a whole number" in _one_line(capsys.readouterr().err)
    assert not (work / "run").exists()


@pytest.fixture
def failing_uncertainty_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """``write_array`` fails for any file named ``unc*`` / ``uncertainty*`` (a full disk)."""
    real = volume_files.write_array

    def write_array(path: str | Path, *args: object, **kwargs: object) -> None:
        if Path(path).name.startswith("unc"):
            raise InputError(f"Cannot write {path}: no space left on device.")
        real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(volume_files, "write_array", write_array)
    monkeypatch.setattr(job, "write_array", write_array)


@pytest.mark.usefixtures("failing_uncertainty_write")
def test_predict_leaves_no_first_output_when_the_second_fails(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _snapshot(work)
    args = _predict(work, "--out", str(work / "p.nii.gz"), "--uncertainty", str(work / "unc.mha"))
    assert main(args) == 2
    last = capsys.readouterr().err.splitlines()[-1]  # after the progress lines
    assert (
        last
        == f"ugpcl-studio predict: error: Cannot write {work / 'unc.mha'}: no space left on device."
    )
    assert _snapshot(work) == before  # no p.nii.gz, no hidden folder


@pytest.mark.usefixtures("failing_uncertainty_write")
def test_train_leaves_no_half_outputs_but_keeps_the_model(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = work / "run"
    monkeypatch.setattr(job, "train", _fake_train(out))
    assert main(_train(work, "--out", str(out))) == 2
    assert "no space left" in capsys.readouterr().err.splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == ["model.pt"]  # the trained model is kept


def test_convert_labels_leaves_no_label_file_when_the_table_fails(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def write_label_table(path: str | Path, table: object) -> Path:
        raise InputError(f"Cannot write label table {path}: no space left on device.")

    monkeypatch.setattr(label_tables, "write_label_table", write_label_table)
    before = _snapshot(work)
    assert main(["convert", str(work / "lab.nii.gz"), str(work / "out.nrrd"), "--labels"]) == 2
    assert "no space left" in _one_line(capsys.readouterr().err)
    assert _snapshot(work) == before


def test_a_2d_image_given_to_predict_is_called_2d(
    work: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat = sitk.GetImageFromArray(_image()[0])
    flat.SetSpacing((3.0, 3.0))  # also a very different field of view: the old message's cue
    sitk.WriteImage(flat, str(work / "flat.nii.gz"))
    args = _predict(work, "--out", str(work / "p.nii.gz"))
    args[args.index("--image") + 1] = str(work / "flat.nii.gz")
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert "flat.nii.gz is a 2-D image" in line and "different grid" not in line
    assert not (work / "p.nii.gz").exists()


def test_a_folder_without_dicom_is_one_line_without_itk_warnings(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """ITK prints its warnings from C++ on file descriptor 2: capfd sees them, capsys not."""
    (tmp_path / "scans").mkdir()
    (tmp_path / "scans" / "readme.txt").write_text("nothing here")
    assert main(["convert", str(tmp_path / "scans"), str(tmp_path / "o.nii.gz")]) == 2
    assert "No DICOM series found" in _one_line(capfd.readouterr().err)


def test_labeled_slices_without_labels_are_named(
    work: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing_train(*args: object, **kwargs: object) -> Iterator[Failed]:
        yield Failed("stopped by the test")

    monkeypatch.setattr(job, "train", failing_train)
    args = _train(work, "--out", str(work / "run"))
    args[args.index("--slices") + 1] = "2,5,7"
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "warning: labeled slices 5, 7 hold no label, only background" in err
    assert not (work / "run").exists()  # created for the run, removed again when it failed

    args[args.index("--slices") + 1] = "5,7"  # nothing but background: refused before training
    assert main(args) == 2
    assert "None of the labeled slices (5, 7) holds a label" in _one_line(capsys.readouterr().err)


def _show_on_stderr(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    """Python's own way of showing a warning (pytest records them instead)."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@pytest.mark.filterwarnings("default::UserWarning")
def test_python_warnings_never_come_before_the_error_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(warnings, "showwarning", _show_on_stderr)

    def noisy(fail: bool) -> object:
        def handler(args: object) -> int:
            warnings.warn("torch: something internal", UserWarning, stacklevel=1)
            if fail:
                raise InputError("The input is bad; fix it.")
            return 0

        return handler

    monkeypatch.setattr(cli, "_handler", lambda command: noisy(fail=True))
    assert main(["evaluate", "--prediction", "a", "--reference", "b"]) == 2
    assert _one_line(capsys.readouterr().err).endswith("The input is bad; fix it.")

    monkeypatch.setattr(cli, "_handler", lambda command: noisy(fail=False))
    assert main(["evaluate", "--prediction", "a", "--reference", "b"]) == 0
    assert "torch: something internal" in capsys.readouterr().err  # shown after success
