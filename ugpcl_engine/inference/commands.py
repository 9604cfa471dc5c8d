"""``ugpcl-studio export`` / ``predict``, and ONNX export in a child process for the app.

This module never imports torch, not even inside functions by a plain ``import`` statement:
the app imports ``export_in_subprocess`` from here, and the import-linter contract "the GUI
process never imports torch" follows every static import. The torch side
(``onnx_export``) is loaded by name (``importlib``) in the CLI process or the export child.
"""

from __future__ import annotations

import argparse
import importlib
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.inference.model_metadata import (
    ExportReport,
    ParityError,
    TrainingGrid,
    partial_path,
)

if TYPE_CHECKING:
    from ugpcl_engine.volume import Volume

EXPORT_MODULE = "ugpcl_engine.inference.onnx_export"


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def export_command(args: argparse.Namespace) -> int:
    """Run ``export`` from parsed CLI arguments (``--checkpoint``, ``--out``).

    ``--out`` is checked before the checkpoint is loaded: an ``.onnx`` name, not the
    checkpoint itself (nor a link to it), in a folder that can be written.

    Returns:
        0 on success, 1 when the parity check failed (nothing is written then).

    Raises:
        InputError: unreadable checkpoint or unwritable destination (exit code 2).
    """
    from ugpcl_engine.io.output_paths import staged_outputs

    out = Path(args.out)
    if not out.name.lower().endswith(".onnx"):
        raise InputError(
            f"Cannot write {out.name}: an ONNX model file name ends in .onnx; give --out a "
            "name like model.onnx."
        )
    export = importlib.import_module(EXPORT_MODULE)
    try:
        with staged_outputs({"--out": out}, {"--checkpoint": args.checkpoint}) as staged:
            report: ExportReport = export.export_checkpoint_file(args.checkpoint, staged["--out"])
    except ParityError as err:
        _log(f"ugpcl-studio export: failed: {err}")
        return 1
    print(replace(report, path=str(out)).summary())
    return 0


def _check_predict_outputs(args: argparse.Namespace) -> None:
    from ugpcl_engine.io.volume_files import check_writable_suffix

    check_writable_suffix(args.out)
    if args.uncertainty:
        check_writable_suffix(args.uncertainty)


def _check_3d(volume: Volume, path: str) -> None:
    """Refuse a 2-D image (one slice) by name: the grid check would call it a different grid."""
    shape = volume.image_zyx.shape
    if min(shape) < 2:
        raise InputError(
            f"{Path(path).name} is a 2-D image (shape zyx {shape}, a single slice); predict "
            "segments 3-D volumes: give the whole scan (NIfTI, NRRD, MHA or a DICOM folder)."
        )


def predict_command(args: argparse.Namespace) -> int:
    """Run ``predict``: segment ``--image`` with ``--model``, write ``--out`` (+ uncertainty).

    The outputs lie on the image's grid, in any format the data layer writes (from the suffix).
    A very different grid from training is refused unless ``--force`` is given. The outputs
    are checked before the work (known format, none of the inputs, writable) and moved into
    place together at the end: a failure leaves neither behind.

    Returns:
        0 on success.

    Raises:
        InputError: bad model, image or destination (exit code 2).
    """
    from ugpcl_engine.inference.ort_segmenter import OrtSegmenter
    from ugpcl_engine.io.output_paths import staged_outputs
    from ugpcl_engine.io.volume_files import read_volume, write_array, write_label_map
    from ugpcl_engine.volume import LabelMap

    start = time.perf_counter()
    _check_predict_outputs(args)
    outputs = {"--out": args.out, "--uncertainty": args.uncertainty}
    with staged_outputs(outputs, {"--model": args.model, "--image": args.image}) as staged:
        segmenter = OrtSegmenter(args.model, device=args.device, threads=os.cpu_count() or 1)
        volume = read_volume(args.image)
        _check_3d(volume, args.image)
        labels, entropy = segmenter.segment(
            volume.image_zyx,
            _tenths_logger(),
            spacing_zyx=volume.geometry.spacing_zyx,
            strict=not getattr(args, "force", False),
        )
        table = segmenter.metadata.label_table
        write_label_map(staged["--out"], LabelMap(labels, volume.geometry, table))
        if args.uncertainty:
            write_array(staged["--uncertainty"], entropy.astype(np.float32), volume.geometry)
    ran_on = segmenter.provider_report.summary()  # with why not CUDA, when not
    _log(
        f"segmented {volume.image_zyx.shape[::-1]} (x,y,z) on {ran_on} in "
        f"{time.perf_counter() - start:.1f} s; wrote {args.out}"
        + (f" and {args.uncertainty}" if args.uncertainty else "")
    )
    return 0


def _tenths_logger() -> Callable[[int, int], None]:
    """A progress callback that logs ``slice done/total`` at each tenth of the volume."""
    last = [-1]

    def progress(done: int, total: int) -> None:
        tenth = 10 * done // total
        if tenth != last[0]:
            last[0] = tenth
            _log(f"slice {done}/{total}")

    return progress


def export_in_subprocess(
    checkpoint: str | Path,
    out: str | Path,
    *,
    training_grid: TrainingGrid | None = None,
    parity_image: str | Path | None = None,
    cancelled: Callable[[], bool] | None = None,
    threads: int | None = None,
) -> ExportReport:
    """Export a checkpoint to ONNX in a spawned child process (the caller never loads torch).

    Blocking: call it from a worker thread. The child limits torch to ``threads`` (default:
    every core but one, so the GUI keeps a core).

    Args:
        checkpoint: the ``model.pt`` of a training run.
        out: destination ``.onnx`` file.
        training_grid: grid of the training volume (stored for the grid check).
        parity_image: volume file to draw the parity slices from (default: bundled chest CT).
        cancelled: polled every 0.1 s; True kills the child and raises ``CancelledError``.
        threads: torch threads in the child.

    Returns:
        The child's ``ExportReport``.

    Raises:
        InputError: bad checkpoint, parity image or destination.
        ParityError: onnxruntime and torch disagree (nothing written).
        CancelledError: cancelled (the child is killed, nothing written).
        RuntimeError: the child crashed or died (e.g. out of memory).
    """
    if not Path(checkpoint).is_file():
        raise InputError(f"Checkpoint not found: {checkpoint}. Train a model first.")
    threads = threads or max(1, (os.cpu_count() or 1) - 1)
    ctx = multiprocessing.get_context("spawn")
    reader, writer = ctx.Pipe(duplex=False)
    args = (str(checkpoint), str(out), training_grid, parity_image, threads, writer)
    child = ctx.Process(target=_export_child, args=args, name="ugpcl-export", daemon=True)
    child.start()
    writer.close()  # the child holds the only writer: EOF means it died
    try:
        message = _wait_for_child(child, reader, cancelled)
    finally:
        reader.close()
        child.join(timeout=10)  # it exits right after its message (or was killed on cancel)
        if child.is_alive():
            child.kill()
            child.join()
        if child.exitcode != 0:  # killed, crashed or cancelled: leave no partial file
            partial_path(Path(out)).unlink(missing_ok=True)
    return _report_from(message, child.exitcode)


def _wait_for_child(
    child: Any, reader: Connection, cancelled: Callable[[], bool] | None
) -> tuple[str, Any] | None:
    while True:
        if cancelled is not None and cancelled():
            child.kill()
            raise CancelledError("export cancelled")
        if reader.poll(0.1):
            try:
                message: tuple[str, Any] = reader.recv()
            except EOFError:
                return None
            return message
        if not child.is_alive() and not reader.poll(0):
            return None


def _report_from(message: tuple[str, Any] | None, exitcode: int | None) -> ExportReport:
    if message is None:
        raise RuntimeError(
            f"The export process stopped unexpectedly (exit code {exitcode}); it may have run "
            "out of memory. Nothing was written."
        )
    kind, payload = message
    if kind == "ok":
        return ExportReport.from_dict(payload)
    if kind == "input":
        raise InputError(str(payload))
    if kind == "parity":
        raise ParityError(str(payload))
    raise RuntimeError(f"The export failed: {payload}")


def _export_child(
    checkpoint: str,
    out: str,
    training_grid: TrainingGrid | None,
    parity_image: str | None,
    threads: int,
    writer: Connection,
) -> None:
    """Body of the export child: run the export, send one message, exit."""
    try:
        importlib.import_module("torch").set_num_threads(threads)
        export = importlib.import_module(EXPORT_MODULE)
        report: ExportReport = export.export_checkpoint_file(
            checkpoint, out, training_grid=training_grid, parity_image=parity_image
        )
        writer.send(("ok", report.to_dict()))
    except InputError as err:
        writer.send(("input", str(err)))
    except ParityError as err:
        writer.send(("parity", str(err)))
    except Exception as err:  # every failure must reach the app as a message
        text = traceback.format_exc(limit=-3)
        writer.send(("error", f"{type(err).__name__}: {err}\n{text}"))
    finally:
        writer.close()
