"""The helpers of ``app.benchmarks.screenshots`` (the run itself needs a trained model: manual)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.benchmarks.dicom_demo import DEMO_SERIES, write_demo_tree
from ugpcl_engine import scan_dicom_folder


def test_demo_tree_is_found_as_its_series(tmp_path: Path) -> None:
    image = np.arange(34 * 16 * 16, dtype=np.int16).reshape(34, 16, 16)
    folders = write_demo_tree(tmp_path, image)
    assert [f.relative_to(tmp_path).as_posix() for f in folders] == [s.folder for s in DEMO_SERIES]
    scan = scan_dicom_folder(tmp_path)
    found = {e.series_description: e for e in scan.series}
    assert set(found) == {s.description for s in DEMO_SERIES}
    for series in DEMO_SERIES:
        entry = found[series.description]
        assert entry.slices == len(range(0, 34, series.step))
        assert entry.patient_id == series.patient_id and entry.modality == "CT"
    # the two series of one patient's study share it; the other patient has their own
    studies = {e.series_description: e.study_uid for e in scan.series}
    assert studies["Chest 10 mm"] == studies["Scout"] != studies["Thorax low dose"]
