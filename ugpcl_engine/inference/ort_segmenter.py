"""Whole-volume segmentation with onnxruntime (numpy + onnxruntime only: never imports torch).

The GUI process runs models through this class, so it must stay torch-free (a test imports it in
a fresh interpreter and checks ``sys.modules``). Preprocessing is exactly the training one: the
intensity window from the model's metadata (``model_metadata``), slices along the training axis
(``volume_runner.segment_volume``), and the resize to the network size inside the graph.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.model_metadata import (
    INPUT_NAME,
    OUTPUT_NAMES,
    ModelMetadata,
    grid_problems,
)
from ugpcl_engine.inference.ort_providers import (
    CPU,
    CUDA,
    preload_cuda_libraries,
    provider_report,
)
from ugpcl_engine.inference.volume_runner import segment_volume

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")


def default_threads() -> int:
    """Intra-op threads when none are given: every core but one (for the GUI) above 2 cores."""
    cores = os.cpu_count() or 1
    return cores - 1 if cores > 2 else cores


class OrtSegmenter:
    """Runs an exported ugpcl-studio ONNX model on volumes.

    Args:
        path: the ``.onnx`` file.
        device: ``"auto"`` (CUDA when usable, else CPU), ``"cuda"`` (CUDA, falling back to CPU
            with a logged warning) or ``"cpu"``.
        threads: intra-op threads on CPU; ``None`` = ``default_threads()``.
        batch_size: slices per onnxruntime call.

    Raises:
        InputError: missing file, not an ONNX model, a model from another tool, missing or
            damaged metadata, or a graph whose channel or class count disagrees with it.
        ValueError: unknown ``device`` or a non-positive ``threads``/``batch_size``.

    Attributes:
        provider: the execution provider the session runs on.
        provider_report: ``ProviderReport`` (providers used, and why not CUDA when not).
    """

    def __init__(
        self,
        path: str | Path,
        device: str = "auto",
        threads: int | None = None,
        batch_size: int = 8,
    ) -> None:
        if device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
        if (threads is not None and threads < 1) or batch_size < 1:
            raise ValueError("threads and batch_size must be >= 1")
        self.path = Path(path)
        self.batch_size = batch_size
        self.threads = threads or default_threads()
        self.session = _open_session(self.path, device, self.threads)
        self.provider_report = provider_report(self.session, device)
        self.provider: str = self.provider_report.provider
        log.info("onnxruntime %s on %s (%d threads)", ort.__version__, self.provider, self.threads)
        if device != "cpu" and not self.provider_report.uses_cuda:
            # "auto" on a machine without CUDA is normal (info); "cuda" asked for it (warning)
            level = logging.WARNING if device == "cuda" else logging.INFO
            asked = "CUDA was requested but " if device == "cuda" else ""
            log.log(
                level, "%sonnxruntime is running on the CPU: %s", asked, self.provider_report.reason
            )
        props = self.session.get_modelmeta().custom_metadata_map
        self.metadata = ModelMetadata.from_props(props, self.path.name)
        _check_graph(self.session, self.metadata, self.path.name)

    def run_batch(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Segment normalised slices.

        Args:
            batch: (B, 1, H, W) float32 in [0, 1].

        Returns:
            labels (B, H, W) uint8 and entropy (B, H, W) float32.
        """
        feed = {INPUT_NAME: np.ascontiguousarray(batch, dtype=np.float32)}
        labels, entropy = self.session.run(list(OUTPUT_NAMES[1:]), feed)
        return labels.astype(np.uint8), np.asarray(entropy, dtype=np.float32)

    def check_grid(
        self, shape_zyx: tuple[int, ...], spacing_zyx: tuple[float, ...] | None = None
    ) -> str | None:
        """Say whether a volume's grid is very different from the training grid.

        Args:
            shape_zyx: the volume's shape.
            spacing_zyx: its voxel size in mm (``None`` when unknown).

        Returns:
            ``None`` when the grid is fine, else a user-facing message.
        """
        problems = grid_problems(self.metadata, shape_zyx, spacing_zyx)
        if not problems:
            return None
        return (
            f"The image is on a very different grid from the model's training data: "
            f"{'; '.join(problems)}. The result may be poor; resample the image to a similar "
            "grid, or run anyway (--force on the command line)."
        )

    def segment(
        self,
        image_zyx: np.ndarray,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        *,
        spacing_zyx: tuple[float, ...] | None = None,
        strict: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Segment a raw volume with the training preprocessing.

        Args:
            image_zyx: raw intensities (Z, Y, X), any real dtype.
            progress: called with (slices done, total) after each batch.
            cancelled: polled before each batch; True stops with ``CancelledError``.
            spacing_zyx: voxel size in mm, for the grid check.
            strict: a very different grid raises ``InputError`` instead of a logged warning.

        Returns:
            labels_zyx (uint8) and entropy_zyx (float32), both on the input grid.

        Raises:
            InputError: not a 3-D real-valued volume, non-finite values, or (strict) a very
                different grid.
            CancelledError: when ``cancelled()`` became true.
        """
        _check_image(image_zyx)
        message = self.check_grid(tuple(image_zyx.shape), spacing_zyx)
        if message is not None:
            if strict:
                raise InputError(message)
            log.warning("%s", message)
        window = self.metadata.window_for(image_zyx)
        return segment_volume(
            image_zyx,
            window,
            self.metadata.axis,
            self.run_batch,
            self.batch_size,
            progress,
            cancelled,
        )


def _session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1  # one slice batch at a time: no parallel branches to run
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _open_session(path: Path, device: str, threads: int) -> ort.InferenceSession:
    if not path.is_file():
        raise InputError(f"Model file not found: {path}. Give the .onnx file an export wrote.")
    want_cuda = device != "cpu" and CUDA in ort.get_available_providers()
    providers = [CUDA, CPU] if want_cuda else [CPU]
    if want_cuda:
        preload_cuda_libraries()  # the nvidia-* wheels' CUDA/cuDNN (onnxruntime >= 1.21)
        # a GPU build without usable CUDA libraries prints a loud error before falling back to
        # the CPU; we report the fallback ourselves, once, through logging
        ort.set_default_logger_severity(4)
    try:
        return ort.InferenceSession(str(path), _session_options(threads), providers=providers)
    except Exception as err:  # onnxruntime raises its own pybind types (InvalidProtobuf, Fail…)
        raise InputError(
            f"{path.name} is not a readable ONNX model ({_short(err)}); give the .onnx file "
            "that 'ugpcl-studio export' or Model › Export ONNX… wrote."
        ) from None
    finally:
        if want_cuda:
            ort.set_default_logger_severity(2)  # onnxruntime's default (warnings)


def _short(err: Exception) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 160 else text[:157] + "…"


def _check_graph(session: ort.InferenceSession, meta: ModelMetadata, name: str) -> None:
    """The graph must have our input and outputs, one image channel and C classes."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if INPUT_NAME not in inputs or not set(OUTPUT_NAMES) <= set(outputs):
        raise InputError(
            f"{name} does not have the inputs/outputs of a ugpcl-studio model "
            f"(image → probs, labels, entropy); export it again with 'ugpcl-studio export'."
        )
    shape: list[Any] = list(inputs[INPUT_NAME].shape)
    if len(shape) != 4 or shape[1] != meta.in_channels or meta.in_channels != 1:
        raise InputError(
            f"{name} expects input of shape {shape}; ugpcl-studio feeds one grey channel "
            "(B, 1, H, W). Export the model again with 'ugpcl-studio export'."
        )
    classes = list(outputs["probs"].shape)[1] if len(outputs["probs"].shape) == 4 else None
    if isinstance(classes, int) and classes != meta.num_classes:
        raise InputError(
            f"{name} predicts {classes} classes but its metadata lists {meta.num_classes} "
            "labels; the file was modified or damaged — export the model again."
        )


def _check_image(image_zyx: np.ndarray) -> None:
    if image_zyx.ndim != 3 or min(image_zyx.shape) < 1:
        raise InputError(
            f"The image has shape {image_zyx.shape}; the model needs a non-empty 3-D volume."
        )
    if not (
        np.issubdtype(image_zyx.dtype, np.integer) or np.issubdtype(image_zyx.dtype, np.floating)
    ):
        raise InputError(f"The image has values of type {image_zyx.dtype}; use a grey-level image.")
    if np.issubdtype(image_zyx.dtype, np.floating) and not np.isfinite(image_zyx).all():
        raise InputError("The image contains NaN or infinite values; fix or mask them first.")
