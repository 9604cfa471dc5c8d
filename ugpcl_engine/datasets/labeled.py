"""Which training cases are labeled: a count, a fraction or a file of ids (``--labeled``).

Counts and fractions take the first units in the dataset's own order (never sorted): on the
SSL4MIS ACDC lists, whose slices are grouped by patient, 7 patients are the first 136 lines of
``train_slices.list``, as the published protocol. Units are patients for SSL4MIS (both frames of a
patient go together) and cases for MSD. Every other training unit is unlabeled: its labels are
never read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ugpcl_engine.datasets.base import Dataset, read_list
from ugpcl_engine.errors import InputError


@dataclass(frozen=True)
class LabeledChoice:
    """A parsed ``--labeled`` value: exactly one of ``count``, ``fraction`` and ``ids`` is set.

    Attributes:
        text: the value as given.
        count: the first ``count`` units.
        fraction: the first ``round(fraction · units)`` units (at least one).
        ids: these units, whatever their order.
    """

    text: str
    count: int | None = None
    fraction: float | None = None
    ids: tuple[str, ...] | None = None


def parse_labeled(text: str) -> LabeledChoice:
    """Parse ``7``, ``10%`` or the path of a file of ids (one a line).

    Raises:
        InputError: a count below 1, a percentage outside (0, 100], or a missing file.
    """
    value = text.strip()
    if value.isdigit():
        if int(value) < 1:
            raise InputError("--labeled 0 leaves nothing to learn from; give at least 1.")
        return LabeledChoice(text, count=int(value))
    if value.endswith("%"):
        try:
            percent = float(value[:-1])
        except ValueError:
            percent = math.nan
        if not 0 < percent <= 100:
            raise InputError(f"--labeled {text}: give a percentage in (0, 100], e.g. 10%.")
        return LabeledChoice(text, fraction=percent / 100)
    path = Path(value)
    if not path.is_file():
        raise InputError(
            f"--labeled {text} is neither a count (7), a percentage (10%) nor an existing file "
            "of case ids."
        )
    return LabeledChoice(text, ids=tuple(read_list(path)))


def select_labeled(dataset: Dataset, choice: LabeledChoice) -> list[str]:
    """The labeled units, in the dataset's order.

    Args:
        dataset: the dataset.
        choice: the parsed ``--labeled``.

    Returns:
        Patient (SSL4MIS) or case (MSD) ids.

    Raises:
        InputError: more units asked than there are, an id that is not a training unit, an
            MSD case without a label file.
    """
    units = dataset.units()
    if choice.ids is not None:
        unknown = [i for i in choice.ids if i not in set(units)]
        if unknown:
            raise InputError(
                f"{choice.text} names '{unknown[0]}', which is not a training "
                f"{dataset.unit[:-1]} of the dataset (e.g. '{units[0]}'); fix the list."
            )
        picked = [u for u in units if u in set(choice.ids)]
    else:
        count = choice.count
        if choice.fraction is not None:
            count = max(1, math.floor(choice.fraction * len(units) + 0.5))
        assert count is not None
        if count > len(units):
            raise InputError(
                f"--labeled {choice.text} asks for {count} {dataset.unit} but the training "
                f"split has {len(units)}; give at most {len(units)}."
            )
        picked = units[:count]
    _check_have_labels(dataset, picked)
    return picked


def _check_have_labels(dataset: Dataset, picked: list[str]) -> None:
    chosen = set(picked)
    missing = [
        c.case_id for c in dataset.cases("train") if dataset.unit_of(c) in chosen and not c.labels
    ]
    if missing:
        raise InputError(
            f"Case {missing[0]} is chosen as labeled but has no label file; choose labeled "
            "cases with --labeled FILE or add its labels."
        )
