"""The layout of the UGPCL / SSL4MIS code for ACDC, read as is.

::

    ROOT/train_slices.list   slice names, one a line; the labeled ones first (never sorted)
    ROOT/train.list          training volumes (optional)
    ROOT/val.list            validation volumes
    ROOT/test.list           test volumes
    ROOT/data/slices/<volume>_slice_<i>.h5   'image' H×W float32, 'label' H×W
    ROOT/data/<volume>.h5                    'image' D×H×W, 'label' D×H×W
    ROOT/dataset.json        optional: "labels" as in MSD (default: ACDC's four classes)

A volume ``patientXXX_frameYY`` belongs to patient ``patientXXX``: labeled counts count
patients. Images are stored min–max normalised to [0, 1] per volume, without voxel spacing.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from ugpcl_engine.datasets.base import (
    CaseData,
    CaseRef,
    Dataset,
    SliceRef,
    check_split,
    read_list,
)
from ugpcl_engine.datasets.h5_files import declared_shape, read_pair
from ugpcl_engine.datasets.label_json import ACDC_TABLE, label_table, read_dataset_json
from ugpcl_engine.errors import InputError

SLICE_LIST = "train_slices.list"
_FRAME = re.compile(r"_frame\d+$")


def patient_of(volume: str) -> str:
    """``patient001_frame01`` → ``patient001``; a name without a frame is its own patient."""
    return _FRAME.sub("", volume)


def parse_slice_name(name: str) -> tuple[str, int]:
    """``patient001_frame01_slice_7`` → (``patient001_frame01``, 7); no ``_slice_``: (name, -1)."""
    volume, sep, index = name.rpartition("_slice_")
    if sep and index.isdigit():
        return volume, int(index)
    return name, -1


class SSL4MISDataset(Dataset):
    """An SSL4MIS-prepared dataset folder (see the module docstring).

    Args:
        root: the folder holding ``train_slices.list`` and ``data/``.

    Raises:
        InputError: a list that is missing or names something that is not a plain name, a
            ``dataset.json`` whose labels cannot be used.
    """

    layout = "ssl4mis"
    unit = "patients"

    def __init__(self, root: Path) -> None:
        meta = root / "dataset.json"
        table = label_table(read_dataset_json(meta), meta.name) if meta.is_file() else ACDC_TABLE
        super().__init__(root, table, "MR")
        self._slices = [self._slice(name) for name in read_list(root / SLICE_LIST)]
        if not self._slices:
            raise InputError(f"{root / SLICE_LIST} is empty; list the training slices in it.")

    def _slice(self, name: str) -> SliceRef:
        volume, index = parse_slice_name(name)
        path = self.root / "data" / "slices" / f"{name}.h5"
        return SliceRef(volume, patient_of(volume), index, path)

    def cases(self, split: str) -> list[CaseRef]:
        """Volumes of ``train.list`` (else those of the training slices), ``val.list`` or
        ``test.list``; a missing list is an empty split."""
        name = {"train": "train.list", "val": "val.list", "test": "test.list"}[check_split(split)]
        path = self.root / name
        if path.is_file():
            names = read_list(path)
        elif split == "train":
            names = list(dict.fromkeys(s.case_id for s in self._slices))
        else:
            names = []
        return [self._case(v) for v in names]

    def _case(self, volume: str) -> CaseRef:
        path = self.root / "data" / f"{volume}.h5"
        return CaseRef(volume, patient_of(volume), path, path)

    def training_slices(self) -> list[SliceRef]:
        """The slices of ``train_slices.list`` in file order (never sorted)."""
        return list(self._slices)

    def units(self) -> list[str]:
        """Patients in order of their first slice in ``train_slices.list``."""
        return list(dict.fromkeys(s.patient for s in self._slices))

    def read_case(self, case: CaseRef, labels: bool = True) -> CaseData:
        """Read ``data/<volume>.h5`` (D×H×W); spacing unknown (1 voxel = 1 unit)."""
        image, label = read_pair(case.image, 3, labels)
        if label is not None:
            self.check_values(label, case.image.name)
        return CaseData(image, label, (1.0, 1.0, 1.0), False)

    def case_voxels(self, case: CaseRef) -> int:
        """D×H×W of ``data/<volume>.h5``'s image, from the file's header."""
        return math.prod(declared_shape(case.image, 3))

    def read_slice(self, ref: SliceRef, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Read one slice file: (H×W float32 image, H×W uint8 labels or None)."""
        assert ref.path is not None
        image, label = read_pair(ref.path, 2, labels)
        if label is not None:
            self.check_values(label, ref.path.name)
        return image, label
