"""A scripted training child for the assist tests (numpy only; spawned like the real one).

The script is read from ``script.txt`` beside the run folder (the runs root):
``ok`` a full run, ``fail`` a Failed event, ``crash`` exit code 3 without a word,
``sleep`` starts and then never ends (for kill tests), ``wait`` trains until asked to stop.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from ugpcl_engine.training.events import (
    Failed,
    Finished,
    Preview,
    Progress,
    Started,
    Validation,
)
from ugpcl_engine.training.run_folder import (
    PREDICTION_FILE,
    UNCERTAINTY_FILE,
    Stage,
    read_snapshot,
    save_array,
)

UNCERTAIN_SLICE = 7  # the fake model is unsure on this axial slice
LOW, HIGH = 0.02, 0.6  # nats


def fake_result(image_zyx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prediction: label 1 where the image is bright; entropy low except on one slice."""
    pred = (image_zyx > 0).astype(np.uint8)
    entropy = np.full(image_zyx.shape, LOW, np.float32)
    if image_zyx.shape[0] > UNCERTAIN_SLICE:
        entropy[UNCERTAIN_SLICE] = HIGH
    return pred, entropy


def fake_child(run_dir: str, queue: Any, flag: Any, preview_index: Any = None) -> None:
    """Play the script named in ``<runs root>/script.txt``."""
    script = (Path(run_dir).parent / "script.txt").read_text().strip()
    image, _labels, labeled, request = read_snapshot(run_dir)
    queue.put(Started(6, "cpu", 1000, int(labeled.sum()), int((~labeled).sum()), 32))
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
            pred, entropy = fake_result(image[index : index + 1])
            queue.put(Preview(done, index, pred[0], entropy[0]))
        time.sleep(0.02 if script == "ok" else 0.05)
    queue.put(Stage("predicting"))
    pred, entropy = fake_result(image)
    save_array(Path(run_dir) / PREDICTION_FILE, pred)
    save_array(Path(run_dir) / UNCERTAINTY_FILE, entropy)
    (Path(run_dir) / "model.pt").write_bytes(b"fake")
    if request.holdout_slice is not None:
        queue.put(Validation(done, request.holdout_slice, 0.5))
    metrics = {"mean_uncertainty": float(entropy.mean()), "steps": float(done)}
    queue.put(Finished(str(Path(run_dir) / "model.pt"), done, 0.1, flag.is_set(), metrics))
