"""Fill between slices in the engine (``ugpcl_engine.interpolation``): ITK contour interpolation
in a child process, its cancel and its message when ITK is missing.

One real ITK run here (the growing disc along z); the x-axis twin is slow. The cancel and the
missing-ITK tests run a stand-in worker script instead of ITK.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ugpcl_engine import interpolate_labels
from ugpcl_engine import interpolation as mci
from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.metrics import dice_jaccard, slice_dice


def _growing_disc(radii: list[float], size: int = 48) -> np.ndarray:
    """A cone: slice z holds a disc of radius ``radii[z]`` (label 1)."""
    y, x = np.indices((size, size))
    dist = np.hypot(y - size / 2, x - size / 2)
    return np.stack([(dist <= r).astype(np.uint8) for r in radii])


def _check_cone(filled: np.ndarray, truth: np.ndarray) -> None:
    assert filled.dtype == np.uint8 and filled.shape == truth.shape
    assert np.array_equal(filled[[0, 10]], truth[[0, 10]])
    assert set(np.unique(filled)) == {0, 1}
    dice, _ = dice_jaccard(filled[5] == 1, truth[5] == 1)
    assert dice > 0.88  # measured 0.909: morphological, not linear, interpolation of the radius
    radius = np.sqrt((filled[5] == 1).sum() / np.pi)
    assert radius == pytest.approx(12.0, abs=1.5)  # true radius 6 + 1.2 * 5 = 12 px
    areas = (filled == 1).sum(axis=(1, 2))
    assert np.all(np.diff(areas) > 0)  # grows monotonically between the two discs


def _cone() -> tuple[np.ndarray, np.ndarray]:
    truth = _growing_disc([6 + 1.2 * z for z in range(11)])
    given = truth.copy()
    given[1:10] = 7  # garbage on slices that are not labeled: must be ignored
    return truth, given


def test_growing_disc_middle_slice_is_close_to_truth() -> None:
    truth, given = _cone()
    polls: list[int] = []
    filled = interpolate_labels(given, [0, 10], cancelled=lambda: polls.append(1) is not None)
    _check_cone(filled, truth)
    assert polls  # the cancel check was polled while the child ran


@pytest.mark.slow
def test_growing_disc_along_x_is_the_same() -> None:
    truth, given = _cone()
    along_x = interpolate_labels(np.moveaxis(given, 0, 2), [0, 10], axis="x")
    _check_cone(np.moveaxis(along_x, 2, 0), truth)


def test_interpolation_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    labels = _growing_disc([5, 6, 7])
    with pytest.raises(InputError, match="outside the volume"):
        interpolate_labels(labels, [0, 3])
    with pytest.raises(InputError, match="No labeled slice"):
        interpolate_labels(labels, [])
    assert not interpolate_labels(np.zeros_like(labels), [0, 2]).any()
    monkeypatch.setattr(mci.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="pip install itk-morphologicalcontourinterpolation"):
        interpolate_labels(labels, [0, 2])


def _fake_worker(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "worker.py"
    script.write_text(f"import os, sys, time\n{body}\n", encoding="utf-8")
    return script


def test_a_worker_without_itk_gives_the_install_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ITK found by name but not importable in the child (exit code 3): the same message."""
    monkeypatch.setattr(mci, "_WORKER", _fake_worker(tmp_path, "sys.exit(3)"))
    monkeypatch.setattr(mci, "itk_interpolation_available", lambda: True)
    with pytest.raises(InputError, match=r"not installed\..*pip install itk-morph"):
        interpolate_labels(_growing_disc([5, 6, 7]), [0, 2])


def test_cancel_kills_the_child_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid_file = tmp_path / "pid"
    body = f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\ntime.sleep(60)"
    monkeypatch.setattr(mci, "_WORKER", _fake_worker(tmp_path, body))
    monkeypatch.setattr(mci, "itk_interpolation_available", lambda: True)
    folders: list[str] = []
    real_tempdir = mci.tempfile.TemporaryDirectory

    def tempdir(**kwargs: str) -> object:
        made = real_tempdir(**kwargs)
        folders.append(made.name)
        return made

    monkeypatch.setattr(mci.tempfile, "TemporaryDirectory", tempdir)
    with pytest.raises(CancelledError):
        interpolate_labels(_growing_disc([5, 6, 7]), [0, 2], cancelled=pid_file.exists)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed and reaped: no such process any more
        os.kill(pid, 0)
    assert folders and not Path(folders[0]).exists()  # the temporary files went with it


def test_a_crashing_worker_is_retried_then_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = tmp_path / "count"
    body = (
        f"open({str(count)!r}, 'a').write('x')\n"
        "print('heap corrupted', file=sys.stderr)\nos.abort()"
    )
    monkeypatch.setattr(mci, "_WORKER", _fake_worker(tmp_path, body))
    monkeypatch.setattr(mci, "itk_interpolation_available", lambda: True)
    with pytest.raises(RuntimeError, match="failed 3 times: heap corrupted"):
        interpolate_labels(_growing_disc([5, 6, 7]), [0, 2])
    assert count.read_text() == "xxx"


def test_slice_dice_is_the_mean_over_classes_of_either_slice() -> None:
    ref = np.zeros((3, 4, 4), np.uint8)
    pred = ref.copy()
    assert slice_dice(pred, ref, "z", 1) == 1.0  # both empty
    ref[1, :2, :2] = 1  # 4 voxels
    pred[1, :2, :1] = 1  # 2 of them
    pred[1, 3, 3] = 2  # a class only the prediction has: Dice 0
    assert slice_dice(pred, ref, "z", 1) == pytest.approx((2 * 2 / 6 + 0.0) / 2)
    assert slice_dice(np.moveaxis(pred, 0, 2), np.moveaxis(ref, 0, 2), "x", 1) == pytest.approx(
        (2 * 2 / 6) / 2
    )


def test_a_frozen_build_starts_the_worker_through_its_own_executable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a PyInstaller build ``sys.executable`` is the app: the ITK child is the app started
    with ``--mci-worker``, which ``packaging/entry.py`` hands to the worker (run here through
    the entry script, as the frozen executable runs it)."""
    import subprocess
    import sys

    assert mci.worker_command() == [sys.executable, str(mci._WORKER)]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert mci.worker_command() == [sys.executable, mci.FROZEN_WORKER_FLAG]
    monkeypatch.delattr(sys, "frozen")
    truth, _ = _cone()
    sparse = np.zeros_like(truth)
    sparse[[0, 10]] = truth[[0, 10]]
    np.save(tmp_path / "in.npy", sparse)
    root = Path(__file__).parents[2]
    args = [str(tmp_path / "in.npy"), str(tmp_path / "out.npy"), "2", "0,10", "1"]
    done = subprocess.run(
        [sys.executable, str(root / "packaging" / "entry.py"), mci.FROZEN_WORKER_FLAG, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(root)},  # the frozen build bundles the packages
    )
    assert done.returncode == 0, done.stderr
    _check_cone(np.load(tmp_path / "out.npy"), truth)
