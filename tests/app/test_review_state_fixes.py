"""Fixes from the review of the state and assist code added with issue 16 (label table
operations, fill between slices, the training axis)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document, open_assist

from app.assist.review import CHECK_THRESHOLD
from app.state.prediction_edits import label_check


def test_the_label_check_follows_a_new_training_axis(
    window, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The label check counts every voxel of a slice marked along the training axis as the
    user's; after choosing another axis it must be the check along that axis (and its summary
    must name slices along it), not the old axis's left on screen."""
    doc = box_document((2, 5))
    doc.item.labeled["y"][[20]] = True  # a coronal slice marked too (its background counts)
    assist = open_assist(window, tmp_path / "runs", monkeypatch, doc, False)
    try:
        image = doc.item.volume.image_zyx
        prediction = (image > 0).astype(np.uint8)
        entropy = np.zeros(image.shape, np.float32)
        doc.store_prediction(0, "m1", prediction, entropy)
        summaries: list[str] = []
        assist.loop.review.check_summary.connect(summaries.append)
        assist.loop.review.set_label_check(True)
        assert assist.loop.set_training_axis("y")
        labels = doc.labels_zyx
        expected = label_check(
            labels, doc.item.labeled["y"], prediction, entropy, "y", CHECK_THRESHOLD
        )
        mask = assist.loop.layers.check_zyx
        assert mask is not None and np.array_equal(mask, expected)
        slices = np.flatnonzero(expected.any(axis=(0, 2)))
        assert summaries[-1].endswith(", ".join(str(i) for i in slices[:8]))
    finally:
        assist.supervisor.shutdown(2)
