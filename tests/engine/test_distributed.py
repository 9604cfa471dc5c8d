"""Data-parallel training: 2 gloo processes on the CPU, and the per-rank sampling."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from ddp_worker import STEPS, resume_worker, worker
from synthetic_datasets import write_ssl4mis
from tiny import TINY_MODEL

from ugpcl_engine.checkpoint import load_checkpoint
from ugpcl_engine.datasets import open_dataset
from ugpcl_engine.datasets.sampler import DatasetSampler
from ugpcl_engine.datasets.ssl4mis import SSL4MISDataset
from ugpcl_engine.model import build_model


class _Names:
    """A store that returns each slice's position in the list as its pixels."""

    def __init__(self, refs: list[object]) -> None:
        self.index = {id(r): i for i, r in enumerate(refs)}

    def load(self, ref: object, labels: bool):  # type: ignore[no-untyped-def]
        value = torch.full((2, 2), float(self.index[id(ref)])).numpy()
        return value, value.astype("uint8") if labels else None


def test_ranks_draw_disjoint_shares_of_the_single_process_batch(tmp_path: Path) -> None:
    ds = open_dataset(write_ssl4mis(tmp_path / "ACDC"))
    assert isinstance(ds, SSL4MISDataset)
    refs = ds.training_slices()
    store = _Names(refs)  # type: ignore[arg-type]
    cpu = torch.device("cpu")
    whole = DatasetSampler(store, refs[:16], refs[16:], 4, 6, 0, cpu)  # type: ignore[arg-type]
    halves = [
        DatasetSampler(store, refs[:16], refs[16:], 2, 3, 0, cpu, rank, 2)  # type: ignore[arg-type]
        for rank in (0, 1)
    ]
    for _ in range(5):  # across epoch ends (16 labeled slices, 4 per step)
        x_l, _, x_u = whole.next()
        parts = [h.next() for h in halves]
        for big, index in ((x_l, 0), (x_u, 2)):
            shares = [p[index][:, 0, 0, 0].tolist() for p in parts]
            assert not set(shares[0]) & set(shares[1])  # no slice on both ranks
            assert shares[0] + shares[1] == big[:, 0, 0, 0].tolist()


@pytest.mark.timeout(120)
def test_two_gloo_processes_keep_identical_parameters_and_banks(tmp_path: Path) -> None:
    data = write_ssl4mis(tmp_path / "ACDC")
    mp.spawn(worker, args=(2, str(data), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1)]
    for key, value in ranks[0]["params"].items():
        torch.testing.assert_close(ranks[1]["params"][key], value, rtol=0, atol=0)
    for key, value in ranks[0]["buffers"].items():
        torch.testing.assert_close(ranks[1]["buffers"][key], value, rtol=0, atol=0)
    for key, value in ranks[0]["bank"].items():
        torch.testing.assert_close(ranks[1]["bank"][key], value, rtol=0, atol=0)
    # the bank holds the region means of both ranks: 2 images per step, 4 classes each at most
    filled = int(ranks[0]["bank"]["filled"].sum())
    assert filled > 0 and int(ranks[0]["bank"]["ptr"].sum()) == filled
    torch.manual_seed(0)
    init = dict(build_model(replace(TINY_MODEL, num_classes=4)).named_parameters())
    assert any(not torch.equal(init[k], v) for k, v in ranks[0]["params"].items())  # it trained
    # rank 0 alone writes files and yields events
    assert ranks[0]["events"] == ["Started"] + ["Progress"] * STEPS + ["Finished"]
    assert ranks[1]["events"] == []
    assert {p.name for p in (tmp_path / "out0").iterdir()} == {"last.pt", "model.pt"}
    assert list((tmp_path / "out1").iterdir()) == []


@pytest.mark.timeout(240)
def test_two_process_run_resumed_gives_the_uninterrupted_run(tmp_path: Path) -> None:
    """Stopped after 2 of 6 steps on 2 gloo ranks and resumed on 2 ranks: the same all-reduced
    losses and the same final model as 6 steps in one go (each rank's RNG and sampler position
    come back from ``last.pt``)."""
    data = str(write_ssl4mis(tmp_path / "ACDC"))
    tmp = str(tmp_path)
    mp.spawn(resume_worker, args=(2, data, tmp, "whole", 0, False), nprocs=2, join=True)
    mp.spawn(resume_worker, args=(2, data, tmp, "split", 2, False), nprocs=2, join=True)
    mp.spawn(resume_worker, args=(2, data, tmp, "split", 0, True), nprocs=2, join=True)
    whole = torch.load(tmp_path / "whole-0-rank0.pt")
    split = torch.load(tmp_path / "split-0-rank0.pt") + torch.load(tmp_path / "split-1-rank0.pt")
    assert len(whole) == len(split) == 2 * STEPS
    for a, b in zip(whole, split, strict=True):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-7)
    assert torch.load(tmp_path / "split-1-rank1.pt") == []  # progress events from rank 0 only
    end_a = load_checkpoint(tmp_path / "whole" / "model.pt")
    end_b = load_checkpoint(tmp_path / "split" / "model.pt")
    assert end_b.step == 2 * STEPS
    for key, value in end_a.state_dict.items():
        torch.testing.assert_close(end_b.state_dict[key], value, rtol=1e-5, atol=1e-6)
