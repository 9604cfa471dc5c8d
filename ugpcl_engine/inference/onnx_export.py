"""ONNX export of the inference graph, with metadata and a torch/onnxruntime parity check.

What is exported is ``InferenceNet`` (resize to S×S → encoder + both decoders → mean softmax →
resize back → labels, entropy), so the file takes native-size normalised slices and the runtime
needs no torch. Format: see ``model_metadata``.

Exporter choice: the TorchScript exporter (``dynamo=False``) at opset 17. The dynamo exporter
also produces a correct graph (same parity), but took ~7× longer (19 s vs 3 s for a tiny model on
2 cores), prints registry warnings and needs onnxscript; the traced graph of this model has no
data-dependent control flow (the Swin windows are planned with tensor ops on ``x.shape``), so
tracing with dynamic batch/height/width axes is exact at every size. Opset 17 is the first with
a native ``LayerNormalization`` (fused by onnxruntime instead of ~9 primitive ops per norm) and
is supported by every onnxruntime since 1.11.

Export happens in a separate process in the app (``commands.export_in_subprocess``); this
module imports torch.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

from ugpcl_engine.checkpoint import Checkpoint, load_checkpoint
from ugpcl_engine.data.normalisation import apply_window
from ugpcl_engine.data.slices import take_slices
from ugpcl_engine.errors import InputError
from ugpcl_engine.inference.model_metadata import (
    INPUT_NAME,
    OUTPUT_NAMES,
    PARITY_TOLERANCE,
    ExportReport,
    ModelMetadata,
    ParityError,
    TrainingGrid,
    partial_path,
)
from ugpcl_engine.inference.wrapper import InferenceNet

OPSET = 17
EXPORTER = "torch.onnx TorchScript exporter (dynamo=False)"

_DYNAMIC_AXES = {
    INPUT_NAME: {0: "batch", 2: "height", 3: "width"},
    "probs": {0: "batch", 2: "height", 3: "width"},
    "labels": {0: "batch", 1: "height", 2: "width"},
    "entropy": {0: "batch", 1: "height", 2: "width"},
}


def metadata_for(ckpt: Checkpoint, training_grid: TrainingGrid | None = None) -> ModelMetadata:
    """Build the ONNX metadata of a checkpoint.

    Args:
        ckpt: the trained model.
        training_grid: grid of the training volume; defaults to the one the checkpoint
            recorded (if any).

    Returns:
        The metadata (label table, normalisation, network size, axis, version, config hash).
    """
    if training_grid is None and ckpt.training_shape_zyx and ckpt.training_spacing_zyx:
        training_grid = TrainingGrid(ckpt.training_shape_zyx, ckpt.training_spacing_zyx)
    return ModelMetadata(
        label_table=ckpt.label_table,
        window=ckpt.window,
        percentiles=ckpt.spec.training.normalisation.percentiles,
        network_size=ckpt.network_size,
        axis=ckpt.axis,
        model_version=ckpt.model_version,
        config_hash=ckpt.spec.config_hash(),
        in_channels=ckpt.spec.model.in_channels,
        training_grid=training_grid,
    )


def export_onnx(
    ckpt: Checkpoint,
    out: str | Path,
    *,
    training_grid: TrainingGrid | None = None,
    parity_image_zyx: np.ndarray | None = None,
) -> ExportReport:
    """Export a checkpoint to ONNX, check parity, then move the file into place.

    Args:
        ckpt: the trained model.
        out: destination ``.onnx`` path (written atomically: nothing is left there on failure).
        training_grid: grid of the training volume (stored for the grid check at prediction).
        parity_image_zyx: raw volume to draw the parity slices from (the training volume is
            best); ``None`` uses the bundled chest CT.

    Returns:
        The report with the parity figures.

    Raises:
        InputError: the destination cannot be written.
        ParityError: onnxruntime and torch differ by more than ``PARITY_TOLERANCE``.
    """
    start = time.perf_counter()
    out = Path(out)
    meta = metadata_for(ckpt, training_grid)
    model = InferenceNet(ckpt.build_net("cpu"), ckpt.network_size, ckpt.network_scale).eval()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"Cannot create folder {out.parent}: {err.strerror}.") from None
    partial = partial_path(out)
    try:
        _trace(model, partial, ckpt.network_size)
        _finish_graph(partial, meta)
        batches, source = parity_batches(meta, parity_image_zyx)
        dp, de, agree = check_parity(model, partial, batches)
        partial.replace(out)
    except OSError as err:
        raise InputError(f"Cannot write {out}: {err.strerror}.") from None
    finally:
        partial.unlink(missing_ok=True)
    return ExportReport(
        path=str(out),
        opset=OPSET,
        exporter=EXPORTER,
        max_abs_diff_probs=dp,
        max_abs_diff_entropy=de,
        label_agreement=agree,
        parity_shapes=tuple(tuple(b.shape) for b in batches),
        parity_source=source,
        seconds=time.perf_counter() - start,
        metadata=meta.to_props(),
    )


def export_checkpoint_file(
    checkpoint: str | Path,
    out: str | Path,
    *,
    training_grid: TrainingGrid | None = None,
    parity_image: str | Path | None = None,
) -> ExportReport:
    """Load a ``model.pt`` (and optionally a parity volume) and ``export_onnx`` it.

    Raises:
        InputError: unreadable checkpoint or parity image, unwritable destination.
        ParityError: see ``export_onnx``.
    """
    ckpt = load_checkpoint(checkpoint)
    image = None
    if parity_image is not None:
        from ugpcl_engine.io.volume_files import read_volume

        image = read_volume(parity_image).image_zyx
    return export_onnx(ckpt, out, training_grid=training_grid, parity_image_zyx=image)


def _trace(model: InferenceNet, path: Path, size: int) -> None:
    # a non-square trace size different from S: the resizes stay real Resize nodes
    dummy = torch.rand(2, 1, size // 2 + 3, size + 5)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore", DeprecationWarning)  # "legacy TorchScript exporter"
        warnings.filterwarnings("ignore", message="Constant folding", category=UserWarning)
        torch.onnx.export(
            model,
            (dummy,),
            str(path),
            input_names=[INPUT_NAME],
            output_names=list(OUTPUT_NAMES),
            dynamic_axes=_DYNAMIC_AXES,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def _finish_graph(path: Path, meta: ModelMetadata) -> None:
    """Add the metadata, fix the class dimension of ``probs`` and validate the graph."""
    model = onnx.load(str(path))
    model.producer_name = "ugpcl-studio"
    model.producer_version = meta.engine_version
    model.doc_string = (
        "UGPCL segmentation: image (B,1,H,W) float32 normalised to [0,1] -> probs (B,C,H,W), "
        "labels (B,H,W) int64, entropy (B,H,W) float32; metadata under 'ugpcl.*'."
    )
    onnx.helper.set_model_props(model, meta.to_props())
    probs = next(o for o in model.graph.output if o.name == "probs")
    probs.type.tensor_type.shape.dim[1].dim_value = meta.num_classes
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def parity_batches(
    meta: ModelMetadata, image_zyx: np.ndarray | None = None
) -> tuple[list[np.ndarray], str]:
    """Real normalised slices for the parity check.

    Three slices spread over the volume at native size (one batch of 3), and one odd-size crop
    (batch of 1) that exercises the dynamic resize.

    Args:
        meta: the model's metadata (axis and normalisation).
        image_zyx: raw volume, or ``None`` for the bundled chest CT.

    Returns:
        The batches, each (B, 1, H, W) float32, and a description of their source.
    """
    source = "given volume"
    if image_zyx is None:
        from ugpcl_engine.io.volume_files import read_volume
        from ugpcl_engine.sample import sample_paths

        image_zyx, source = read_volume(sample_paths().image).image_zyx, "bundled chest CT"
    stack = take_slices(image_zyx, meta.axis)
    n = stack.shape[0]
    picks = sorted({min(n - 1, max(0, round(n * f))) for f in (0.25, 0.5, 0.75)})
    slices = apply_window(stack[picks], meta.window_for(image_zyx))[:, None]
    h, w = slices.shape[-2:]
    crop_h, crop_w = max(1, (2 * h) // 3) | 1, max(1, (3 * w) // 5) | 1
    crop = slices[:1, :, h - min(h, crop_h) :, : min(w, crop_w)]
    return [np.ascontiguousarray(slices), np.ascontiguousarray(crop)], source


def check_parity(
    model: InferenceNet, path: str | Path, batches: list[np.ndarray]
) -> tuple[float, float, float]:
    """Compare torch and onnxruntime (CPU) on the same batches.

    Args:
        model: the torch graph that was exported.
        path: the ONNX file.
        batches: (B, 1, H, W) float32 normalised slices.

    Returns:
        max |Δ probabilities|, max |Δ entropy| and the fraction of equal labels.

    Raises:
        ParityError: a difference above ``PARITY_TOLERANCE``.
    """
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    dp = de = 0.0
    equal = total = 0
    for batch in batches:
        with torch.no_grad():
            probs, labels, entropy = model(torch.from_numpy(batch))
        o_probs, o_labels, o_entropy = session.run(list(OUTPUT_NAMES), {INPUT_NAME: batch})
        dp = max(dp, float(np.abs(o_probs - probs.numpy()).max()))
        de = max(de, float(np.abs(o_entropy - entropy.numpy()).max()))
        equal += int((o_labels == labels.numpy()).sum())
        total += labels.numel()
    if not (dp <= PARITY_TOLERANCE and de <= PARITY_TOLERANCE):
        raise ParityError(
            f"The exported ONNX graph differs from torch: max |Δp| {dp:.2e}, max |Δentropy| "
            f"{de:.2e} (limit {PARITY_TOLERANCE:g}); the file was not written."
        )
    return dp, de, equal / total
