"""What one training run should do, besides the arrays: ``RunRequest`` (``request.json`` of a
run folder, see ``run_folder``) and the child's default thread count (torch-free).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ugpcl_engine.config import RunSpec
from ugpcl_engine.volume import LabelTable

HANDBACK_SECONDS = 1.5
"""Seconds of a budget kept for the GUI to load the prediction and draw it (1 mm brain)."""


@dataclass(frozen=True)
class RunRequest:
    """What one training run should do, besides the arrays.

    Attributes:
        spec: model and training configuration.
        label_table: the classes of the labels.
        axis: slicing axis.
        modality: ``"CT"``, ``"MR"`` or ``"unknown"``.
        init: checkpoint to warm-start from, or None.
        preview_slice: slice (along ``axis``) previewed first; the GUI may move it while the
            run goes on (see ``run_folder.launch_child``).
        holdout_slice: a labeled slice left out of training and scored at the end, or None.
        threads: torch CPU threads of the child (None = all but one core).
        nice: niceness increment of the child, so the GUI wins the CPU when both want it.
        volume_count: volumes in the snapshot (the first one is previewed and held out from).
        modalities: modality of every volume when they differ (empty: each is ``modality``).
        requested_at: wall-clock time (``time.time()``) the user asked for the run: a time
            budget in ``spec`` counts from then, so the child's start-up and the snapshot's
            writing come out of it (``budget_left``). ``None``: from the trainer's start.

    Raises:
        ValueError: ``volume_count`` < 1, or ``modalities`` of another length.
    """

    spec: RunSpec
    label_table: LabelTable
    axis: str = "z"
    modality: str = "unknown"
    init: str | None = None
    preview_slice: int | None = None
    holdout_slice: int | None = None
    threads: int | None = None
    nice: int = 5
    volume_count: int = 1
    modalities: tuple[str, ...] = ()
    requested_at: float | None = None

    def __post_init__(self) -> None:
        if self.volume_count < 1:
            raise ValueError(f"a run needs at least one volume, got {self.volume_count}")
        if self.modalities and len(self.modalities) != self.volume_count:
            raise ValueError(
                f"{len(self.modalities)} modalities given for {self.volume_count} volumes"
            )

    def modality_of(self, index: int) -> str:
        """Modality of volume ``index`` of the snapshot."""
        return self.modalities[index] if self.modalities else self.modality

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form."""
        return {
            "spec": self.spec.to_dict(),
            "label_table": self.label_table.to_records(),
            "axis": self.axis,
            "modality": self.modality,
            "init": self.init,
            "preview_slice": self.preview_slice,
            "holdout_slice": self.holdout_slice,
            "threads": self.threads,
            "nice": self.nice,
            "volume_count": self.volume_count,
            "modalities": list(self.modalities),
            "requested_at": self.requested_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRequest:
        """Inverse of ``to_dict``."""
        table = LabelTable.from_records(data["label_table"])
        return cls(
            RunSpec.from_dict(data["spec"]),
            table,
            str(data["axis"]),
            str(data["modality"]),
            data.get("init"),
            data.get("preview_slice"),
            data.get("holdout_slice"),
            data.get("threads"),
            int(data.get("nice", 5)),
            int(data.get("volume_count", 1)),  # folders written before several volumes: one
            tuple(str(m) for m in data.get("modalities", ())),
            _optional_float(data.get("requested_at")),
        )

    def budget_left(self, now: float, reserve: float = HANDBACK_SECONDS) -> float | None:
        """The trainer's share of the time budget at wall-clock ``now``.

        Args:
            now: ``time.time()`` in the child, just before training.
            reserve: seconds kept for handing the result back and drawing it.

        Returns:
            ``None`` without a budget; else what is left of it (at least 1 s, so that a late
            start still trains a little and shows a model).
        """
        budget = self.spec.training.time_budget
        if budget is None:
            return None
        spent = 0.0 if self.requested_at is None else max(0.0, now - self.requested_at)
        return max(1.0, budget - spent - reserve)


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def default_threads() -> int:
    """Torch threads for the child: every core.

    ARCHITECTURE.md leaves one core to the GUI; measured on 2 cores, the niced child (see
    ``RunRequest.nice``) with both threads keeps the GUI's event-loop p99 at 7 ms (4 ms with one
    thread; target 50 ms) and brings the first model from 114 s to 80 s.
    """
    return max(1, os.cpu_count() or 1)
