"""Glue between a dataset and the engine's trainer: the run's spec, batch source and validator.

``dataset_spec`` adapts a preset to dataset training (a fixed S×S grid, no time budget, no
foreground crop; SSL4MIS images kept in their stored [0, 1]); ``prepare_job`` builds the lazy
batch source of the labeled and unlabeled slices and the validation on the ``val`` split, and
returns the ``DatasetJob`` that ``training.dataset_trainer.train_dataset`` runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ugpcl_engine.checkpoint import Checkpoint
from ugpcl_engine.config import NormalisationConfig, RunSpec, preset
from ugpcl_engine.data.normalisation import IntensityWindow
from ugpcl_engine.datasets.base import Dataset
from ugpcl_engine.datasets.evaluation import score_split
from ugpcl_engine.datasets.prediction import VolumePredictor
from ugpcl_engine.datasets.sampler import DatasetSampler, SliceStore
from ugpcl_engine.datasets.ssl4mis import SSL4MISDataset
from ugpcl_engine.datasets.stores import FIXED_WINDOW, CaseCacheStore, SliceFileStore
from ugpcl_engine.device import resolve_device
from ugpcl_engine.errors import InputError
from ugpcl_engine.model import UGPCLNet
from ugpcl_engine.training.dataset_trainer import DatasetJob, Validate
from ugpcl_engine.training.distributed import Group, Ranks
from ugpcl_engine.training.loop import batch_split

DEFAULT_SIDE = 256
"""S when the preset does not fix one (SSL4MIS trains ACDC at 256², the UGPCL paper at 224²)."""


def dataset_spec(name: str, dataset: Dataset, side: int | None = None, **overrides: Any) -> RunSpec:
    """A preset adapted to dataset training.

    Args:
        name: ``quick``, ``standard`` or ``paper``.
        dataset: the dataset (classes, layout).
        side: S (a multiple of 32); ``None``: the preset's ``input_size``, else 256 capped by
            its ``max_input_size``.
        **overrides: ``TrainingConfig`` fields (steps, seed, device, ...).

    Raises:
        ValueError: an unknown preset or a bad override (``TrainingConfig``'s checks).
    """
    base = preset(name, dataset.label_table.num_classes)
    cfg = base.training
    side = side or cfg.input_size or min(DEFAULT_SIDE, cfg.max_input_size)
    norm = cfg.normalisation
    if isinstance(dataset, SSL4MISDataset):
        norm = NormalisationConfig(mode="ct", ct_window=(FIXED_WINDOW.low, FIXED_WINDOW.high))
    training = replace(
        cfg,
        input_size=side,
        time_budget=None,
        crop_to_foreground=False,
        preview_every=0,
        normalisation=norm,
        **overrides,
    )
    return replace(base, training=training)


def prepare_job(
    dataset: Dataset,
    labeled_units: Sequence[str],
    spec: RunSpec,
    out_dir: Path,
    progress: Callable[[int, int], None] | None = None,
    **schedule: Any,
) -> DatasetJob:
    """Build the batch source, validator and job of a dataset run.

    Args:
        dataset: the dataset.
        labeled_units: the labeled patients or cases (``select_labeled``).
        spec: from ``dataset_spec``.
        out_dir: the run folder (MSD cases are cached under ``out_dir/cache``).
        progress: called while the MSD case cache is written.
        **schedule: ``val_every``, ``checkpoint_every``, ``resume``, ``metadata``, ``ranks``
            of the job (a distributed run splits the preset's batch over its ranks).

    Raises:
        InputError: unreadable cases (while the MSD cache is written), a batch that the
            ranks cannot share evenly.
    """
    cfg = spec.training
    assert cfg.input_size is not None
    side, chosen = cfg.input_size, set(labeled_units)
    store: SliceStore
    if isinstance(dataset, SSL4MISDataset):
        store, window = SliceFileStore(dataset, side, FIXED_WINDOW), FIXED_WINDOW
        refs = dataset.training_slices()
        labeled = [r for r in refs if r.patient in chosen]
        unlabeled = [r for r in refs if r.patient not in chosen]
    else:
        cases = dataset.cases("train")
        cache = _case_cache(dataset, chosen, spec, out_dir, progress, schedule.get("ranks"))
        labeled = cache.slices(labeled_units)
        unlabeled = cache.slices([c.case_id for c in cases if c.case_id not in chosen])
        store, window = cache, cache.windows[labeled_units[0]]
    ranks = schedule.get("ranks")
    device = ranks.device if ranks is not None else resolve_device(cfg.device)
    rank, world = (ranks.rank, ranks.world) if ranks is not None else (0, 1)
    n_l, n_u = (n // world for n in _divisible(batch_split(cfg), world))
    sampler = DatasetSampler(store, labeled, unlabeled, n_l, n_u, cfg.seed, device, rank, world)
    validate = None
    if dataset.cases("val") and schedule.get("val_every", 0):
        validate = validator(dataset, spec, window)
    return DatasetJob(
        sampler,
        dataset.label_table,
        spec,
        out_dir,
        window,
        side,
        len(labeled),
        len(unlabeled),
        validate,
        **schedule,
    )


def _case_cache(
    dataset: Dataset,
    chosen: set[str],
    spec: RunSpec,
    out_dir: Path,
    progress: Callable[[int, int], None] | None,
    ranks: Ranks | None,
) -> CaseCacheStore:
    """The MSD case cache: rank 0 writes it while the other ranks wait, then they reuse it."""
    group = Group(ranks)
    cfg = spec.training
    assert cfg.input_size is not None

    def build() -> CaseCacheStore:
        cases = dataset.cases("train")
        folder = out_dir / "cache"
        return CaseCacheStore(
            dataset, cases, chosen, cfg.input_size or 0, cfg.normalisation, folder, progress
        )

    cache = build() if group.main else None
    group.barrier()
    return cache if cache is not None else build()


def _divisible(batch: tuple[int, int], world: int) -> tuple[int, int]:
    if any(n % world for n in batch):
        raise InputError(
            f"The preset's batch ({batch[0]} labeled + {batch[1]} unlabeled) cannot be shared "
            f"evenly by {world} processes; use a process count that divides both."
        )
    return batch


def validator(dataset: Dataset, spec: RunSpec, window: IntensityWindow) -> Validate:
    """Mean Dice (over cases and foreground classes) on the ``val`` split, predicted with the
    published nearest protocol at the training grid."""
    assert spec.training.input_size is not None
    frame = Checkpoint(spec, {}, {}, dataset.label_table, "z", spec.training.input_size, window)

    def validate(net: UGPCLNet) -> float:
        device = next(net.parameters()).device

        def decode(x: torch.Tensor) -> torch.Tensor:
            return net.forward_decoders(x)[0]

        predictor = VolumePredictor(frame, decode=decode, device=device)
        results = score_split(dataset, "val", predictor.predict, distances=False)
        return float(np.mean([r.mean("dice") or 0.0 for r in results]))

    return validate
