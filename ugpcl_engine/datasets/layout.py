"""Open a dataset folder: its layout given or detected (``--layout auto|msd|ssl4mis``)."""

from __future__ import annotations

from pathlib import Path

from ugpcl_engine.datasets.base import Dataset
from ugpcl_engine.datasets.msd import MSDDataset
from ugpcl_engine.datasets.ssl4mis import SLICE_LIST, SSL4MISDataset
from ugpcl_engine.errors import InputError

LAYOUTS = ("auto", "msd", "ssl4mis")


def detect_layout(root: Path) -> str:
    """``"msd"`` when ``root`` has ``dataset.json`` and ``imagesTr/``, ``"ssl4mis"`` when it has
    ``train_slices.list`` and ``data/slices/``.

    Raises:
        InputError: not a folder, or neither layout (the message lists what each needs).
    """
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give the dataset's folder with --data.")
    msd = (root / "dataset.json").is_file() and (root / "imagesTr").is_dir()
    ssl = (root / SLICE_LIST).is_file() and (root / "data" / "slices").is_dir()
    if msd and ssl:
        raise InputError(
            f"{root} holds both an MSD and an SSL4MIS layout; choose one with --layout."
        )
    if msd or ssl:
        return "msd" if msd else "ssl4mis"
    raise InputError(
        f"{root} is neither an MSD/nnU-Net dataset (dataset.json + imagesTr/) nor an SSL4MIS "
        f"one ({SLICE_LIST} + data/slices/); give the folder that holds them."
    )


def open_dataset(root: str | Path, layout: str = "auto") -> Dataset:
    """Open a dataset folder without reading any image.

    Args:
        root: the dataset folder.
        layout: ``auto``, ``msd`` or ``ssl4mis``.

    Returns:
        The dataset.

    Raises:
        InputError: unknown layout, a folder that is not that layout, unusable lists.
    """
    root = Path(root)
    if layout not in LAYOUTS:
        raise InputError(f"Unknown layout '{layout}': use {', '.join(LAYOUTS)}.")
    chosen = detect_layout(root) if layout == "auto" else layout
    if not root.is_dir():
        raise InputError(f"{root} is not a folder; give the dataset's folder with --data.")
    return MSDDataset(root) if chosen == "msd" else SSL4MISDataset(root)
