"""ONNX export, metadata, the onnxruntime segmenter and the export/predict CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper
from tiny import TINY_MODEL, tiny_checkpoint

from ugpcl_engine.checkpoint import Checkpoint
from ugpcl_engine.cli import main
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.inference import onnx_export
from ugpcl_engine.inference.model_metadata import (
    ExportReport,
    ModelMetadata,
    TrainingGrid,
    grid_problems,
    partial_path,
)
from ugpcl_engine.inference.onnx_export import export_onnx, metadata_for
from ugpcl_engine.inference.ort_segmenter import CUDA, OrtSegmenter
from ugpcl_engine.inference.torch_segmenter import TorchSegmenter
from ugpcl_engine.inference.wrapper import InferenceNet
from ugpcl_engine.io.volume_files import read_label_map, read_volume
from ugpcl_engine.sample import SamplePaths
from ugpcl_engine.volume import LabelTable

TINY = TINY_MODEL
GRID = TrainingGrid((10, 48, 56), (2.0, 1.0, 1.0))


def phantom(shape: tuple[int, int, int] = (10, 48, 56)) -> np.ndarray:
    """int16 CT-like volume: air, a body ellipse, a bright blob."""
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    cy, cx = shape[1] / 2, shape[2] / 2
    body = ((y - cy) / (0.4 * shape[1])) ** 2 + ((x - cx) / (0.45 * shape[2])) ** 2 < 1
    blob = ((y - cy + 4) ** 2 + (x - cx - 5) ** 2) < (3 + z % 4) ** 2
    rng = np.random.default_rng(0)
    image = np.where(body, 40, -1000) + np.where(blob, 600, 0) + rng.normal(0, 20, shape)
    return image.astype(np.int16)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Checkpoint, Path, ExportReport]:
    ckpt = tiny_checkpoint()
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    report = export_onnx(ckpt, path, training_grid=GRID, parity_image_zyx=phantom())
    return ckpt, path, report


def test_export_reports_parity_and_leaves_only_the_file(
    exported: tuple[Checkpoint, Path, ExportReport],
) -> None:
    _, path, report = exported
    assert report.max_abs_diff_probs <= 1e-4 and report.max_abs_diff_entropy <= 1e-4
    assert report.label_agreement >= 0.999
    assert report.parity_shapes[0] == (3, 1, 48, 56) and report.parity_shapes[1][0] == 1
    assert report.opset == 17 and report.parity_source == "given volume"
    assert path.is_file() and not partial_path(path).exists()
    assert ExportReport.from_dict(report.to_dict()) == report
    ckpt = exported[0]
    assert report.model_version == ckpt.model_version != ""  # what the app records
    assert replace(report, metadata={}).model_version == ""


@pytest.mark.parametrize("shape", [(1, 1, 40, 72), (3, 1, 64, 64), (2, 1, 33, 95)])
def test_onnx_matches_torch_at_other_sizes(
    exported: tuple[Checkpoint, Path, ExportReport], shape: tuple[int, ...]
) -> None:
    ckpt, path, _ = exported
    seg = OrtSegmenter(path, device="cpu", threads=1)
    batch = np.random.default_rng(1).random(shape, dtype=np.float32)
    model = InferenceNet(ckpt.build_net(), ckpt.network_size).eval()
    with torch.no_grad():
        probs, labels, entropy = model(torch.from_numpy(batch))
    o_probs, o_labels, o_entropy = seg.session.run(None, {"image": batch})
    assert o_probs.shape == tuple(probs.shape) and o_labels.shape == shape[:1] + shape[2:]
    assert np.abs(o_probs - probs.numpy()).max() < 1e-4
    assert np.abs(o_entropy - entropy.numpy()).max() < 1e-4
    assert (o_labels == labels.numpy()).mean() >= 0.999


def test_metadata_round_trip(exported: tuple[Checkpoint, Path, ExportReport]) -> None:
    ckpt, path, report = exported
    seg = OrtSegmenter(path, device="cpu")
    assert seg.metadata == metadata_for(ckpt, GRID)
    assert seg.metadata.config_hash == ckpt.spec.config_hash()
    assert seg.metadata.label_table.names == ("background", "label 1", "label 2")
    assert report.metadata == seg.metadata.to_props()
    mr = replace(seg.metadata, window=IntensityWindow("mr", 3.0, 90.0), training_grid=None)
    back = ModelMetadata.from_props(mr.to_props())
    assert back == mr
    image = np.arange(1000, dtype=np.float32).reshape(10, 10, 10)
    window = back.window_for(image)  # MR: recomputed from this volume's percentiles
    assert window.mode == "mr" and window.low == pytest.approx(np.percentile(image, 0.5))


def test_metadata_errors_are_input_errors(exported: tuple[Checkpoint, Path, ExportReport]) -> None:
    props = OrtSegmenter(exported[1], device="cpu").metadata.to_props()
    with pytest.raises(InputError, match="without ugpcl-studio metadata"):
        ModelMetadata.from_props({"other": "1"}, "x.onnx")
    with pytest.raises(InputError, match="newer ugpcl-studio"):
        ModelMetadata.from_props({**props, "ugpcl.format_version": "99"}, "x.onnx")
    with pytest.raises(InputError, match="damaged"):
        ModelMetadata.from_props({**props, "ugpcl.label_table": "[{"}, "x.onnx")
    with pytest.raises(InputError, match="damaged"):
        ModelMetadata.from_props({**props, "ugpcl.axis": "w"}, "x.onnx")


def test_cuda_requested_without_cuda_falls_back_to_cpu_with_a_warning(
    exported: tuple[Checkpoint, Path, ExportReport], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ugpcl_engine.inference.ort_segmenter"):
        seg = OrtSegmenter(exported[1], device="cuda")
    if seg.provider == CUDA:
        pytest.skip("this machine has a usable CUDA")
    assert seg.provider == "CPUExecutionProvider"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "running on the CPU" in warnings[0].getMessage()
    assert any("CPUExecutionProvider" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        OrtSegmenter(exported[1], device="cpu")
    assert not caplog.records


def _foreign_model(path: Path, channels: int, props: dict[str, str] | None) -> Path:
    """A small graph with our input/output names, built with onnx.helper."""
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["b", channels, "h", "w"])
    outs = [
        helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["b", channels, "h", "w"]),
        helper.make_tensor_value_info("labels", TensorProto.INT64, ["b", "h", "w"]),
        helper.make_tensor_value_info("entropy", TensorProto.FLOAT, ["b", "h", "w"]),
    ]
    nodes = [
        helper.make_node("Identity", ["image"], ["probs"]),
        helper.make_node("ArgMax", ["image"], ["labels"], axis=1, keepdims=0),
        helper.make_node("ReduceMax", ["image"], ["entropy"], axes=[1], keepdims=0),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "foreign", [image], outs),
        opset_imports=[helper.make_opsetid("", 17)],
    )
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    onnx.save(model, str(path))
    return path


def test_bad_model_files_are_input_errors(
    exported: tuple[Checkpoint, Path, ExportReport], tmp_path: Path
) -> None:
    props = OrtSegmenter(exported[1], device="cpu").metadata.to_props()
    text = tmp_path / "notes.onnx"
    text.write_text("not a model")
    with pytest.raises(InputError, match="not a readable ONNX model"):
        OrtSegmenter(text)
    with pytest.raises(InputError, match="not found"):
        OrtSegmenter(tmp_path / "missing.onnx")
    with pytest.raises(InputError, match="without ugpcl-studio metadata"):
        OrtSegmenter(_foreign_model(tmp_path / "a.onnx", 3, None))
    with pytest.raises(InputError, match="one grey channel"):
        OrtSegmenter(_foreign_model(tmp_path / "b.onnx", 3, props))
    model = onnx.load(str(exported[1]))
    four = ModelMetadata.from_props(props)
    four = replace(four, label_table=LabelTable.default(4))
    del model.metadata_props[:]
    helper.set_model_props(model, four.to_props())
    onnx.save(model, str(tmp_path / "c.onnx"))
    with pytest.raises(InputError, match="predicts 3 classes but its metadata lists 4"):
        OrtSegmenter(tmp_path / "c.onnx")


def test_segment_volume_matches_torch_segmenter(
    exported: tuple[Checkpoint, Path, ExportReport],
) -> None:
    ckpt, path, _ = exported
    image = phantom((7, 45, 61))
    seg = OrtSegmenter(path, device="cpu", batch_size=3)
    calls: list[tuple[int, int]] = []
    labels, entropy = seg.segment(image, lambda d, t: calls.append((d, t)))
    ref_labels, ref_entropy = TorchSegmenter.from_checkpoint(ckpt).segment(image, ckpt)
    assert labels.dtype == np.uint8 and entropy.dtype == np.float32
    assert labels.shape == image.shape == entropy.shape
    assert (labels == ref_labels).mean() >= 0.999
    assert np.abs(entropy - ref_entropy).max() < 1e-4
    assert calls == [(3, 7), (6, 7), (7, 7)]
    with pytest.raises(CancelledError):
        seg.segment(image, cancelled=lambda: True)
    with pytest.raises(InputError, match="NaN"):
        seg.segment(np.full((2, 8, 8), np.nan, np.float32))
    with pytest.raises(InputError, match="3-D"):
        seg.segment(np.zeros((8, 8), np.int16))


def test_grid_check(
    exported: tuple[Checkpoint, Path, ExportReport], caplog: pytest.LogCaptureFixture
) -> None:
    seg = OrtSegmenter(exported[1], device="cpu")
    meta = seg.metadata
    assert grid_problems(meta, (30, 48, 56), (5.0, 1.0, 1.0)) == []  # other slice count: fine
    assert grid_problems(meta, (10, 96, 112), (2.0, 0.5, 0.5)) == []  # same extent, finer
    [fov] = grid_problems(meta, (10, 48, 56), (2.0, 3.0, 3.0))
    assert "cover 144×168 mm, training slices 48×56 mm" in fov
    assert len(grid_problems(meta, (10, 480, 560), (2.0, 0.1, 0.1))) == 1  # pixels 10× finer
    assert grid_problems(meta, (10, 48, 560)) != []  # no spacing: pixel sides compared
    unknown = replace(meta, training_grid=None)
    assert grid_problems(unknown, (10, 48, 56)) == []
    assert "network size 64²" in grid_problems(unknown, (10, 512, 512))[0]
    far = phantom((3, 48, 56))
    with pytest.raises(InputError, match="very different grid"):
        seg.segment(far, spacing_zyx=(2.0, 4.0, 4.0), strict=True)
    with caplog.at_level(logging.WARNING):
        labels, _ = seg.segment(far, spacing_zyx=(2.0, 4.0, 4.0))
    assert labels.shape == far.shape and "very different grid" in caplog.text


def test_parity_failure_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_export, "PARITY_TOLERANCE", -1.0)
    out = tmp_path / "m.onnx"
    with pytest.raises(onnx_export.ParityError, match="differs from torch"):
        export_onnx(tiny_checkpoint(), out, parity_image_zyx=phantom())
    assert list(tmp_path.iterdir()) == []


def test_segmenter_module_does_not_import_torch() -> None:
    code = (
        "import sys, ugpcl_engine.inference.ort_segmenter, ugpcl_engine.inference.commands\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip() == "[]"


@pytest.fixture(scope="module")
def trained_run(chest_ct: SamplePaths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run")
    args = ["train", "--image", str(chest_ct.image), "--labels", str(chest_ct.labels)]
    args += ["--slices", "6,16,28", "--steps", "2", "--device", "cpu", "--out", str(out)]
    assert main(args) == 0
    return out


def test_cli_export_then_predict_on_chest_ct(
    trained_run: Path, chest_ct: SamplePaths, capsys: pytest.CaptureFixture[str]
) -> None:
    model = trained_run / "model.onnx"
    assert main(["export", "--checkpoint", str(trained_run / "model.pt"), "--out", str(model)]) == 0
    assert "max |Δp|" in capsys.readouterr().out
    seg, unc = trained_run / "pred.seg.nrrd", trained_run / "unc.nii.gz"
    args = ["predict", "--model", str(model), "--image", str(chest_ct.image)]
    assert main([*args, "--out", str(seg), "--uncertainty", str(unc), "--device", "cpu"]) == 0
    image = read_volume(chest_ct.image)
    pred = read_label_map(seg)
    assert pred.geometry.matches(image.geometry)
    assert read_volume(unc).geometry.matches(image.geometry)
    assert pred.table.names == read_label_map(chest_ct.labels).table.names  # names kept
    torch_pred = read_label_map(trained_run / "prediction.nii.gz")  # TorchSegmenter's
    assert (pred.labels_zyx == torch_pred.labels_zyx).mean() >= 0.999


def test_cli_bad_inputs_are_one_line_exit_2(
    trained_run: Path, chest_ct: SamplePaths, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "m.onnx"
    text.write_text("hello")
    args = ["predict", "--model", str(text), "--image", str(chest_ct.image)]
    assert main([*args, "--out", str(tmp_path / "p.nii.gz")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a readable ONNX model" in err and len(err.splitlines()) == 1
    assert main(["export", "--checkpoint", str(text), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "checkpoint" in capsys.readouterr().err


@pytest.mark.gpu
def test_onnxruntime_gets_cuda(exported: tuple[Checkpoint, Path, ExportReport]) -> None:
    if not (torch.cuda.is_available() or Path("/dev/nvidia0").exists()):
        pytest.skip("no CUDA device")
    seg = OrtSegmenter(exported[1], device="cuda")
    assert seg.provider == CUDA
    assert seg.provider_report.uses_cuda and seg.provider_report.reason == ""
    labels, _ = seg.segment(phantom())
    assert labels.shape == phantom().shape


@pytest.mark.gpu
def test_onnxruntime_reaches_cuda_in_a_process_without_torch(
    exported: tuple[Checkpoint, Path, ExportReport],
) -> None:
    """The GUI process never imports torch, so nothing has loaded the CUDA libraries before
    the session: onnxruntime must find them itself (``preload_cuda_libraries``)."""
    import subprocess
    import sys

    if not (torch.cuda.is_available() or Path("/dev/nvidia0").exists()):
        pytest.skip("no CUDA device")
    code = (
        "import sys\n"
        "from ugpcl_engine.inference.ort_segmenter import OrtSegmenter\n"
        f"seg = OrtSegmenter({str(exported[1])!r}, device='cuda')\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
        "print(seg.provider_report.summary())\n"
    )
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=root
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == CUDA, done.stdout
