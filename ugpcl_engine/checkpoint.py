"""Checkpoints: weights plus everything needed to reproduce inference.

A checkpoint carries the run spec (config), label table, slicing axis, network size, the
intensity normalisation, step, metrics and library versions, so that export, prediction and
warm starts need nothing else. Below both ``training`` (which writes checkpoints) and
``inference`` (which reads them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ugpcl_engine.config import RunSpec
from ugpcl_engine.data.normalisation import IntensityWindow, resolve_window
from ugpcl_engine.errors import InputError
from ugpcl_engine.model import UGPCLNet, build_model
from ugpcl_engine.version import __version__
from ugpcl_engine.volume import LabelTable

FORMAT = "ugpcl-checkpoint"
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """A trained model and its context.

    Attributes:
        spec: model + training configuration.
        state_dict: network weights.
        bank_state: memory-bank buffers (for warm starts).
        label_table: classes the model predicts.
        axis: slicing axis of training.
        network_size: the training canvas' longest side (the square input size S of the
            legacy geometry, see ``network_scale``).
        window: intensity window of the training volume (``mode`` ``"ct"`` is reused as is;
            ``"mr"`` is recomputed from percentiles of each new volume).
        step: steps trained (over all warm starts).
        metrics: final numbers of the run.
        model_version: short id, unique per run.
        training_shape_zyx, training_spacing_zyx: grid of the (first) training volume, when
            known: inference warns about volumes on a very different grid.
        network_scale: network pixels per native pixel (slices are resized by it, aspect kept,
            and padded to multiples of 32); ``None`` in checkpoints written before it existed,
            whose slices were stretched to S×S (``inference.wrapper`` keeps both).
        foreground_crop: trained on the foreground's box (``data.slices.foreground_box``):
            torch inference runs on that box of the occupied slices only, the rest is
            background.
        resume: what a run needs to continue exactly where it stopped (optimiser, RNG and
            sampler states, ``training.resume``); ``None`` in model-only checkpoints.
    """

    spec: RunSpec
    state_dict: dict[str, torch.Tensor]
    bank_state: dict[str, torch.Tensor]
    label_table: LabelTable
    axis: str
    network_size: int
    window: IntensityWindow
    step: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    model_version: str = ""
    training_shape_zyx: tuple[int, int, int] | None = None
    training_spacing_zyx: tuple[float, float, float] | None = None
    network_scale: float | None = None
    foreground_crop: bool = False
    resume: dict[str, Any] | None = None

    def build_net(self, device: torch.device | str = "cpu") -> UGPCLNet:
        """Return the network with these weights, in eval mode, on ``device``."""
        net = build_model(self.spec.model, load_pretrained=False)  # weights come from here
        net.load_state_dict(self.state_dict)
        return net.to(device).eval()

    def window_for(self, image_zyx: np.ndarray) -> IntensityWindow:
        """Intensity window for a new volume, consistent with training."""
        if self.window.mode == "ct":
            return self.window
        return resolve_window(image_zyx, "mr", self.spec.training.normalisation)


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> None:
    """Write a checkpoint atomically (temp file + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "spec": ckpt.spec.to_dict(),
        "state_dict": ckpt.state_dict,
        "bank_state": ckpt.bank_state,
        "label_table": ckpt.label_table.to_records(),
        "axis": ckpt.axis,
        "network_size": ckpt.network_size,
        "network_scale": ckpt.network_scale,
        "foreground_crop": ckpt.foreground_crop,
        "window": {"mode": ckpt.window.mode, "low": ckpt.window.low, "high": ckpt.window.high},
        "step": ckpt.step,
        "metrics": ckpt.metrics,
        "model_version": ckpt.model_version,
        "training_grid": None
        if ckpt.training_shape_zyx is None or ckpt.training_spacing_zyx is None
        else {
            "shape_zyx": list(ckpt.training_shape_zyx),
            "spacing_zyx": list(ckpt.training_spacing_zyx),
        },
        "versions": {"ugpcl_engine": __version__, "torch": str(torch.__version__)},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    if ckpt.resume is not None:
        payload["resume"] = ckpt.resume
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by ``save_checkpoint``.

    Raises:
        InputError: missing file, not a checkpoint of this app, or a newer format.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Checkpoint not found: {path}. Give the model.pt a training run wrote.")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for foreign or broken files
        raise InputError(
            f"{path.name} is not a readable ugpcl-studio checkpoint ({type(err).__name__}); "
            "give the model.pt a training run wrote."
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{path.name} is not a ugpcl-studio checkpoint.")
    if int(data["format_version"]) > FORMAT_VERSION:
        raise InputError(f"{path.name} was written by a newer ugpcl-studio; update the app.")
    table = LabelTable.from_records(data["label_table"])
    w = data["window"]
    grid = data.get("training_grid")
    scale = data.get("network_scale")
    if scale is not None and not (isinstance(scale, (int, float)) and 0 < float(scale) <= 16):
        raise InputError(f"{path.name} has an invalid network_scale ({scale!r}).")
    return Checkpoint(
        spec=RunSpec.from_dict(data["spec"]),
        state_dict=data["state_dict"],
        bank_state=data.get("bank_state", {}),
        label_table=table,
        axis=str(data["axis"]),
        network_size=int(data["network_size"]),
        window=IntensityWindow(str(w["mode"]), float(w["low"]), float(w["high"])),
        step=int(data.get("step", 0)),
        metrics=dict(data.get("metrics", {})),
        model_version=str(data.get("model_version", "")),
        training_shape_zyx=tuple(int(v) for v in grid["shape_zyx"]) if grid else None,  # type: ignore[arg-type]
        training_spacing_zyx=tuple(float(v) for v in grid["spacing_zyx"]) if grid else None,  # type: ignore[arg-type]
        network_scale=None if scale is None else float(scale),
        foreground_crop=data.get("foreground_crop") is True,
        resume=data.get("resume") if isinstance(data.get("resume"), dict) else None,
    )
