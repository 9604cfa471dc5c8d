"""Keep refining after a time-budgeted run (Qt-free).

A *budgeted* run puts its first model on screen within the user's budget: the app passes the
budget as ``TrainingConfig.time_budget`` with ``RunRequest.requested_at`` set at the click, so
the child takes the snapshot's writing and its own start-up out of it and keeps a moment for
the GUI to draw the result (``RunRequest.budget_left``).

*Keep refining*: after a budgeted run's model is shown, training goes on in the background as
continuation runs (``Refinement``): each round warm-starts from the best model so far, on the
same label snapshot (same volumes, same held-out slice, so the scores compare) and with the same
budget. A round's model replaces the one shown only when it is better (``is_better``):

- higher held-out Dice (``holdout_dice``) when both runs have one (both hold out the same slice);
- otherwise lower mean uncertainty (``mean_uncertainty``, nats) of the first volume.

Refining ends by itself after ``MAX_ROUNDS`` rounds or after a round that did not improve, and
whenever the user stops or discards a round, edits the labels (the next round would train on a
stale snapshot), starts another run, or a round fails. The best model so far stays shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from app.state.model_version import ModelVersion
from ugpcl_engine import preset

MAX_ROUNDS = 3


def default_budget(preset_name: str) -> int:
    """The preset's own time budget in whole seconds (0: it has none, it runs its steps)."""
    budget = preset(preset_name, 2).training.time_budget
    return 0 if budget is None else round(budget)


def is_better(candidate: Mapping[str, float], best: Mapping[str, float]) -> bool:
    """True when a refinement round's metrics beat the best run's (see the module docstring).

    Args:
        candidate: metrics of the new round.
        best: metrics of the best model so far.

    Returns:
        Higher ``holdout_dice`` when both have it, else lower ``mean_uncertainty``; False when
        neither can be compared.
    """
    if "holdout_dice" in candidate and "holdout_dice" in best:
        return candidate["holdout_dice"] > best["holdout_dice"]
    if "mean_uncertainty" in candidate and "mean_uncertainty" in best:
        return candidate["mean_uncertainty"] < best["mean_uncertainty"]
    return False


def score_text(metrics: Mapping[str, float], other: Mapping[str, float]) -> str:
    """The number ``is_better`` compares, in words (e.g. ``held-out Dice 0.81``)."""
    if "holdout_dice" in metrics and "holdout_dice" in other:
        return f"held-out Dice {metrics['holdout_dice']:.3f}"
    if "mean_uncertainty" in metrics:
        return f"mean uncertainty {metrics['mean_uncertainty']:.4f} nats"
    return "no score"


@dataclass(frozen=True)
class RefineSettings:
    """What every round of one refinement repeats.

    Attributes:
        preset: preset name.
        device: ``auto``, ``cpu`` or ``cuda``.
        budget_s: the time budget of every round in seconds (None: none, the preset's steps).
        volumes: document volumes of the snapshot, in run-folder order.
        label_hash: hash of the label snapshot (``training_runs.run_hash``).
        holdout_slice: the held-out slice of the first run, kept for every round.
    """

    preset: str
    device: str
    budget_s: float | None
    volumes: tuple[int, ...]
    label_hash: str
    holdout_slice: int | None


@dataclass(frozen=True)
class Round:
    """One continuation run to start.

    Attributes:
        number: 1 .. ``max_rounds``.
        init: checkpoint of the best model so far (the warm start).
        settings: what it repeats of the first run.
    """

    number: int
    init: Path
    settings: RefineSettings


@dataclass(frozen=True)
class Verdict:
    """What a finished round decided.

    Attributes:
        improved: its model replaces the one shown.
        more: another round follows.
        text: the status line.
    """

    improved: bool
    more: bool
    text: str


class Refinement:
    """The keep-refining state machine of one document.

    ``begin`` (after the first model is shown) -> ``next_round`` -> the round runs ->
    ``judge`` -> ``next_round`` … until a verdict says no more or ``stop`` ends it.

    Args:
        max_rounds: rounds at most.

    Attributes:
        best: the best model so far (the one shown), or None before ``begin``.
        settings: of the refinement going on, or None.
        rounds_started: rounds started since ``begin``.
        in_round: a round is running (its result will be judged, even after ``stop``).
        reason: why refining ended ("" while it goes on or before it began).
    """

    def __init__(self, max_rounds: int = MAX_ROUNDS) -> None:
        if max_rounds < 1:
            raise ValueError(f"max_rounds must be >= 1, got {max_rounds}")
        self.max_rounds = max_rounds
        self.best: ModelVersion | None = None
        self.settings: RefineSettings | None = None
        self.rounds_started = 0
        self.in_round = False
        self.reason = ""
        self._active = False

    @property
    def active(self) -> bool:
        """True from ``begin`` until refining ended (a round may still be running after)."""
        return self._active

    def begin(self, base: ModelVersion, settings: RefineSettings) -> None:
        """Start refining the model just shown."""
        self.best, self.settings = base, settings
        self.rounds_started, self.in_round = 0, False
        self.reason, self._active = "", True

    def next_round(self) -> Round | None:
        """The next round to start (and mark it running), or None when refining is over."""
        if not self._active or self.best is None or self.settings is None or self.in_round:
            return None
        if self.rounds_started >= self.max_rounds:
            self._end(f"Refining done after {self.rounds_started} rounds.")
            return None
        self.rounds_started += 1
        self.in_round = True
        return Round(self.rounds_started, self.best.checkpoint, self.settings)

    def judge(self, candidate: ModelVersion) -> Verdict:
        """Decide on a finished round: does its model replace the best, does refining go on?

        Raises:
            RuntimeError: no round was running.
        """
        if not self.in_round or self.best is None:
            raise RuntimeError("no refinement round is running")
        self.in_round = False
        best = self.best
        improved = is_better(candidate.metrics, best.metrics)
        ours, theirs = (
            score_text(candidate.metrics, best.metrics),
            score_text(best.metrics, candidate.metrics),
        )
        round_name = f"Refinement round {self.rounds_started}"
        if improved:
            self.best = candidate
            text = f"{round_name}: v{candidate.number} is better ({ours}, was {theirs}); shown."
        else:
            text = (
                f"{round_name}: v{candidate.number} is not better ({ours}, v{best.number} has "
                f"{theirs}); v{best.number} stays shown."
            )
        if not self._active:
            return Verdict(improved, False, f"{text} {self.reason}")
        if not improved:
            self._end("Refining stopped: the last round did not improve.")
            return Verdict(False, False, f"{text} {self.reason}")
        if self.rounds_started >= self.max_rounds:
            self._end(f"Refining done after {self.rounds_started} rounds.")
            return Verdict(True, False, f"{text} {self.reason}")
        return Verdict(True, True, f"{text} Refining goes on in the background…")

    def stop(self, reason: str) -> bool:
        """End refining (a running round is still judged); return False when none was going."""
        if not self._active:
            return False
        self._end(reason)
        return True

    def abandon_round(self) -> None:
        """The running round ended without a model (discarded or failed)."""
        self.in_round = False

    def _end(self, reason: str) -> None:
        self._active = False
        self.reason = reason
