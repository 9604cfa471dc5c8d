"""A dataset folder opened in the app: its training cases as volumes, the labeled ones with labels.

The app's document holds its volumes in memory, so before any pixel is read the cases' headers
are summed: a cohort whose volumes would take more than half of the memory available now
(``APP_BYTES_PER_VOXEL`` per voxel: the image, labels, prediction and uncertainty the app keeps)
or more than ``MAX_APP_CASES`` cases is refused with a message that points to the headless
``train-dataset`` command, which reads cases lazily. ACDC's 70 training patients (about 0.1 GB)
open; a cohort of 300 CT scans does not. The app then trains on the cases
with its own training path (the child process and trainer of every project): the labeled cases
have every axial slice marked labeled, the other cases are unlabeled data.

MSD cases keep their file's grid (spacing, origin, direction), so labels exported from the app lie
on the image; SSL4MIS volumes store no spacing (1 voxel = 1 unit).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

from ugpcl_engine.datasets.base import CaseRef, Dataset
from ugpcl_engine.datasets.labeled import parse_labeled, select_labeled
from ugpcl_engine.datasets.layout import detect_layout, open_dataset
from ugpcl_engine.errors import CancelledError, InputError
from ugpcl_engine.io.volume_files import read_label_map, read_volume
from ugpcl_engine.volume import LabelMap, Volume, VolumeGeometry

MAX_APP_CASES = 1000
"""Most training cases the app lists (one volume-menu entry each); above, use ``train-dataset``."""

APP_BYTES_PER_VOXEL = 10
"""What the app holds per voxel of an open case: float32 image and uncertainty, uint8 labels
and prediction."""


@dataclass(frozen=True)
class DatasetCase:
    """One training case of a dataset, read for the app.

    Attributes:
        volume: the image (named by the case id).
        labels: its labels (the dataset's label table; all zero for an unlabeled case).
        labeled: whether the case is labeled (every axial slice is then marked labeled).
        source_path: the case's image file.
    """

    volume: Volume
    labels: LabelMap
    labeled: bool
    source_path: Path


@dataclass(frozen=True)
class DatasetSummary:
    """What the app asks about before opening a dataset (its lists only, no image read).

    Attributes:
        name: the folder's name.
        layout: ``"msd"`` or ``"ssl4mis"``.
        unit: what a labeled count counts (``"patients"`` or ``"cases"``).
        units: the training units, in the dataset's order.
        with_labels: the training units that have label files.
        cases: the training cases (volumes).
    """

    name: str
    layout: str
    unit: str
    units: tuple[str, ...]
    with_labels: tuple[str, ...]
    cases: int


def dataset_summary(root: str | Path) -> DatasetSummary:
    """Read a dataset folder's lists for the app's "which cases are labeled" question.

    Raises:
        InputError: not a dataset folder, or crafted lists.
    """
    dataset = open_dataset(root)
    cases = dataset.cases("train")
    labeled = {dataset.unit_of(c) for c in cases if c.labels is not None}
    units = tuple(dataset.units())
    return DatasetSummary(
        dataset.root.name,
        dataset.layout,
        dataset.unit,
        units,
        tuple(u for u in units if u in labeled),
        len(cases),
    )


def is_dataset_folder(path: str | Path) -> bool:
    """True when ``path`` is a folder in the MSD / nnU-Net or SSL4MIS layout."""
    try:
        detect_layout(Path(path))
    except InputError:
        return False
    return True


def read_dataset_cases(
    root: str | Path,
    labeled: str | None = None,
    max_cases: int = MAX_APP_CASES,
    memory_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[DatasetCase]:
    """Read a dataset's training cases for the app, in the dataset's order.

    Args:
        root: the dataset folder (layout detected).
        labeled: which units are labeled, as ``train-dataset --labeled`` (``7``, ``10%``, a file
            of ids); None: every training case that has a label file.
        max_cases: the most training cases accepted.
        memory_bytes: the memory the open cases may take (default: half of the memory
            available now).
        progress: called with (cases read, cases) after each case.
        cancelled: polled before each case; True stops with ``CancelledError``.

    Returns:
        One ``DatasetCase`` per training case (validation and test cases are left out).

    Raises:
        InputError: not a dataset, no training case, more than ``max_cases`` cases or more
            voxels than ``memory_bytes`` holds (the message names ``ugpcl-studio
            train-dataset``), an unreadable case, a bad ``labeled``.
        CancelledError: ``cancelled()`` became true.
    """
    dataset = open_dataset(root)
    cases = dataset.cases("train")
    _check_count(dataset, len(cases), max_cases)
    _check_memory(dataset, cases, memory_bytes)
    chosen = _labeled_units(dataset, cases, labeled)
    read: list[DatasetCase] = []
    for case in cases:
        if cancelled is not None and cancelled():
            raise CancelledError("dataset reading cancelled")
        read.append(_read(dataset, case, dataset.unit_of(case) in chosen))
        if progress is not None:
            progress(len(read), len(cases))
    return read


def _check_count(dataset: Dataset, count: int, max_cases: int) -> None:
    if count == 0:
        raise InputError(f"The dataset {dataset.root.name} lists no training case.")
    if count > max_cases:
        raise InputError(
            f"The dataset {dataset.root.name} has {count} training cases; the app opens at "
            f"most {max_cases}. {_HEADLESS.format(root=dataset.root)}"
        )


_HEADLESS = (
    "Train on the whole cohort with 'ugpcl-studio train-dataset --data {root} --labeled N "
    "--preset standard --out DIR', which reads the cases lazily."
)


def _check_memory(dataset: Dataset, cases: list[CaseRef], memory_bytes: int | None) -> None:
    """Refuse a cohort whose open volumes would not fit in ``memory_bytes``."""
    budget = memory_bytes if memory_bytes is not None else psutil.virtual_memory().available // 2
    needed = sum(dataset.case_voxels(case) for case in cases) * APP_BYTES_PER_VOXEL
    if needed > budget:
        raise InputError(
            f"The dataset {dataset.root.name}'s {len(cases)} training cases would take about "
            f"{needed / 1e9:.1f} GB in the app, more than the {budget / 1e9:.1f} GB it may use "
            f"here (it holds open volumes in memory). {_HEADLESS.format(root=dataset.root)}"
        )


def _labeled_units(dataset: Dataset, cases: list[CaseRef], labeled: str | None) -> set[str]:
    if labeled is not None:
        return set(select_labeled(dataset, parse_labeled(labeled)))
    return {dataset.unit_of(c) for c in cases if c.labels is not None}


def _read(dataset: Dataset, case: CaseRef, labeled: bool) -> DatasetCase:
    if dataset.layout == "msd":
        volume, labels = _read_msd(dataset, case, labeled)
    else:
        volume, labels = _read_arrays(dataset, case, labeled)
    if labels is None:
        zeros = np.zeros(volume.geometry.shape_zyx, np.uint8)
        labels = LabelMap(zeros, volume.geometry, dataset.label_table)
    return DatasetCase(volume, labels, labeled, case.image)


def _read_msd(dataset: Dataset, case: CaseRef, labeled: bool) -> tuple[Volume, LabelMap | None]:
    """An MSD case on its file's grid (spacing, origin and direction kept)."""
    read = read_volume(case.image)
    volume = Volume(read.image_zyx, read.geometry, case.case_id, dataset.modality)
    if not labeled or case.labels is None:
        return volume, None
    return volume, read_label_map(case.labels, dataset.label_table, volume.geometry)


def _read_arrays(dataset: Dataset, case: CaseRef, labeled: bool) -> tuple[Volume, LabelMap | None]:
    """A case read as arrays (SSL4MIS): the grid is its shape and the stored spacing."""
    data = dataset.read_case(case, labels=labeled)
    image = np.ascontiguousarray(data.image_zyx, dtype=np.float32)
    z, y, x = (int(n) for n in image.shape)
    geometry = VolumeGeometry((z, y, x), data.spacing_zyx)
    volume = Volume(image, geometry, case.case_id, dataset.modality)
    if data.labels_zyx is None:
        return volume, None
    return volume, LabelMap(data.labels_zyx, geometry, dataset.label_table)
