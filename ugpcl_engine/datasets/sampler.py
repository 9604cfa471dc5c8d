"""Batches drawn lazily from a dataset: shuffled epochs of slice references, read per batch.

Only the batch's slices are read (from their slice files, or from the case cache's memory maps),
so a cohort never sits in memory. The epochs are drawn with a CPU ``torch.Generator``; its
state and the position in the current epochs are the sampler's ``state_dict``, so a resumed run
draws the very batches the uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import torch

from ugpcl_engine.datasets.base import SliceRef
from ugpcl_engine.errors import InputError

SEED_OFFSET = 0x5EED_DA7A
"""Added to the run's seed: the sampler's generator does not replay the augmentation's."""


class SliceStore(Protocol):
    """Reads one training slice on the network's S×S grid."""

    def load(self, ref: SliceRef, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(S×S float32 normalised image, S×S uint8 labels or None)."""
        ...


class _Epochs:
    """Consecutive shuffled epochs of ``range(population)``, read in order."""

    def __init__(self, population: int, generator: torch.Generator) -> None:
        self.population = population
        self.generator = generator
        self.order = torch.empty(0, dtype=torch.long)
        self.pos = 0

    def take(self, count: int) -> list[int]:
        out: list[int] = []
        while len(out) < count:
            if self.pos == len(self.order):
                self.order = torch.randperm(self.population, generator=self.generator)
                self.pos = 0
            n = min(count - len(out), self.population - self.pos)
            out.extend(int(i) for i in self.order[self.pos : self.pos + n])
            self.pos += n
        return out


class DatasetSampler:
    """Draws ``n_labeled`` labeled and ``n_unlabeled`` unlabeled slices per batch.

    Args:
        store: reads slices.
        labeled: the labeled slices (labels read).
        unlabeled: the unlabeled slices (labels never read); empty: labeled images stand in.
        n_labeled, n_unlabeled: images per batch of each stream.
        seed: the run's seed (the same on every rank: all ranks draw the same epochs).
        device: where the batches go.
        rank, world: in a distributed run, each draw takes ``world`` times the batch from the
            epoch and this rank keeps its own ``rank``-th share, so no two ranks see the same
            slice in a step.

    Raises:
        ValueError: no labeled slice.
    """

    def __init__(
        self,
        store: SliceStore,
        labeled: Sequence[SliceRef],
        unlabeled: Sequence[SliceRef],
        n_labeled: int,
        n_unlabeled: int,
        seed: int,
        device: torch.device,
        rank: int = 0,
        world: int = 1,
    ) -> None:
        if not labeled:
            raise ValueError("a dataset sampler needs labeled slices")
        self.store = store
        self.labeled = list(labeled)
        self.unlabeled = list(unlabeled) or list(labeled)
        self.n_labeled, self.n_unlabeled = n_labeled, n_unlabeled
        self.device = device
        self.rank, self.world = rank, world
        self._generator = torch.Generator().manual_seed(seed + SEED_OFFSET)
        self._epochs = {
            "l": _Epochs(len(self.labeled), self._generator),
            "u": _Epochs(len(self.unlabeled), self._generator),
        }

    def next(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return (labeled (Bl,1,S,S), targets (Bl,S,S) int64, unlabeled (Bu,1,S,S))."""
        picked_l = self._share(self._epochs["l"].take(self.n_labeled * self.world))
        picked_u = self._share(self._epochs["u"].take(self.n_unlabeled * self.world))
        lab = [self.store.load(self.labeled[i], True) for i in picked_l]
        unl = [self.store.load(self.unlabeled[i], False)[0] for i in picked_u]
        x_l = torch.from_numpy(np.stack([img for img, _ in lab]))[:, None]
        y_l = torch.from_numpy(
            np.stack([lbl for _, lbl in lab if lbl is not None]).astype(np.int64)
        )
        side = x_l.shape[-1]
        x_u = (
            torch.from_numpy(np.stack(unl))[:, None]
            if unl
            else torch.zeros((0, 1, side, side), dtype=torch.float32)
        )
        return x_l.to(self.device), y_l.to(self.device), x_u.to(self.device)

    def _share(self, drawn: list[int]) -> list[int]:
        size = len(drawn) // self.world
        return drawn[self.rank * size : (self.rank + 1) * size]

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and the position in both streams' epochs."""
        return {
            "generator": self._generator.get_state(),
            "epochs": {k: {"order": e.order, "pos": e.pos} for k, e in self._epochs.items()},
            "sizes": [len(self.labeled), len(self.unlabeled)],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a saved position.

        Raises:
            InputError: a state saved for other slice lists (another dataset or --labeled).
        """
        saved, now = list(state["sizes"]), [len(self.labeled), len(self.unlabeled)]
        if saved != now:
            raise InputError(
                f"The run to resume drew from {saved[0]} labeled and {saved[1]} unlabeled "
                f"slices, this one from {now[0]} and {now[1]}; resume with the same --data and "
                "--labeled, or start a new run in another --out."
            )
        self._generator.set_state(state["generator"])
        for key, saved in state["epochs"].items():
            self._epochs[key].order = saved["order"]
            self._epochs[key].pos = int(saved["pos"])
