"""Score a checkpoint on a dataset split, one case in memory at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ugpcl_engine.datasets.base import Dataset, check_split
from ugpcl_engine.datasets.scores import CaseResult, score_case, summarise
from ugpcl_engine.errors import InputError

Predict = Callable[..., Any]
"""Raw (Z, Y, X) image → (Z, Y, X) uint8 labels (``VolumePredictor.predict``)."""


def score_split(
    dataset: Dataset,
    split: str,
    predict: Predict,
    distances: bool = True,
    progress: Callable[[int, int, CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Predict and score every case of ``split``.

    Args:
        dataset: the dataset.
        split: ``train``, ``val`` or ``test``.
        predict: the predictor.
        distances: also HD95 and ASD (False: Dice and Jaccard only, for validation).
        progress: called with (cases done, cases, the last case's result).

    Returns:
        One result per case, in the split's order.

    Raises:
        InputError: an empty split, a case without labels, unreadable files.
    """
    cases = dataset.cases(check_split(split))
    if not cases:
        raise InputError(
            f"The {split} split of {dataset.root} is empty; give a split that has cases "
            f"({dataset.layout}: see the dataset's lists)."
        )
    missing = [c.case_id for c in cases if c.labels is None]
    if missing:
        raise InputError(
            f"Case {missing[0]} of the {split} split has no labels to score against; add them "
            "or evaluate another split."
        )
    results = []
    for done, case in enumerate(cases, 1):
        data = dataset.read_case(case)
        assert data.labels_zyx is not None
        pred = predict(data.image_zyx)
        result = score_case(
            case.case_id,
            pred,
            data.labels_zyx,
            dataset.label_table.num_classes,
            data.spacing_zyx,
            data.spacing_known,
            distances,
        )
        results.append(result)
        if progress is not None:
            progress(done, len(cases), result)
    return results


def evaluate_split(dataset: Dataset, split: str, predict: Predict) -> dict[str, Any]:
    """``score_split`` and ``summarise``: the report of ``evaluate-dataset`` (without paths)."""
    results = score_split(dataset, split, predict)
    report = summarise(results, dataset.label_table)
    report.update(split=split, layout=dataset.layout, dataset=str(dataset.root))
    return report
