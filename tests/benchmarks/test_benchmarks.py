"""The benchmark mechanism: table, JSON record, command errors, registry."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import types
from pathlib import Path

import pytest

from ugpcl_benchmarks.runner import (
    REGISTRY,
    BenchmarkResult,
    benchmark_command,
    format_table,
    record,
)
from ugpcl_engine.errors import InputError


def test_format_table_aligns_columns_and_rounds_floats() -> None:
    text = format_table(["name", "value"], [["a", 1.23456], ["longer", 2]])
    lines = text.splitlines()
    assert lines[0].startswith("name  ") and "value" in lines[0]
    assert lines[2].split() == ["a", "1.235"]


def test_record_writes_flat_summary(tmp_path: Path) -> None:
    result = BenchmarkResult("t", {"x_s": 1.5, "ratio": 2.0}, {"rows": [[1, 2]]})
    path = record("demo", result, tmp_path / "out", 3.21)
    data = json.loads(path.read_text())
    assert path.name == "demo.json"
    assert data["summary"] == {"x_s": 1.5, "ratio": 2.0}
    assert data["benchmark"] == "demo" and data["wall_seconds"] == 3.21
    assert len(data["machine"]["load_average_at_end"]) == 3


def test_unknown_benchmark_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"Unknown benchmark .nope.*sparse-slices"):
        benchmark_command(argparse.Namespace(name="nope", out=str(tmp_path)))


def test_a_missing_extra_package_is_one_line_with_the_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(args: argparse.Namespace) -> BenchmarkResult:
        import sklearn.ensemble  # noqa: F401  (blocked below, as if not installed)

        raise AssertionError("sklearn was importable")

    monkeypatch.setitem(sys.modules, "sklearn", None)  # import sklearn -> ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "fake_bench", types.SimpleNamespace(run=run))
    monkeypatch.setitem(REGISTRY, "fake", "fake_bench")
    message = r"^The fake benchmark needs 'sklearn' from the benchmark extra: pip install '"
    with pytest.raises(InputError, match=message + r"ugpcl-studio\[benchmark\]'$"):
        benchmark_command(argparse.Namespace(name="fake", out=str(tmp_path)))


def test_other_missing_modules_are_not_blamed_on_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(args: argparse.Namespace) -> BenchmarkResult:
        raise ModuleNotFoundError("No module named 'typo'", name="typo")

    monkeypatch.setitem(sys.modules, "fake_bench", types.SimpleNamespace(run=run))
    monkeypatch.setitem(REGISTRY, "fake", "fake_bench")
    with pytest.raises(ModuleNotFoundError, match="typo"):
        benchmark_command(argparse.Namespace(name="fake", out=str(tmp_path)))


def test_cli_without_the_benchmarks_says_how_to_install_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ugpcl_engine import cli

    for name in [m for m in sys.modules if m.startswith("ugpcl_benchmarks.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ugpcl_benchmarks", None)  # as if it were not installed
    assert cli.main(["benchmark", "io", "--out", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == (
        "ugpcl-studio benchmark: error: The benchmarks are not installed: "
        "pip install 'ugpcl-studio[benchmark]'\n"
    )


def test_every_registered_benchmark_module_exists_and_has_run() -> None:
    for name, module in REGISTRY.items():
        assert importlib.util.find_spec(module) is not None, name
        assert callable(importlib.import_module(module).run), name


def test_committed_results_have_the_contract_keys() -> None:
    results = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
    expected = {
        # issue #13's contract: dice_/seconds_<method>_<volume>_k<k> (HD95 kept)
        "sparse-slices": [
            f"{measure}_{method}_{volume}_k{k}"
            for measure in ("dice", "seconds", "hd95")
            for method in (
                "interpolation",
                "random_forest",
                "supervised",
                "supervised_same_labeled",
                "ugpcl",
            )
            for volume in ("chest", "brain", "brain1mm")
            for k in (3, 5)
        ],
        "first-model": ["seconds", "dice", "seconds_brain1mm", "dice_brain1mm"],
        "step": ["ugpcl_over_supervised_light_256"],
        "reliability": [
            "strokes_lost",
            "marks_lost",
            "hangs",
            "silent_corruptions",
            "crashes",
            "paint_kills",
            "child_kills",
            "project_fuzz_tried",
            "journal_fuzz_tried",
            "bad_input_tried",
        ],
        "io": [
            "read_nifti_s",
            "read_dicom_s",
            "project_save_s",
            "project_open_s",
            "journal_ms_per_stroke",
            "journal_bytes_per_stroke",
        ],
        "onnx": [
            "ort_speedup_slice_b1",
            "ort_speedup_slice_b16",
            "ort_speedup_volume",
            "max_abs_diff",
        ],
        # issue 15: data-parallel scaling on the CPU and the paper step's time and memory
        "scale": [
            "steps_per_s_1proc",
            "steps_per_s_2proc",
            "scale_efficiency_2proc",
            "paper_step_s",
            "paper_peak_rss_mb",
        ],
    }
    for name, keys in expected.items():
        path = results / f"{name}.json"
        if not path.exists():
            pytest.fail(f"missing committed benchmark result {path.name}")
        summary = json.loads(path.read_text())["summary"]
        for key in keys:
            assert isinstance(summary[key], (int, float)), (name, key)


def test_run_tasks_in_worker_processes_keeps_order_and_matches_in_process() -> None:
    import math
    import os

    from ugpcl_benchmarks.pool import run_tasks

    tasks = [5, 3, 7, 1]
    assert run_tasks(math.factorial, tasks, jobs=1) == [120, 6, 5040, 1]
    assert run_tasks(math.factorial, tasks, jobs=2) == [120, 6, 5040, 1]
    # the tasks really ran in other processes
    pids = run_tasks(_pid, [0, 1, 2], jobs=2)
    assert os.getpid() not in pids


def _pid(_: int) -> int:
    import os

    return os.getpid()


def test_sparse_slices_methods_differ_only_in_what_fills_the_batch() -> None:
    from ugpcl_benchmarks.sparse_slices import method_spec

    ugpcl = method_spec("ugpcl", "quick", 8).training
    assert not ugpcl.supervised_only and ugpcl.batch_unlabeled > 0
    full = method_spec("supervised", "quick", 8).training
    half = method_spec("supervised_same_labeled", "quick", 8).training
    assert full.supervised_only and half.supervised_only
    # supervised: labeled images fill UGPCL's whole batch; the diagnostic keeps its labeled part
    assert (full.batch_labeled, full.batch_unlabeled) == (
        ugpcl.batch_labeled,
        ugpcl.batch_unlabeled,
    )
    assert (half.batch_labeled, half.batch_unlabeled) == (ugpcl.batch_labeled, 0)
    assert method_spec("ugpcl", "quick", 8, seed=2).training.seed == 2
    with pytest.raises(ValueError, match="not a trained method"):
        method_spec("interpolation", "quick", 8)


def test_sparse_slices_runs_every_method_on_every_volume_with_the_contract_keys() -> None:
    from ugpcl_benchmarks import sparse_slices as ss

    tasks = ss.tasks_for(("chest", "brain1mm"), "quick", "cpu", 2)
    per_key: dict[tuple[str, str, int], int] = {}
    for name, method, k, _seed, _preset, _device, threads in tasks:
        per_key[(name, method, k)] = per_key.get((name, method, k), 0) + 1
        assert threads == 2
    assert set(per_key) == {
        (v, m, k) for v in ("chest", "brain1mm") for m in ss.METHODS for k in ss.KS
    }
    for (_, method, _), count in per_key.items():  # 3 seeds for the networks, 1 otherwise
        assert count == (len(ss.SEEDS) if method in ss.TRAINED else 1), method
    runs = [
        {
            "volume": "chest",
            "method": "ugpcl",
            "k": 3,
            "seed": s,
            "slices": [1, 2, 3],
            "dice": d,
            "hd95": 2.0,
            "seconds": 10.0,
        }
        for s, d in ((0, 0.7), (1, 0.8), (2, 0.9))
    ]
    runs.append(
        {
            "volume": "chest",
            "method": "random_forest",
            "k": 3,
            "seed": 0,
            "slices": [1, 2, 3],
            "dice": 0.5,
            "hd95": float("nan"),
            "seconds": 4.0,
        }
    )
    summary, rows = ss.summarise(runs, ("chest",))
    assert summary["dice_ugpcl_chest_k3"] == 0.8 and summary["seconds_ugpcl_chest_k3"] == 10.0
    assert summary["dice_random_forest_chest_k3"] == 0.5
    assert "hd95_random_forest_chest_k3" in summary and len(rows) == 2
    with pytest.raises(InputError, match="Unknown volume 'lung'"):
        ss.run(argparse.Namespace(volumes=["lung"], jobs=1))


def test_sparse_slices_scores_interpolation_on_the_chest() -> None:
    from ugpcl_benchmarks import sparse_slices as ss

    run = ss._method_run(("chest", "interpolation", 3, 0, "quick", "cpu", 1))
    assert run["volume"] == "chest" and len(run["slices"]) == 3
    assert 0.2 < run["dice"] < 0.9 and run["seconds"] >= 0


def test_step_times_every_kind_on_the_requested_device() -> None:
    import torch

    from ugpcl_benchmarks.step import _time_steps

    times = _time_steps("light", 32, 1, torch.device("cpu"))
    assert set(times) == {"ugpcl", "supervised", "loop"}
    assert all(t > 0 for t in times.values())


@pytest.mark.gpu
def test_step_runs_on_cuda() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    from ugpcl_benchmarks.step import _time_steps

    times = _time_steps("light", 64, 1, torch.device("cuda"))
    assert all(t > 0 for t in times.values())


def test_committed_gpu_results_name_their_gpu() -> None:
    folder = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "gpu"
    files = sorted(folder.glob("*.json"))
    assert files, "no GPU results committed"
    for path in files:
        data = json.loads(path.read_text())
        assert "H100" in path.name.upper() or "H200" in path.name.upper()
        assert "NVIDIA" in json.dumps(data["details"]), path.name


def test_scale_random_batches_split_the_global_batch_without_overlap() -> None:
    import torch

    from ugpcl_benchmarks.scale import RandomBatches

    whole = RandomBatches(32, (4, 2))
    shares = [RandomBatches(32, (4, 2), rank, 2) for rank in range(2)]
    x_l, y_l, x_u = whole.next()
    assert x_l.shape == (4, 1, 32, 32) and y_l.shape == (4, 32, 32) and x_u.shape == (2, 1, 32, 32)
    torch.testing.assert_close(torch.cat([s.next()[0] for s in shares]), x_l)
    torch.testing.assert_close(torch.cat([s.next()[1] for s in shares]), y_l)
    torch.testing.assert_close(torch.cat([s.next()[2] for s in shares]), x_u)


def test_scale_variants_change_only_the_memory_switches() -> None:
    from dataclasses import asdict

    from ugpcl_benchmarks.scale import VARIANTS, paper_spec
    from ugpcl_engine.config import preset

    paper = preset("paper", 4, device="cpu")
    assert paper_spec("paper preset") == paper
    switches = {"checkpoint_encoder", "checkpoint_decoder", "release_memory"}
    for variant in VARIANTS:
        spec = paper_spec(variant)
        changed = {k for k, v in asdict(spec.model).items() if asdict(paper.model)[k] != v}
        changed |= {k for k, v in asdict(spec.training).items() if asdict(paper.training)[k] != v}
        assert changed <= switches, variant


def test_scale_gpu_without_a_gpu_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from ugpcl_benchmarks import scale

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="needs a CUDA GPU"):
        scale.run(argparse.Namespace(name="scale-gpu", budget="quick"))
