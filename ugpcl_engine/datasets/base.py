"""What a dataset on disk offers, whatever its layout: cases, slices, splits, lazy reads.

A dataset is an index of file names; nothing of the images is read when it is opened. Images are
read one case (or one slice) at a time, when asked for, so a cohort never sits in memory.

Names come from list files and ``dataset.json``, which come from anywhere: a name is accepted only
when it is a plain file name (letters, digits, ``_``, ``-``, ``.``; no folder part, no ``..``), so
no list can point the reader outside the dataset's folder.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ugpcl_engine.errors import InputError
from ugpcl_engine.volume import LabelTable

SPLITS = ("train", "val", "test")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,199}$")
MAX_LIST_BYTES = 16 << 20
"""Largest list file or ``dataset.json`` read (ACDC's train_slices.list is 40 kB)."""


@dataclass(frozen=True)
class CaseRef:
    """One volume of a dataset.

    Attributes:
        case_id: the volume's name (``patient001_frame01``, ``la_003``).
        patient: the patient it belongs to (ACDC: two frames per patient; MSD: the case).
        image: its image file.
        labels: its label file, or ``None`` when the dataset has none for it.
    """

    case_id: str
    patient: str
    image: Path
    labels: Path | None


@dataclass(frozen=True)
class SliceRef:
    """One 2-D training slice (axial: along the volume's first axis).

    Attributes:
        case_id: the volume it comes from.
        patient: the patient of that volume.
        index: its index along the volume's first axis (``-1`` when a slice file does not say).
        path: its own file (SSL4MIS slice files), or ``None`` (a slice of ``case_id``'s volume).
    """

    case_id: str
    patient: str
    index: int
    path: Path | None = None


@dataclass(frozen=True)
class CaseData:
    """A case read into memory.

    Attributes:
        image_zyx: (Z, Y, X) float32 intensities as stored.
        labels_zyx: (Z, Y, X) uint8 labels, or ``None`` when not asked for or absent.
        spacing_zyx: voxel size in mm; (1, 1, 1) when the files do not store one.
        spacing_known: whether the files stored the spacing (SSL4MIS h5 files do not).
    """

    image_zyx: np.ndarray
    labels_zyx: np.ndarray | None
    spacing_zyx: tuple[float, float, float]
    spacing_known: bool


class Dataset(ABC):
    """A dataset folder: its cases per split, its training slices and its label table.

    Attributes:
        layout: ``"msd"`` or ``"ssl4mis"``.
        root: the dataset folder.
        label_table: the classes, background first.
        modality: ``"CT"``, ``"MR"`` or ``"unknown"`` (chooses the intensity normalisation).
        unit: what a labeled count counts (``"patients"`` or ``"cases"``).
    """

    layout: str
    unit: str

    def __init__(self, root: Path, label_table: LabelTable, modality: str) -> None:
        self.root = root
        self.label_table = label_table
        self.modality = modality

    @abstractmethod
    def cases(self, split: str) -> list[CaseRef]:
        """The cases of ``split`` (``train``, ``val`` or ``test``), in the dataset's order."""

    @abstractmethod
    def units(self) -> list[str]:
        """What a labeled count counts (patients or cases), in the dataset's order."""

    @abstractmethod
    def read_case(self, case: CaseRef, labels: bool = True) -> CaseData:
        """Read one case; ``labels=False`` leaves its label file unread.

        Raises:
            InputError: unreadable or crafted file, label and image shapes that differ.
        """

    @abstractmethod
    def case_voxels(self, case: CaseRef) -> int:
        """The voxels of one case's image, from its header (no pixels read).

        Raises:
            InputError: a missing, unreadable or crafted file.
        """

    def unit_of(self, case: CaseRef | SliceRef) -> str:
        """The unit (patient or case) a case or slice belongs to."""
        return case.patient if self.unit == "patients" else case.case_id

    def describe(self) -> str:
        """One line for logs: layout, counts, classes."""
        counts = ", ".join(f"{s} {len(self.cases(s))}" for s in SPLITS)
        names = ", ".join(self.label_table.names[1:])
        return (
            f"{self.layout} dataset {self.root.name}: {len(self.units())} training "
            f"{self.unit}; volumes {counts}; classes {names}"
        )

    def check_values(self, labels: np.ndarray, where: str) -> None:
        """Refuse label values beyond the table.

        Raises:
            InputError: a value >= the number of classes.
        """
        top = int(labels.max()) if labels.size else 0
        if top >= self.label_table.num_classes:
            raise InputError(
                f"{where} holds label value {top} but the dataset has classes "
                f"0..{self.label_table.num_classes - 1}; list every class under 'labels' in "
                "the dataset's dataset.json."
            )


def check_name(name: str, where: str) -> str:
    """Return ``name`` if it is a plain file name, else refuse it.

    Args:
        name: a case, slice or file name read from a list or ``dataset.json``.
        where: the file it came from, for the message.

    Raises:
        InputError: a name with a folder part, ``..``, or characters a case name never has.
    """
    if not _NAME.match(name) or ".." in name:
        shown = name if len(name) <= 60 else name[:57] + "..."
        raise InputError(
            f"{where} names '{shown}', which is not a plain case name (letters, digits, _ - . "
            "only, no folders); fix that line of the list."
        )
    return name


def read_list(path: Path) -> list[str]:
    """The non-empty lines of a list file, stripped, in file order (never sorted).

    Raises:
        InputError: missing, too large or not text; a line that is not a plain name.
    """
    text = read_text(path)
    return [check_name(line.strip(), path.name) for line in text.splitlines() if line.strip()]


def read_text(path: Path) -> str:
    """A small UTF-8 text file of the dataset.

    Raises:
        InputError: missing, larger than ``MAX_LIST_BYTES`` or not UTF-8.
    """
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise InputError(
                f"{path.name} is {size >> 20} MB, far larger than any list of a dataset; "
                "check that it is the right file."
            )
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path} is missing; the dataset folder needs it.") from None
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not a UTF-8 text file; give the list as text.") from None
    except OSError as err:
        raise InputError(f"Cannot read {path}: {err.strerror}.") from None


def check_pair(image_shape: tuple[int, ...], label_shape: tuple[int, ...], where: str) -> None:
    """Refuse labels whose shape differs from their image's.

    Raises:
        InputError: the shapes differ.
    """
    if tuple(image_shape) != tuple(label_shape):
        raise InputError(
            f"{where}: the label shape {tuple(label_shape)} differs from the image shape "
            f"{tuple(image_shape)}; resample the labels onto the image grid or fix the case."
        )


def check_split(split: str) -> str:
    """Return ``split`` when it is one of ``SPLITS``.

    Raises:
        InputError: any other name.
    """
    if split not in SPLITS:
        raise InputError(f"Unknown split '{split}': use {', '.join(SPLITS)}.")
    return split
