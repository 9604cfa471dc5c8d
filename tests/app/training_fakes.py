"""A scripted training child for the assist tests (numpy only; spawned like the real one).

The script is read from ``script.txt`` beside the run folder (the runs root):
``ok`` a full run, ``fail`` a Failed event, ``crash`` exit code 3 without a word,
``sleep`` starts and then never ends (for kill tests), ``wait`` trains until asked to stop.
Like the real child it reads every volume of the snapshot and writes a prediction per volume
(``prediction-k.npy``) and a ``result.json`` with the model version and the checkpoint's
SHA-256; it also writes ``seen.json``: what it read of each volume (shape, labeled slices).

Several runs in one test (keep refining): line k of ``script.txt`` is the script of the k-th
run folder of the runs root (the last line repeats), and line k of an optional ``dice.txt`` is
the held-out Dice the k-th run reports (``holdout_dice`` in its metrics).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.training.events import (
    Failed,
    Finished,
    Preview,
    Progress,
    Stage,
    Started,
    Validation,
)
from ugpcl_engine.training.run_folder import (
    RunFolder,
    file_sha256,
    read_volumes_snapshot,
    save_array,
)

UNCERTAIN_SLICE = 7  # the fake model is unsure on this axial slice
LOW, HIGH = 0.02, 0.6  # nats


def box_document(labeled: tuple[int, ...]) -> Any:
    """12×40×50 CT-like volume: a bright box through every slice (suggestions need predicted
    foreground); its labels on the ``labeled`` slices, marked labeled."""
    from app.state.document import Document, VolumeItem
    from ugpcl_engine.volume import LabelMap, LabelTable, Volume, VolumeGeometry

    image = np.full((12, 40, 50), -800, np.int16)
    image[:, 10:30, 10:40] = 60
    geometry = VolumeGeometry(image.shape, (2.0, 1.0, 1.0))
    labels = np.zeros(image.shape, np.uint8)
    for z in labeled:
        labels[z] = image[z] > 0
    item = VolumeItem.new(
        Volume(image, geometry, "box", "CT"), LabelMap(labels, geometry, LabelTable.default(2))
    )
    item.labeled["z"][list(labeled)] = True
    return Document([item])


def open_assist(
    window: Any, runs_root: Path, monkeypatch: Any, document: Any, refine: bool = True
) -> Any:
    """Install the assist loop on ``window`` with the scripted child and open ``document``.

    Args:
        window: the main window (the ``window`` fixture).
        runs_root: folder for the run folders (created here).
        monkeypatch: pytest's, to answer "unsaved changes?" with Discard at teardown.
        document: what to open.
        refine: leave Keep refining as the preset sets it (True) or untick it (one run per
            Start).

    Returns:
        The assist view (``app.ui.assist.AssistView``).
    """
    from PySide6.QtWidgets import QMessageBox

    from app.ui import dialogs
    from app.ui.assist import install_assist

    # closing the window at teardown must never wait for an answer
    monkeypatch.setattr(dialogs, "ask_unsaved", lambda *_: QMessageBox.StandardButton.Discard)
    controller = install_assist(window, target=fake_child, runs_root=runs_root)
    # the held-out comparison's fill between slices: a stand-in, not an ITK child per run
    from fill_fakes import copy_below

    controller.loop.holdout.interpolate = copy_below
    if not refine:
        controller.panel.refine.setChecked(False)
    runs_root.mkdir()
    window.ws.set_document(document)
    return controller


def record_snapshots(supervisor: Any) -> dict[Path, Any]:
    """Read each run's snapshot (volumes, request) when its child has started: the volume
    copies are deleted when a run ends. Keyed by run folder."""
    seen: dict[Path, Any] = {}

    def read(_event: object) -> None:
        seen[supervisor.run_dir] = read_volumes_snapshot(supervisor.run_dir)

    supervisor.started.connect(read)
    return seen


def fake_result(image_zyx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prediction: label 1 where the image is bright; entropy low except on one slice."""
    pred = (image_zyx > 0).astype(np.uint8)
    entropy = np.full(image_zyx.shape, LOW, np.float32)
    if image_zyx.shape[0] > UNCERTAIN_SLICE:
        entropy[UNCERTAIN_SLICE] = HIGH
    return pred, entropy


def scripted_line(run_dir: str, name: str) -> str | None:
    """Line k of ``<runs root>/<name>`` for the k-th run folder (the last line repeats)."""
    path = Path(run_dir).parent / name
    if not path.is_file():
        return None
    lines = path.read_text().split()
    runs = sorted(p for p in Path(run_dir).parent.iterdir() if p.is_dir())
    return lines[min(runs.index(Path(run_dir)), len(lines) - 1)]


def fake_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Play the script named in ``<runs root>/script.txt``."""
    script = scripted_line(run_dir, "script.txt") or "ok"
    dice = scripted_line(run_dir, "dice.txt")
    volumes, request = read_volumes_snapshot(run_dir)
    image = volumes[0].image_zyx
    seen = [{"shape": list(v.image_zyx.shape), "labeled": int(v.labeled.sum())} for v in volumes]
    (Path(run_dir) / "seen.json").write_text(json.dumps(seen))
    labeled = sum(int(v.labeled.sum()) for v in volumes)
    unlabeled = sum(int((~v.labeled).sum()) for v in volumes)
    queue.put(Started(6, "cpu", 1000, labeled, unlabeled, 32))
    if script == "fail":
        queue.put(Failed("The loss became NaN or infinite; retry with a smaller preset.", 2))
        return
    if script == "crash":
        time.sleep(0.2)
        os._exit(3)
    if script == "sleep":
        time.sleep(600)
    steps = 6 if script == "ok" else 10_000
    done = 0
    for done in range(1, steps + 1):
        if flag.is_set():
            break
        losses = {"total": 1.0 / done, "sup": 0.8 / done, "con": 0.1, "rot": 0.05, "contrast": 0.2}
        queue.put(Progress(done, steps, done * 0.01, (steps - done) * 0.01, losses, 0.01))
        if done == 3:
            index = int(preview_index.value) if preview_index is not None else 0
            pred, entropy = fake_result(image)  # previewed along the run's axis, as the child
            dim = "zyx".index(request.axis)
            plane = (np.take(pred, index, axis=dim), np.take(entropy, index, axis=dim))
            queue.put(Preview(done, index, *plane))
        time.sleep(0.02 if script == "ok" else 0.05)
    queue.put(Stage("predicting"))
    folder = RunFolder(Path(run_dir))
    for k, volume in enumerate(volumes):
        pred, entropy = fake_result(volume.image_zyx)
        save_array(folder.prediction(k), pred)
        save_array(folder.uncertainty(k), entropy)
    checkpoint = folder.model
    checkpoint.write_bytes(b"fake model of " + Path(run_dir).name.encode())
    if request.holdout_slice is not None:
        queue.put(Validation(done, request.holdout_slice, 0.5 if dice is None else float(dice)))
    metrics = {"mean_uncertainty": float(fake_result(image)[1].mean()), "steps": float(done)}
    if dice is not None:
        metrics["holdout_dice"] = float(dice)
    result = {"model_version": uuid.uuid4().hex[:8], "model_sha256": file_sha256(checkpoint)}
    folder.result.write_text(json.dumps(result))
    queue.put(Finished(str(checkpoint), done, 0.1, flag.is_set(), metrics))
