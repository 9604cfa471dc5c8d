"""The two real labeled volumes of the accuracy benchmarks (``design/DATA.md``).

- ``chest``: the bundled 7-class chest CT (``slicerio``), 34 × 128 × 128, 10 × 3 × 3 mm.
- ``brain``: the MNI ICBM 2009a symmetric template shipped inside ``nilearn`` (benchmark extra),
  T1 plus grey- and white-matter probability maps, 1 mm, skull-stripped. Label 0 outside the
  brain (T1 == 0), else ``argmax(1 - gm - wm, gm, wm) + 1`` → 1 CSF/other, 2 grey matter,
  3 white matter. Cropped to the brain's bounding box and averaged over ``factor``³ blocks
  (2 mm by default: 78 × 91 × 73) so that one quick training run stays short on a CPU; the
  label is computed from the block-averaged maps (a block is brain when most of it is).
- ``brain1mm``: the same template at its native 1 mm on its whole grid (189 × 233 × 197, not
  cropped: a real-size volume, background included, as a scanner would write it), labels from
  the maps themselves.

Never downloads anything: both are read from installed packages.
"""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.errors import InputError
from ugpcl_engine.io.volume_files import read_label_map, read_volume
from ugpcl_engine.sample import sample_paths
from ugpcl_engine.volume import LabelClass, LabelTable

VOLUMES = ("chest", "brain", "brain1mm")
BRAIN_FILE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
BRAIN_TABLE = LabelTable(
    (
        LabelClass(0, "background", (0, 0, 0)),
        LabelClass(1, "CSF/other", (111, 184, 210)),
        LabelClass(2, "grey matter", (177, 122, 101)),
        LabelClass(3, "white matter", (241, 214, 145)),
    )
)


@dataclass(frozen=True)
class LabeledVolume:
    """An image with its complete reference segmentation.

    Attributes:
        name: ``"chest"``, ``"brain"`` or ``"brain1mm"``.
        image_zyx: intensities (Z, Y, X).
        labels_zyx: uint8 reference labels (Z, Y, X), values index ``table``.
        spacing_zyx: voxel size in mm.
        modality: ``"CT"`` or ``"MR"`` (chooses the normalisation).
        table: the label classes, background first.
    """

    name: str
    image_zyx: np.ndarray
    labels_zyx: np.ndarray
    spacing_zyx: tuple[float, float, float]
    modality: str
    table: LabelTable


def load_chest() -> LabeledVolume:
    """The bundled chest CT and its 7-class segmentation.

    Raises:
        InputError: the ``slicerio`` package or its files are missing.
    """
    paths = sample_paths()
    volume = read_volume(paths.image)
    ref = read_label_map(paths.labels, geometry=volume.geometry)
    return LabeledVolume(
        "chest",
        volume.image_zyx,
        ref.labels_zyx.astype(np.uint8),
        volume.geometry.spacing_zyx,
        volume.modality,
        ref.table,
    )


def brain_template_folder() -> Path:
    """Folder of the MNI template files inside the installed ``nilearn`` package.

    Raises:
        InputError: ``nilearn`` is not installed or lacks the files.
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or spec.origin is None:
        raise InputError(
            "The brain benchmark volume needs the 'nilearn' package (benchmark extra): "
            "pip install 'ugpcl-studio[benchmark]' or pip install nilearn==0.14.1."
        )
    folder = Path(spec.origin).parent / "datasets" / "data"
    missing = [t for t in ("t1", "gm", "wm") if not (folder / BRAIN_FILE.format(t)).exists()]
    if missing:
        raise InputError(
            f"The MNI template files ({', '.join(missing)}) are missing from {folder}; "
            "reinstall nilearn==0.14.1."
        )
    return folder


def _block_mean(array_zyx: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor``³ blocks (edges padded with the edge value)."""
    pad = [(0, (-n) % factor) for n in array_zyx.shape]
    a = np.pad(array_zyx.astype(np.float32), pad, mode="edge")
    z, y, x = (n // factor for n in a.shape)
    blocks = a.reshape(z, factor, y, factor, x, factor)
    return np.asarray(blocks.mean(axis=(1, 3, 5)), dtype=np.float32)


def brain_labels(t1_zyx: np.ndarray, gm_zyx: np.ndarray, wm_zyx: np.ndarray) -> np.ndarray:
    """Tissue labels from the template maps (any common scale, e.g. uint8 0-255 or [0, 1]).

    Args:
        t1_zyx: T1 intensities; the brain is where they exceed 0 (or 0.5 after averaging a mask).
        gm_zyx: grey-matter probability, same shape and scale as ``wm_zyx``.
        wm_zyx: white-matter probability.

    Returns:
        uint8 labels (Z, Y, X): 0 outside the brain, 1 CSF/other, 2 grey matter, 3 white matter.
    """
    gm = gm_zyx.astype(np.float32)
    wm = wm_zyx.astype(np.float32)
    scale = 255.0 if max(float(gm.max(initial=0)), float(wm.max(initial=0))) > 1.0 else 1.0
    stacked = np.stack([scale - gm - wm, gm, wm])
    labels: np.ndarray = (np.argmax(stacked, axis=0) + 1).astype(np.uint8)
    labels[t1_zyx <= 0] = 0
    return labels


def load_brain(factor: int = 2, crop: bool = True) -> LabeledVolume:
    """The MNI T1 template with 3 tissue classes, cropped to the brain, ``factor`` mm voxels.

    Args:
        factor: block size of the downsampling (1 = the native 1 mm grid).
        crop: crop to the brain's bounding box first (False: the template's whole grid).

    Returns:
        The volume; ``image_zyx`` float32 (block mean of the T1, 0 outside the brain).

    Raises:
        InputError: ``nilearn`` or its template files are missing.
        ValueError: ``factor < 1``.
    """
    if factor < 1:
        raise ValueError(f"factor must be >= 1, got {factor}")
    folder = brain_template_folder()
    maps = {
        t: sitk.GetArrayFromImage(sitk.ReadImage(str(folder / BRAIN_FILE.format(t))))
        for t in ("t1", "gm", "wm")
    }
    brain = np.nonzero(maps["t1"] > 0)
    box = (
        tuple(slice(int(i.min()), int(i.max()) + 1) for i in brain)
        if crop
        else tuple(slice(0, n) for n in maps["t1"].shape)
    )
    t1 = maps["t1"][box]
    inside = _block_mean((t1 > 0).astype(np.float32), factor) >= 0.5
    labels = brain_labels(
        np.where(inside, 1.0, 0.0),
        _block_mean(maps["gm"][box], factor),
        _block_mean(maps["wm"][box], factor),
    )
    image = np.where(inside, _block_mean(t1, factor), 0.0).astype(np.float32)
    spacing = (float(factor), float(factor), float(factor))
    return LabeledVolume("brain", image, labels, spacing, "MR", BRAIN_TABLE)


def load_volume(name: str) -> LabeledVolume:
    """Load a benchmark volume by name (``"chest"``, ``"brain"`` or ``"brain1mm"``).

    Raises:
        InputError: unknown name or missing package.
    """
    if name == "chest":
        return load_chest()
    if name == "brain":
        return load_brain()
    if name == "brain1mm":
        return replace(load_brain(1, crop=False), name="brain1mm")
    raise InputError(f"Unknown benchmark volume '{name}': use one of {', '.join(VOLUMES)}.")


@functools.lru_cache(maxsize=len(VOLUMES))
def cached_volume(name: str) -> LabeledVolume:
    """``load_volume`` once per process: a benchmark worker runs many tasks on the same volumes.

    The arrays are shared between callers: read them, never write to them.
    """
    return load_volume(name)
