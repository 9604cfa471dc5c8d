"""Benchmark volumes, the guided-selection loop and the guided benchmark's bookkeeping."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tiny import TINY_MODEL

from ugpcl_benchmarks import guided as bench
from ugpcl_benchmarks import volumes
from ugpcl_benchmarks.simulation import farthest_slices, guided_selection
from ugpcl_engine.config import RunSpec, TrainingConfig, preset
from ugpcl_engine.errors import InputError
from ugpcl_engine.uncertainty import rank_slices

HAS_NILEARN = importlib.util.find_spec("nilearn") is not None


def tiny_spec(num_classes: int, steps: int = 3) -> RunSpec:
    model = replace(TINY_MODEL, num_classes=num_classes)
    training = TrainingConfig(
        steps=steps,
        batch_labeled=1,
        batch_unlabeled=1,
        input_size=32,
        device="cpu",
        log_every=1,
    )
    return RunSpec(model, training, "test")


def test_chest_volume_is_the_bundled_ct() -> None:
    vol = volumes.load_chest()
    assert vol.image_zyx.shape == vol.labels_zyx.shape == (34, 128, 128)
    assert vol.labels_zyx.dtype == np.uint8 and vol.modality == "CT"
    assert vol.table.num_classes == 8
    assert set(np.unique(vol.labels_zyx)) == set(range(8))


@pytest.mark.skipif(not HAS_NILEARN, reason="nilearn (benchmark extra) is not installed")
def test_brain_template_labels_and_grid() -> None:
    vol = volumes.load_volume("brain")
    assert vol.image_zyx.shape == vol.labels_zyx.shape == (78, 91, 73)
    assert vol.spacing_zyx == (2.0, 2.0, 2.0) and vol.modality == "MR"
    counts = np.bincount(vol.labels_zyx.ravel(), minlength=4)
    assert counts.size == 4 and np.all(counts > 1000)  # every tissue is present
    # labels are 0 exactly outside the brain, where the image is 0
    assert np.array_equal(vol.labels_zyx == 0, vol.image_zyx == 0)
    # cropped to the brain: every border plane touches it
    for axis in range(3):
        inside = np.moveaxis(vol.labels_zyx != 0, axis, 0)
        assert inside[0].any() and inside[-1].any()


def test_brain_labels_by_hand() -> None:
    t1 = np.array([[[0, 10, 10, 10]]], np.uint8)
    gm = np.array([[[200, 30, 200, 60]]], np.uint8)
    wm = np.array([[[50, 20, 40, 150]]], np.uint8)
    # voxel 1: 255-30-20=205 is largest → CSF/other; voxel 2 grey, voxel 3 white
    assert volumes.brain_labels(t1, gm, wm).tolist() == [[[0, 1, 2, 3]]]
    unit = volumes.brain_labels(t1, gm / 255.0, wm / 255.0)
    assert unit.tolist() == [[[0, 1, 2, 3]]]


def test_brain_without_nilearn_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nilearn" else real(name)
    )
    with pytest.raises(InputError, match="nilearn"):
        volumes.load_brain()


def test_unknown_volume_and_bad_factor() -> None:
    with pytest.raises(InputError, match="chest, brain"):
        volumes.load_volume("liver")
    with pytest.raises(ValueError, match="factor"):
        volumes.load_brain(factor=0)


def test_guided_loop_adds_the_top_ranked_slice(tmp_path: Path) -> None:
    vol = volumes.load_chest()
    image, labels = vol.image_zyx[:12], vol.labels_zyx[:12]  # 12 real slices keep it short
    rounds = list(
        guided_selection(
            image,
            labels,
            vol.table,
            tiny_spec(8),
            tmp_path,
            spacing_zyx=vol.spacing_zyx,
            modality="CT",
            k_start=2,
            k_max=3,
            warm_steps=2,
        )
    )
    assert [r.k for r in rounds] == [2, 3]
    first, second = rounds
    assert first.added is None and first.labeled == (3, 9)  # uniform over z 0..11
    expected = rank_slices(first.entropy_zyx, first.prediction_zyx, first.labeled, "z", 5, 2)
    assert first.suggestions == tuple(expected) and expected
    assert second.added == expected[0].index
    assert second.added not in first.labeled
    assert second.labeled == tuple(sorted([*first.labeled, expected[0].index]))
    assert (first.steps, second.steps) == (3, 2)
    assert Path(second.checkpoint).exists() and second.checkpoint != first.checkpoint
    assert second.prediction_zyx.shape == labels.shape
    assert all(0.0 <= r.dice <= 1.0 for r in rounds)


def test_guided_loop_rejects_k_max_below_start(tmp_path: Path) -> None:
    vol = volumes.load_chest()
    with pytest.raises(ValueError, match="k_max"):
        next(
            guided_selection(
                vol.image_zyx, vol.labels_zyx, vol.table, tiny_spec(8), tmp_path, k_start=3, k_max=2
            )
        )


def test_farthest_slice_control() -> None:
    assert farthest_slices([8, 25], (0, 33)) == farthest_slices([25, 8], (0, 33))
    best = farthest_slices([8, 25], (0, 33))[0]
    assert (best.index, best.score) == (16, 8.0)  # 0, 16, 17, 33 are 8 away: 16 is central
    assert farthest_slices([10], (5, 30))[0].index == 30
    assert farthest_slices([0, 1, 2], (0, 2)) == []


def test_guided_loop_rejects_an_unknown_chooser(tmp_path: Path) -> None:
    vol = volumes.load_chest()
    with pytest.raises(ValueError, match="chooser"):
        next(
            guided_selection(
                vol.image_zyx, vol.labels_zyx, vol.table, tiny_spec(8), tmp_path, chooser="x"
            )
        )


def test_curves_average_random_seeds_and_count_slices_to_match() -> None:
    runs = {
        "uniform": [{"k": 2, "dice": 0.5}, {"k": 8, "dice": 0.8}],
        "random": [{"k": 2, "dice": 0.2}, {"k": 2, "dice": 0.4}, {"k": 8, "dice": 0.7}],
        "guided": [{"k": k, "dice": 0.5 + 0.05 * (k - 2)} for k in range(2, 9)],
    }
    curve = bench.curves(runs)
    assert curve["random"][2] == pytest.approx(0.3)
    assert bench.slices_to_match(curve) == 8  # 0.8 reached first at k = 8
    curve["guided"][5] = 0.81
    assert bench.slices_to_match(curve) == 5
    curve["guided"] = {k: 0.1 for k in range(2, 9)}
    assert bench.slices_to_match(curve) == bench.K_MAX + 1


def test_plans() -> None:
    quick, full = bench.plan_for("quick"), bench.plan_for("full")
    assert quick.ks == (2, 3, 5, 8)
    assert full.ks == tuple(range(2, 9))
    # warm rounds are half of the quick preset's run
    assert quick.warm_steps == full.warm_steps == preset("quick", 2).training.steps // 2


def test_tasks_cover_every_run_once_and_results_regroup_per_volume() -> None:
    plan = bench.plan_for("quick")
    tasks = bench._tasks("chest", plan, "cpu") + bench._tasks("brain", plan, "cpu")
    chest = [t for t in tasks if t.volume == "chest"]
    # one guided loop per training seed, one farthest control (seed 0), longest first
    assert [(t.strategy, t.seed) for t in chest[:4]] == [
        ("guided", 0),
        ("guided", 1),
        ("guided", 2),
        ("farthest", 0),
    ]
    uniform = sorted((t.k, t.seed) for t in chest if t.strategy == "uniform")
    assert uniform == [(k, seed) for k in (3, 5, 8) for seed in bench.SEEDS]
    assert len([t for t in chest if t.strategy == "random"]) == len(plan.ks) * len(bench.SEEDS)
    assert len({(t.strategy, t.k, t.seed) for t in chest}) == len(chest)

    def fake(task: bench._Task) -> object:
        if task.strategy in ("guided", "farthest"):
            return [
                {
                    "k": k,
                    "seed": task.seed,
                    "slices": [3, 9],
                    "dice": 0.4 + task.seed / 10 + k / 100,
                    "seconds": 1.0,
                }
                for k in (2, 3)
            ]
        return {"k": task.k, "seed": task.seed, "dice": 0.5}

    runs = bench._collect([(t, fake(t)) for t in tasks], "brain")
    # every seed's loop is kept, round by round
    assert [(r["seed"], r["k"]) for r in runs["guided"]] == [
        (s, k) for s in (0, 1, 2) for k in (2, 3)
    ]
    # uniform at k = 2 is each seed's guided first round, reused, then the fixed runs
    assert [(r["k"], r["seed"]) for r in runs["uniform"][:3]] == [(2, 0), (2, 1), (2, 2)]
    assert [r["dice"] for r in runs["uniform"][:3]] == pytest.approx([0.42, 0.52, 0.62])
    assert all(r["reused"] == "guided k=2" for r in runs["uniform"][:3])
    assert sorted(r["k"] for r in runs["uniform"][3:]) == [3, 3, 3, 5, 5, 5, 8, 8, 8]
    assert len(runs["random"]) == 12 and len(runs["farthest"]) == 2
    curve = bench.curves(runs)
    assert curve["guided"][3] == pytest.approx(0.53)  # mean over the three seeds' loops
    assert curve["uniform"][2] == pytest.approx(0.52)
