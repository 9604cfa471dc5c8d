"""The label check follows marking and unmarking a slice along the training axis (M /
Shift+M, undo of a mark): the user's paint is every voxel of a marked slice, so its red
overlay and its summary line change with the mark, not only at the next stroke."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from training_fakes import box_document

from app.assist.loop import AssistLoop
from app.assist.review import CHECK_THRESHOLD
from app.jobs.tasks import TaskRunner
from app.jobs.training_supervisor import TrainingSupervisor
from app.state.prediction_edits import label_check
from app.state.workspace import Workspace


def test_marking_and_unmarking_a_slice_refreshes_the_label_check(qapp, tmp_path: Path) -> None:
    doc = box_document((2, 5))
    ws = Workspace()
    loop = AssistLoop(ws, TaskRunner(), TrainingSupervisor(), tmp_path / "runs")
    try:
        ws.set_document(doc)
        assert loop.session.axis == "z"
        image = doc.item.volume.image_zyx
        prediction = (image > 0).astype(np.uint8)  # the box on every slice, painted on 2 and 5
        entropy = np.zeros(image.shape, np.float32)
        doc.store_prediction(0, "m1", prediction, entropy)
        summaries: list[str] = []
        loop.review.check_summary.connect(summaries.append)
        loop.review.set_label_check(True)
        assert ws.editor is not None

        def expected() -> np.ndarray:
            marks = doc.item.labeled["z"]
            return label_check(doc.labels_zyx, marks, prediction, entropy, "z", CHECK_THRESHOLD)

        mask = loop.layers.check_zyx
        assert mask is not None and not mask.any(), "the painted slices agree with the model"
        assert summaries[-1].startswith("0 voxels")

        # marking an unpainted slice: its background is the user's "nothing here" now
        ws.editor.set_mark("z", 8, True)
        mask = loop.layers.check_zyx
        assert mask is not None and np.array_equal(mask, expected())
        assert mask[8].any() and not np.delete(mask, 8, axis=0).any()
        assert summaries[-1] == f"{int(mask.sum())} voxels on 1 slice(s) disagree confidently: 8"

        # unmarking it (and its undo / redo) takes it out again
        ws.editor.set_mark("z", 8, False)
        mask = loop.layers.check_zyx
        assert mask is not None and not mask.any() and summaries[-1].startswith("0 voxels")
        assert ws.editor.undo()
        mask = loop.layers.check_zyx
        assert mask is not None and np.array_equal(mask, expected()) and mask[8].any()
        assert summaries[-1].endswith(": 8")

        # a mark along another axis is not the training axis's paint: nothing changes
        count = len(summaries)
        ws.editor.set_mark("y", 3, True)
        assert len(summaries) == count
        mask = loop.layers.check_zyx
        assert mask is not None and np.array_equal(mask, expected())

        # with the check off, a mark computes nothing
        loop.review.set_label_check(False)
        count = len(summaries)
        ws.editor.set_mark("z", 9, True)
        assert loop.layers.check_zyx is None and len(summaries) == count
    finally:
        ws.keeper.close()
