"""``ugpcl-studio benchmark reliability``: try to break the app as an unlucky user would.

Three parts, each counting what went wrong against what was tried (issue 14):

1. **Kills while painting** (``app.benchmarks.paint_session``): a painting session in a child
   process (the state layer the GUI drives: strokes, slice marks, a label-table edit and a
   background save every 15 strokes) is SIGKILLed at a random moment; half of the kills land
   while a save is writing the file. The work is then reopened as a user would at the next
   start (Recover) and every stroke and slice mark the session had reported done is looked
   for: ``strokes_lost``, ``marks_lost`` (and the table edit, ``table_lost``).
2. **Training child kills** (``app.benchmarks.child_kills``): the real training child of a real
   main window, sending a 1.25 MiB preview every step, is SIGKILLed at a random moment; in half
   of the trials the GUI's receiver is paused first so that the kill tears a preview in half.
   Each trial runs in its own process with a time limit: a GUI blocked on the dead child is a
   hang. ``hangs`` (must be 0), ``child_not_reported``, ``labels_damaged``.
3. **Damaged files**: random byte flips and truncations of a saved project
   (``ugpcl_benchmarks.reliability_fuzz``, loaded in a worker process so that a segfault
   or a hang is counted) and of an edit journal. Each load is identical, refused with the
   project's one-line error, or a failure: ``silent_corruptions`` (loaded with other content)
   and ``crashes`` (any other exception, or a dead worker) must be 0.
4. **Bad input files** (``BENCHMARKS.md`` §3): empty, not an image, truncated, 4-D, RGB,
   NaN-filled, labels on another grid, an absurd declared size, no voxels, plus random byte
   flips in the headers of NIfTI, NRRD and MetaImage files, each opened the way the app opens
   files (``app.state.files.load_paths``) in a worker process (an ITK segfault is a crash):
   opened, or refused with one line saying what is wrong; ``bad_input_crashes`` must be 0.
"""

from __future__ import annotations

import argparse
import random
import signal
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from app.benchmarks.paint_session import Progress, RecoveryCount, count_recovered, follow
from app.benchmarks.paint_session import start_session as start_painting

BUDGETS = {  # paint kills, child kills, project fuzz, journal fuzz, header fuzz (trials)
    "quick": (12, 8, 300, 300, 60),
    "full": (40, 30, 2000, 2000, 300),
}


def paint_kill(workdir: Path, seed: int, during_save: bool) -> RecoveryCount:
    """One painting session killed at a random moment, or a random moment inside a save
    (after the save took its snapshot, while the file is written); what came back."""
    rng = random.Random(seed)
    child = start_painting(workdir, strokes=400, save_every=15, save_delay=0.15, seed=seed)
    progress = Progress()
    reader = threading.Thread(target=follow, args=(child.stdout, progress), daemon=True)
    reader.start()
    deadline = time.monotonic() + rng.uniform(0.5, 4.0)
    while time.monotonic() < deadline and child.poll() is None:
        if during_save and progress.saves_started > progress.saves_done:
            time.sleep(rng.uniform(0.0, 0.12))  # somewhere inside the save
            break
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(30)
    reader.join(30)
    if child.stdout is not None:
        child.stdout.close()
    return count_recovered(workdir, progress, seed)


def paint_kills(count: int, seed: int) -> dict[str, Any]:
    """``count`` killed painting sessions, every other one killed during a save."""
    totals: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for trial in range(count):
        with tempfile.TemporaryDirectory(prefix="ugpcl-paint-kill-") as tmp:
            got = paint_kill(Path(tmp), seed + trial, during_save=trial % 2 == 1)
        totals["strokes_applied"] += got.strokes_applied
        totals["strokes_lost"] += got.strokes_lost
        totals["marks_applied"] += got.marks_applied
        totals["marks_lost"] += got.marks_lost
        totals["table_lost"] += int(got.table_applied and not got.table_recovered)
        sources[got.source] += 1
    return {
        "paint_kills": count,
        "paint_kills_during_save": count // 2,
        **totals,
        "recovered_from": dict(sources),
    }


def child_kills(count: int, seed: int) -> dict[str, Any]:
    """``count`` SIGKILLs of the training child, every other one with a paused receiver."""
    from app.benchmarks.child_kills import trial_in_subprocess

    trials = [trial_in_subprocess(seed + i, pause=i % 2 == 0) for i in range(count)]
    finished = [t for t in trials if not t["hang"] and "error" not in t]
    return {
        "child_kills": count,
        "child_kills_torn": sum(bool(t.get("torn")) for t in finished),
        "child_hangs": sum(bool(t["hang"]) for t in trials),
        "child_crashes": sum("error" in t and not t["hang"] for t in trials),
        "child_not_reported": sum(not t["reported"] for t in finished),
        "labels_damaged": sum(not t["labels_intact"] for t in finished),
        "trials": trials,
    }


def project_fuzz(trials: int, seed: int, folder: Path) -> dict[str, Any]:
    """Flip bytes in / truncate a saved project ``trials`` times; load each in a worker."""
    from ugpcl_benchmarks.reliability_fuzz import fuzz_project_file, make_fuzz_project
    from ugpcl_engine.io.project_file import save_project

    path = folder / "fuzz.ugpcl"
    save_project(path, make_fuzz_project(seed=seed))
    report = fuzz_project_file(path, trials=trials, seed=seed, isolate=True, timeout_s=60.0)
    return {"summary": report.summary(), "examples": report.examples[:10]}


def _journal(path: Path, seed: int) -> dict[int, Any]:
    """A journal of strokes with marks and a table edit; its records by sequence number."""
    from ugpcl_engine.io.journal import EditJournal, read_journal
    from ugpcl_engine.volume import LabelTable

    rng = np.random.default_rng(seed)
    journal = EditJournal(path)
    for n in range(12):
        box = rng.integers(0, 5, (1, int(rng.integers(1, 9)), int(rng.integers(1, 9))))
        journal.record(0, (n % 8, 2, 3), box.astype(np.uint8), [("z", n % 8, True)])
        if n == 5:
            journal.record_table(0, LabelTable.default(4))
    return {r.seq: r for r in read_journal(path).records}


def _same_record(got: Any, want: Any) -> bool:
    from ugpcl_engine.io.journal_format import JournalEntry

    if isinstance(got, JournalEntry) and isinstance(want, JournalEntry):
        return (
            got.volume_index == want.volume_index
            and got.origin_zyx == want.origin_zyx
            and got.marks == want.marks
            and np.array_equal(got.values_zyx, want.values_zyx)
        )
    return bool(got == want)


def classify_journal(path: Path, want: dict[int, Any]) -> str:
    """``identical`` (every record back), ``refused`` (InputError, or damaged records
    skipped with the rest intact), ``silent_corruption`` or ``crash``."""
    from ugpcl_engine.errors import InputError
    from ugpcl_engine.io.journal import read_journal

    try:
        contents = read_journal(path)
    except InputError:
        return "refused"
    except Exception:  # any other exception is what this counts
        return "crash"
    got = contents.records
    if any(r.seq not in want or not _same_record(r, want[r.seq]) for r in got):
        return "silent_corruption"
    return "identical" if len(got) == len(want) else "refused"


def journal_fuzz(trials: int, seed: int, folder: Path) -> dict[str, Any]:
    """Flip 1–4 bytes of / truncate a journal ``trials`` times; classify each read."""
    path = folder / "fuzz.journal"
    want = _journal(path, seed)
    good = path.read_bytes()
    rng = np.random.default_rng(seed)
    counts: Counter[str] = Counter()
    for trial in range(trials):
        if trial % 5 == 4:
            damaged = good[: int(rng.integers(0, len(good)))]
        else:
            data = bytearray(good)
            for at in rng.choice(len(good), int(rng.integers(1, 5)), replace=False):
                data[at] ^= int(rng.integers(1, 256))
            damaged = bytes(data)
        path.write_bytes(damaged)
        counts[classify_journal(path, want)] += 1
    return {"journal_fuzz_tried": trials, **dict(counts)}


def _bad_files(folder: Path) -> list[tuple[str, list[Path]]]:
    """The named bad inputs of ``BENCHMARKS.md`` §3, written into ``folder``."""
    import SimpleITK as sitk

    from ugpcl_engine.io.volume_files import write_array
    from ugpcl_engine.volume import VolumeGeometry

    def path(name: str) -> Path:
        return folder / name

    def image(name: str, array: np.ndarray, vector: bool = False) -> Path:
        sitk.WriteImage(sitk.GetImageFromArray(array, isVector=vector), str(path(name)))
        return path(name)

    rng = np.random.default_rng(0)
    ct = rng.integers(-1000, 1000, (8, 32, 32)).astype(np.int16)
    path("empty.nii.gz").write_bytes(b"")
    path("notes.nii.gz").write_text("these are my notes, not an image\n")
    cases: list[tuple[str, list[Path]]] = [
        ("empty file", [path("empty.nii.gz")]),
        ("not an image", [path("notes.nii.gz")]),
    ]
    for suffix in (".nii", ".nii.gz", ".nrrd", ".mha"):
        cut = path(f"cut{suffix}")
        write_array(cut, ct, VolumeGeometry(ct.shape))
        cut.write_bytes(cut.read_bytes()[: len(cut.read_bytes()) // 2])
        cases.append((f"truncated {suffix}", [cut]))
    cases.append(("4-D", [image("cine.nii.gz", np.zeros((3, 2, 4, 5), np.float32))]))
    cases.append(("RGB", [image("photo.mha", np.zeros((2, 3, 4, 3), np.uint8), vector=True)]))
    cases.append(("NaN-filled", [image("nan.nrrd", np.full((3, 4, 5), np.nan, np.float32))]))
    write_array(path("ct.nii.gz"), ct, VolumeGeometry(ct.shape))
    other_grid = VolumeGeometry((8, 32, 30))
    write_array(path("ct_labels.nii.gz"), np.zeros(other_grid.shape_zyx, np.uint8), other_grid)
    cases.append(("labels on another grid", [path("ct.nii.gz"), path("ct_labels.nii.gz")]))
    header = "ObjectType = Image\nNDims = 3\nElementType = MET_SHORT\nElementDataFile = LOCAL\n"
    huge = "NDims = 3\nDimSize = 100000 100000 100000\n"
    path("huge.mha").write_text(header.replace("NDims = 3\n", huge))
    cases.append(("absurd size", [path("huge.mha")]))
    path("zero.mha").write_text(header.replace("NDims = 3\n", "NDims = 3\nDimSize = 4 4 0\n"))
    cases.append(("no voxels", [path("zero.mha")]))
    return cases


def _header_fuzz(folder: Path, trials: int, seed: int) -> list[tuple[str, list[Path]]]:
    """Copies of small NIfTI / NRRD / MetaImage files with 1–4 header bytes changed."""
    from ugpcl_engine.io.volume_files import write_array
    from ugpcl_engine.volume import VolumeGeometry

    rng = np.random.default_rng(seed)
    array = rng.integers(0, 500, (4, 16, 16)).astype(np.int16)
    originals = []
    for suffix, header_bytes in ((".nii", 352), (".nrrd", 200), (".mha", 200)):
        source = folder / f"source{suffix}"
        write_array(source, array, VolumeGeometry(array.shape, (2.0, 1.0, 1.0)))
        originals.append((suffix, source.read_bytes(), header_bytes))
    cases = []
    for trial in range(trials):
        suffix, data, header_bytes = originals[trial % len(originals)]
        damaged = bytearray(data)
        for at in rng.choice(min(header_bytes, len(data)), int(rng.integers(1, 5)), replace=False):
            damaged[at] ^= int(rng.integers(1, 256))
        target = folder / f"fuzz{trial}{suffix}"
        target.write_bytes(bytes(damaged))
        cases.append((f"header flips {suffix}", [target]))
    return cases


def open_like_the_app(paths: list[str]) -> tuple[str, str]:
    """Open files as the app does; ``(outcome, message)`` with outcome ``opened``,
    ``refused`` (InputError) or ``crash`` (any other exception)."""
    from app.state.files import load_paths
    from ugpcl_engine.errors import InputError

    try:
        load_paths(paths)
    except InputError as err:
        return "refused", str(err)
    except Exception as err:  # any other exception is what this counts
        return "crash", f"{type(err).__name__}: {err}"
    return "opened", ""


def bad_inputs(header_trials: int, seed: int, folder: Path) -> dict[str, Any]:
    """Open every named bad input and ``header_trials`` header-damaged files, each in a worker
    process (a new worker after a crash); count crashes and messages that are not one line."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    work = folder / "bad-inputs"
    work.mkdir()
    cases = _bad_files(work) + _header_fuzz(work, header_trials, seed)
    counts: Counter[str] = Counter()
    examples: list[tuple[str, str, str]] = []
    pool = ProcessPoolExecutor(1)
    for name, paths in cases:
        try:
            outcome, message = pool.submit(open_like_the_app, [str(p) for p in paths]).result(120)
        except BrokenProcessPool:
            outcome, message = "crash", "the worker process died"
            pool = ProcessPoolExecutor(1)
        counts[outcome] += 1
        unclear = outcome == "refused" and (not message.strip() or "\n" in message.strip())
        counts["unclear"] += int(unclear)
        if outcome == "crash" or unclear or not name.startswith("header"):
            examples.append((name, outcome, message[:300]))
    pool.shutdown()
    return {
        "tried": len(cases),
        "opened": counts["opened"],
        "refused": counts["refused"],
        "crash": counts["crash"],
        "unclear": counts["unclear"],
        "examples": examples,
    }


def run(args: argparse.Namespace) -> Any:
    """All three parts; see the module docstring."""
    from ugpcl_benchmarks.runner import BenchmarkResult, format_table

    n_paint, n_child, n_project, n_journal, n_header = BUDGETS[getattr(args, "budget", "quick")]
    seed = 0
    paint = paint_kills(n_paint, seed)
    child = child_kills(n_child, seed)
    with tempfile.TemporaryDirectory(prefix="ugpcl-fuzz-") as tmp:
        project = project_fuzz(n_project, seed, Path(tmp))
        journal = journal_fuzz(n_journal, seed, Path(tmp))
        bad = bad_inputs(n_header, seed, Path(tmp))
    fuzz = project["summary"]
    summary = {
        "strokes_lost": float(paint["strokes_lost"]),
        "marks_lost": float(paint["marks_lost"]),
        "table_lost": float(paint["table_lost"]),
        "hangs": float(child["child_hangs"] + fuzz["hangs"]),
        "silent_corruptions": float(
            fuzz["silent_corruptions"] + journal.get("silent_corruption", 0)
        ),
        "crashes": float(
            fuzz["crashes"] + journal.get("crash", 0) + child["child_crashes"] + bad["crash"]
        ),
        "bad_input_tried": float(bad["tried"]),
        "bad_input_crashes": float(bad["crash"]),
        "bad_input_unclear": float(bad["unclear"]),
        "paint_kills": float(n_paint),
        "paint_kills_during_save": float(paint["paint_kills_during_save"]),
        "strokes_applied": float(paint["strokes_applied"]),
        "marks_applied": float(paint["marks_applied"]),
        "child_kills": float(n_child),
        "child_kills_torn": float(child["child_kills_torn"]),
        "child_not_reported": float(child["child_not_reported"]),
        "labels_damaged": float(child["labels_damaged"]),
        "project_fuzz_tried": fuzz["fuzz_tried"],
        "project_fuzz_refused": fuzz["fuzz_refused"],
        "journal_fuzz_tried": float(n_journal),
        "journal_fuzz_refused": float(journal.get("refused", 0)),
    }
    rows = [
        [
            "kills while painting",
            n_paint,
            f"{paint['strokes_lost']} of {paint['strokes_applied']} "
            f"strokes, {paint['marks_lost']} of {paint['marks_applied']} marks lost",
        ],
        [
            "training child kills",
            n_child,
            f"{child['child_hangs']} hangs, "
            f"{child['child_kills_torn']} torn previews, {child['child_not_reported']} unreported, "
            f"{child['labels_damaged']} with labels damaged",
        ],
        [
            "damaged project files",
            n_project,
            f"{fuzz['silent_corruptions']:.0f} silent, "
            f"{fuzz['crashes']:.0f} crashes, {fuzz['hangs']:.0f} hangs, "
            f"{fuzz['fuzz_refused']:.0f} refused",
        ],
        [
            "damaged journals",
            n_journal,
            f"{journal.get('silent_corruption', 0)} silent, "
            f"{journal.get('crash', 0)} crashes, "
            f"{journal.get('refused', 0)} refused or partly read",
        ],
    ]
    rows.append(
        [
            "bad input files",
            bad["tried"],
            f"{bad['crash']} crashes, {bad['refused']} refused, {bad['opened']} opened, "
            f"{bad['unclear']} messages not one line",
        ]
    )
    table = format_table(["what", "tried", "outcome"], rows)
    details = {
        "paint": paint,
        "child": child,
        "project_fuzz": project,
        "journal_fuzz": journal,
        "bad_inputs": bad,
    }
    return BenchmarkResult(table, summary, details)


def main(argv: list[str]) -> int:
    """Entry point of ``ugpcl-studio benchmark reliability [--budget quick|full] [--out DIR]``."""
    parser = argparse.ArgumentParser(prog="ugpcl-studio benchmark reliability")
    parser.add_argument("--out", default="benchmarks/results", help="folder for the JSON")
    parser.add_argument("--budget", default="quick", choices=tuple(BUDGETS))
    args = parser.parse_args(argv)
    from ugpcl_benchmarks.runner import run_and_record

    run_and_record("reliability", lambda: run(args), Path(args.out))
    return 0
