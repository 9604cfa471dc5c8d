"""train-dataset: lazy batches, resume bit for bit, validation keeping the best model, refusals."""

from __future__ import annotations

import argparse
import json
import signal
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from synthetic_datasets import write_msd, write_ssl4mis
from tiny import TINY_MODEL

from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.config import RunSpec, preset
from ugpcl_engine.datasets import (
    commands,
    open_dataset,
    parse_labeled,
    select_labeled,
    train_command,
)
from ugpcl_engine.datasets.base import Dataset
from ugpcl_engine.datasets.training import dataset_spec, prepare_job
from ugpcl_engine.errors import InputError
from ugpcl_engine.training.cancel import CancelToken
from ugpcl_engine.training.dataset_trainer import Validated, train_dataset
from ugpcl_engine.training.events import Finished, Progress, Started


def tiny_spec(dataset: Dataset, steps: int) -> RunSpec:
    spec = dataset_spec(
        "quick",
        dataset,
        32,
        steps=steps,
        batch_labeled=2,
        batch_unlabeled=2,
        log_every=1,
        device="cpu",
        threads=1,
    )
    return replace(spec, model=replace(TINY_MODEL, num_classes=4))


def losses_of(events: list[object]) -> list[dict[str, float]]:
    return [e.losses for e in events if isinstance(e, Progress)]


def run(dataset: Dataset, out: Path, steps: int, stop_after: int | None = None, **kw: object):
    spec = tiny_spec(dataset, steps)
    labeled = select_labeled(dataset, parse_labeled("1"))
    job = prepare_job(dataset, labeled, spec, out, **kw)  # type: ignore[arg-type]
    cancel = CancelToken()
    events = []
    for event in train_dataset(job, cancel):
        events.append(event)
        if isinstance(event, Progress) and event.step == stop_after:
            cancel.cancel()
    return events


def test_resumed_run_gives_the_uninterrupted_losses(tmp_path: Path) -> None:
    ds = open_dataset(write_ssl4mis(tmp_path / "ACDC"))
    whole = run(ds, tmp_path / "whole", 8)
    first = run(ds, tmp_path / "split", 8, stop_after=4)
    assert isinstance(first[-1], Finished) and first[-1].stopped_early and first[-1].steps == 4
    second = run(ds, tmp_path / "split", 8, resume=True)
    started = second[0]
    assert isinstance(started, Started) and started.labeled == 16 and started.unlabeled == 32
    a, b = losses_of(whole), losses_of(first) + losses_of(second)
    assert len(a) == len(b) == 8
    for x, y in zip(a, b, strict=True):
        assert x == pytest.approx(y, rel=1e-6, abs=1e-7)
    end_a = load_checkpoint(tmp_path / "whole" / "model.pt")
    end_b = load_checkpoint(tmp_path / "split" / "model.pt")
    assert end_b.step == 8
    for key, value in end_a.state_dict.items():
        torch.testing.assert_close(end_b.state_dict[key], value, rtol=1e-5, atol=1e-6)
    for key, value in end_a.bank_state.items():
        torch.testing.assert_close(end_b.bank_state[key], value, rtol=1e-5, atol=1e-6)


def test_resume_with_other_settings_is_refused(tmp_path: Path) -> None:
    ds = open_dataset(write_ssl4mis(tmp_path / "ACDC"))
    run(ds, tmp_path / "out", 4, stop_after=2)
    with pytest.raises(InputError, match="written with other settings"):
        run(ds, tmp_path / "out", 6, resume=True)


def test_batches_read_only_their_slices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = open_dataset(write_ssl4mis(tmp_path / "ACDC"))
    reads: list[bool] = []
    real = type(ds).read_slice

    def counted(self: object, ref: object, labels: bool) -> object:
        reads.append(labels)
        return real(self, ref, labels)  # type: ignore[arg-type]

    monkeypatch.setattr(type(ds), "read_slice", counted)
    job = prepare_job(ds, ["patient003"], tiny_spec(ds, 2), tmp_path / "out")
    assert reads == []  # nothing read up front
    job.source.next()
    # 2 labeled (labels read) + 2 unlabeled (labels never read)
    assert sorted(reads) == [False, False, True, True]


def test_msd_run_validates_keeps_best_and_reuses_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = write_msd(tmp_path / "Task")
    (data / "val.list").write_text("case_c\n")
    ds = open_dataset(data)
    out = tmp_path / "out"
    events = run(ds, out, 4, stop_after=2, val_every=2, checkpoint_every=2)
    checks = [e for e in events if isinstance(e, Validated)]
    assert [v.step for v in checks] == [2] and checks[0].improved
    assert (out / "best.pt").is_file() and (out / "last.pt").is_file()
    assert load_checkpoint(out / "best.pt").metrics["best_val_dice"] == checks[0].dice
    # the resumed run reads no training case again (the cache is reused)
    reads: list[str] = []
    real = type(ds).read_case

    def counted(self: object, case: object, labels: bool = True) -> object:
        reads.append(case.case_id)  # type: ignore[attr-defined]
        return real(self, case, labels)  # type: ignore[arg-type]

    monkeypatch.setattr(type(ds), "read_case", counted)
    events = run(ds, out, 4, resume=True, val_every=2, checkpoint_every=2)
    assert reads == ["case_c"]  # only the validation at step 4 reads a case: the val one
    assert isinstance(events[-1], Finished) and events[-1].steps == 4


def test_msd_unlabeled_cases_labels_never_read(tmp_path: Path) -> None:
    ds = open_dataset(write_msd(tmp_path / "Task"))
    job = prepare_job(ds, ["case_b"], tiny_spec(ds, 2), tmp_path / "out")
    assert job.labeled_slices == 8 and job.unlabeled_slices == 32
    assert not (tmp_path / "out" / "cache" / "case_a.labels.npy").exists()
    assert (tmp_path / "out" / "cache" / "case_b.labels.npy").exists()


def command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    commands.add_parsers(parser.add_subparsers(dest="command"))
    return train_command.train_dataset_command(parser.parse_args(argv))


def test_train_dataset_command_refuses_to_start_over_a_run(tmp_path: Path) -> None:
    data = write_ssl4mis(tmp_path / "ACDC")
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"")
    argv = ["train-dataset", "--data", str(data), "--preset", "quick", "--out", str(out)]
    with pytest.raises(InputError, match=r"already holds a run .* --resume"):
        command(argv)
    with pytest.raises(InputError, match="--labeled 9 asks for 9 patients"):
        command([*argv, "--resume", "--labeled", "9"])


def test_train_dataset_command_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_ssl4mis(tmp_path / "ACDC")

    def tiny_preset(name: str, num_classes: int) -> RunSpec:
        spec = preset(name, num_classes)
        return replace(spec, model=replace(TINY_MODEL, num_classes=num_classes))

    monkeypatch.setattr("ugpcl_engine.datasets.training.preset", tiny_preset)
    out = tmp_path / "run"
    argv = ["train-dataset", "--data", str(data), "--preset", "quick", "--out", str(out)]
    argv += ["--labeled", "1", "--steps", "4", "--input-size", "32", "--device", "cpu"]
    assert command([*argv, "--val-every", "2"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["labeled"]["patients"] == ["patient003"] and record["labeled_slices"] == 16
    assert {p.name for p in out.iterdir()} >= {"model.pt", "best.pt", "last.pt", "run.json"}
    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.network_size == 32 and ckpt.network_scale is None and ckpt.resume is None
    assert ckpt.window.low == 0.0 and ckpt.window.high == 1.0


def test_sigterm_asks_the_run_to_stop_and_is_restored_after() -> None:
    before = signal.getsignal(signal.SIGTERM)
    cancel = CancelToken()
    with train_command._stop_on_signals(cancel):
        signal.raise_signal(signal.SIGTERM)  # a cluster's pre-emption
        assert cancel.cancelled
    assert signal.getsignal(signal.SIGTERM) is before


def test_nproc_relaunches_under_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(train_command.subprocess, "call", lambda argv: calls.append(argv) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    argv = ["train-dataset", "--data", "D", "--preset", "paper", "--out", "O", "--nproc", "2"]
    assert command([*argv, "--labeled", "7", "--resume"]) == 0
    launched = calls[0]
    assert launched[1:5] == ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    assert launched[5:8] == ["-m", "ugpcl_engine.cli", "train-dataset"]
    rest = launched[8:]
    assert rest[rest.index("--labeled") + 1] == "7" and rest[-1] == "--resume"
    assert "--nproc" not in rest
