"""Project-file fuzz for the ``reliability`` benchmark: damage a saved project, classify the load.

Each trial copies a saved ``.ugpcl`` file, damages the copy (``flip_bytes``: K random bytes each
XOR-ed with a random non-zero value; or ``truncate``: cut at a random length) and opens it with
``load_project``. The outcome is one of:

- ``identical``: it loaded and holds exactly what the original holds (the damage hit unused bytes);
- ``refused``: ``InputError`` (one clear line for the user), the wanted result for damage;
- ``silent_corruption``: it loaded but something differs (an array, a geometry, a record): must
  never happen;
- ``crash``: any other exception, or (``isolate=True``) the loading process died (a segfault in
  the HDF5 library);
- ``hang``: (``isolate=True`` only) no answer within ``timeout_s``.

``isolate=True`` loads in a spawned worker process, restarted after a crash or a hang, so that a
hard crash is counted instead of ending the benchmark; ``isolate=False`` loads in this process
(fast; for tests). ``python -m ugpcl_benchmarks.reliability_fuzz --trials 300`` prints a
summary of a fuzz of a small synthetic project.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.project_file import Project, ProjectVolume, load_project, save_project
from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

OUTCOMES = ("identical", "refused", "silent_corruption", "crash", "hang")
Loader = Callable[[Path], Project]


@dataclass
class FuzzReport:
    """Counts of a fuzz run.

    Attributes:
        counts: outcome (see ``OUTCOMES``) -> number of trials.
        examples: ``(trial, mutation, outcome, message)`` of every silent corruption, crash and
            hang, and of the first refusals (to read the messages users would see).
    """

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[tuple[int, str, str, str]] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        """Return the benchmark keys: ``silent_corruptions``, ``crashes``, ``hangs``, counts."""
        return {
            "fuzz_tried": float(sum(self.counts.values())),
            "fuzz_identical": float(self.counts["identical"]),
            "fuzz_refused": float(self.counts["refused"]),
            "silent_corruptions": float(self.counts["silent_corruption"]),
            "crashes": float(self.counts["crash"]),
            "hangs": float(self.counts["hang"]),
        }


def flip_bytes(data: bytes, count: int, rng: np.random.Generator) -> tuple[bytes, str]:
    """XOR ``count`` distinct random bytes of ``data`` with random non-zero values.

    Returns:
        The damaged bytes and a description (``"flip @offset^value ..."``).
    """
    damaged = bytearray(data)
    offsets = rng.choice(len(data), size=min(count, len(data)), replace=False)
    masks = rng.integers(1, 256, size=len(offsets))
    for offset, mask in zip(offsets.tolist(), masks.tolist(), strict=True):
        damaged[offset] ^= mask
    return bytes(damaged), "flip " + " ".join(
        f"@{o}^{m}" for o, m in zip(offsets.tolist(), masks.tolist(), strict=True)
    )


def truncate(data: bytes, rng: np.random.Generator) -> tuple[bytes, str]:
    """Cut ``data`` at a random length in ``0 .. len(data) - 1``; returns it and a description."""
    length = int(rng.integers(0, len(data)))
    return data[:length], f"truncate to {length} of {len(data)} bytes"


def projects_equal(a: Project, b: Project) -> bool:
    """Return True when two projects hold the same content (arrays, dtypes, geometry, records)."""
    if a.runs != b.runs or a.models != b.models or len(a.volumes) != len(b.volumes):
        return False
    return all(_volumes_equal(x, y) for x, y in zip(a.volumes, b.volumes, strict=True))


def _volumes_equal(a: ProjectVolume, b: ProjectVolume) -> bool:
    same_meta = (
        a.volume.geometry == b.volume.geometry
        and (a.volume.name, a.volume.modality, a.source_path)
        == (b.volume.name, b.volume.modality, b.source_path)
        and a.labels.table == b.labels.table
        and a.labeled_slices.keys() == b.labeled_slices.keys()
        and a.predictions.keys() == b.predictions.keys()
        and a.uncertainty.keys() == b.uncertainty.keys()
    )
    if not same_meta:
        return False
    pairs = [(a.volume.image_zyx, b.volume.image_zyx), (a.labels.labels_zyx, b.labels.labels_zyx)]
    pairs += [(a.labeled_slices[k], b.labeled_slices[k]) for k in a.labeled_slices]
    pairs += [(a.predictions[k], b.predictions[k]) for k in a.predictions]
    pairs += [(a.uncertainty[k], b.uncertainty[k]) for k in a.uncertainty]
    return all(_arrays_equal(x, y) for x, y in pairs)


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    nan_ok = a.dtype.kind == "f" and b.dtype.kind == "f"
    return a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=nan_ok))


def classify_load(path: Path, reference: Project, loader: Loader = load_project) -> tuple[str, str]:
    """Open ``path`` with ``loader`` and classify the result against ``reference``.

    Returns:
        ``(outcome, message)``: outcome ``identical``, ``refused``, ``silent_corruption`` or
        ``crash``; the message of the error, if any.
    """
    try:
        loaded = loader(path)
    except InputError as err:
        return "refused", str(err)
    except Exception as err:  # the point: anything else is a crash to count
        return "crash", f"{type(err).__name__}: {err}"
    if projects_equal(loaded, reference):
        return "identical", ""
    return "silent_corruption", "loaded with different content"


def fuzz_project_file(
    path: str | Path,
    trials: int = 100,
    flips: int = 1,
    truncate_every: int = 5,
    seed: int = 0,
    isolate: bool = False,
    timeout_s: float = 60.0,
    loader: Loader = load_project,
) -> FuzzReport:
    """Damage copies of a saved project ``trials`` times and classify each load.

    Args:
        path: a project file that loads (the reference content).
        trials: number of damaged copies.
        flips: bytes flipped per flip trial.
        truncate_every: every n-th trial truncates instead of flipping (0: never).
        seed: random seed (the same seed damages the same bytes).
        isolate: load in a worker process (counts segfaults as crashes, and hangs).
        timeout_s: with ``isolate``, a load taking longer is a hang.
        loader: what opens a file (in this process; the isolated worker always uses
            ``load_project``), e.g. an older reader to compare with.

    Returns:
        The counts and examples.
    """
    path = Path(path)
    original = path.read_bytes()
    reference = loader(path)
    rng = np.random.default_rng(seed)
    report = FuzzReport()
    with tempfile.TemporaryDirectory(prefix="ugpcl-fuzz-") as tmp:
        target = Path(tmp) / "fuzzed.ugpcl"
        shutil.copyfile(path, Path(tmp) / "reference.ugpcl")
        runner = _Isolated(Path(tmp) / "reference.ugpcl", timeout_s) if isolate else None
        try:
            for trial in range(trials):
                cut = truncate_every > 0 and trial % truncate_every == truncate_every - 1
                damaged, what = truncate(original, rng) if cut else flip_bytes(original, flips, rng)
                target.write_bytes(damaged)
                outcome, message = (
                    runner.classify(target) if runner else classify_load(target, reference, loader)
                )
                _record(report, trial, what, outcome, message)
        finally:
            if runner:
                runner.close()
    return report


def _record(report: FuzzReport, trial: int, what: str, outcome: str, message: str) -> None:
    report.counts[outcome] += 1
    if outcome != "identical" and (outcome != "refused" or report.counts["refused"] <= 5):
        report.examples.append((trial, what, outcome, message))


def _worker(reference_path: str, conn: Connection) -> None:
    reference = load_project(reference_path)
    while True:
        target = conn.recv()
        if target is None:
            return
        conn.send(classify_load(Path(target), reference))


class _Isolated:
    """A spawned worker that classifies loads; restarted after it dies or hangs."""

    def __init__(self, reference: Path, timeout_s: float) -> None:
        self._reference, self._timeout_s = reference, timeout_s
        self._context = multiprocessing.get_context("spawn")
        self._start()

    def _start(self) -> None:
        self._conn, child = self._context.Pipe()
        self._process: Any = self._context.Process(
            target=_worker, args=(str(self._reference), child), daemon=True
        )
        self._process.start()
        child.close()

    def classify(self, target: Path) -> tuple[str, str]:
        self._conn.send(str(target))
        if self._conn.poll(self._timeout_s):
            try:
                outcome: tuple[str, str] = self._conn.recv()
                return outcome
            except EOFError:
                pass
        hung = self._process.is_alive()
        self.close()
        code = self._process.exitcode
        self._start()
        if hung:
            return "hang", f"no answer within {self._timeout_s} s"
        return "crash", f"the loading process died (exit code {code})"

    def close(self) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()


def make_fuzz_project(shape_zyx: tuple[int, int, int] = (8, 24, 20), seed: int = 0) -> Project:
    """Build a small project holding every kind of content a project file stores.

    Args:
        shape_zyx: the volume's grid (kept small: the fuzz is about the file's structure).
        seed: random seed of the arrays.

    Returns:
        One volume with an int16 image, labels, slice marks on two axes, a prediction, a
        float16 uncertainty, a run record and a model record.
    """
    rng = np.random.default_rng(seed)
    geometry = VolumeGeometry(shape_zyx, (2.5, 0.7, 0.8), (-10.5, 20.25, 3.0))
    marks = {"z": np.zeros(shape_zyx[0], bool), "y": np.zeros(shape_zyx[1], bool)}
    marks["z"][1] = marks["y"][3] = True
    volume = ProjectVolume(
        volume=Volume(rng.integers(-1000, 1500, shape_zyx).astype(np.int16), geometry, "ct", "CT"),
        labels=LabelMap(
            rng.integers(0, 3, shape_zyx).astype(np.uint8), geometry, LabelTable.default(3)
        ),
        labeled_slices=marks,
        source_path="/data/ct.nii.gz",
        predictions={"run-1/v1": rng.integers(0, 3, shape_zyx).astype(np.uint8)},
        uncertainty={"run-1/v1": rng.random(shape_zyx).astype(np.float16)},
    )
    return Project(
        volumes=[volume],
        runs=[{"version": "run-1/v1", "metrics": {"dice": 0.8}}],
        models=[{"version": "run-1/v1", "path": "models/v1.onnx", "sha256": "ab" * 32}],
    )


def main(argv: list[str] | None = None) -> int:
    """Fuzz a small synthetic project and print the counts (``--trials``, ``--flips``, ...)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--flips", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--isolate", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ugpcl-fuzz-src-") as tmp:
        path = Path(tmp) / "project.ugpcl"
        save_project(path, make_fuzz_project(seed=args.seed))
        report = fuzz_project_file(
            path, args.trials, args.flips, seed=args.seed, isolate=args.isolate
        )
    print(report.summary())
    for example in report.examples:
        print(*example, sep=" | ")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
