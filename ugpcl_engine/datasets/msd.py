"""The Medical Segmentation Decathlon / nnU-Net raw layout.

::

    ROOT/dataset.json                 "labels", "modality" (v1) or "channel_names" (v2),
                                      optional "training" list and "file_ending"
    ROOT/imagesTr/<case>_0000.nii.gz  training images (channel 0; MSD's own <case>.nii.gz too)
    ROOT/labelsTr/<case>.nii.gz       their labels (a training image without one is unlabeled)
    ROOT/imagesTs/<case>_0000.nii.gz  test images
    ROOT/labelsTs/<case>.nii.gz       optional test labels (``evaluate-dataset --split test``)
    ROOT/val.list                     optional: training cases held out for validation

Case order: the ``training`` list of ``dataset.json`` when it has one (MSD, nnU-Net v1), else
the file names sorted. Only channel 0 of multi-channel cases is read (the network is
single-channel); ``describe`` says so.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from ugpcl_engine.datasets.base import (
    CaseData,
    CaseRef,
    Dataset,
    check_name,
    check_split,
    read_list,
)
from ugpcl_engine.datasets.label_json import channels, label_table, modality, read_dataset_json
from ugpcl_engine.errors import InputError
from ugpcl_engine.io.itk_quiet import itk_warnings_off
from ugpcl_engine.io.volume_files import read_label_map, read_volume

ENDINGS = (".nii.gz", ".nii", ".nrrd", ".mha", ".mhd")
CHANNEL_0 = "_0000"


class MSDDataset(Dataset):
    """An MSD / nnU-Net raw dataset folder (see the module docstring).

    Args:
        root: the folder holding ``dataset.json``, ``imagesTr`` and ``labelsTr``.

    Raises:
        InputError: ``dataset.json`` missing or unusable, a listed case without its image,
            ``val.list`` naming a case that is not a training case.
    """

    layout = "msd"
    unit = "cases"

    def __init__(self, root: Path) -> None:
        meta = read_dataset_json(root / "dataset.json")
        super().__init__(root, label_table(meta, "dataset.json"), modality(meta))
        self.channels = channels(meta)
        self.ending = _ending(meta)
        self._training = [self._case(c, "Tr") for c in self._training_ids(meta)]
        if not self._training:
            raise InputError(f"{root / 'imagesTr'} holds no {self.ending} image; add the cases.")
        known = {c.case_id for c in self._training}
        val = root / "val.list"
        self._val = read_list(val) if val.is_file() else []
        unknown = [v for v in self._val if v not in known]
        if unknown:
            raise InputError(
                f"val.list names '{unknown[0]}', which is not a training case; list cases of "
                "imagesTr only."
            )

    def _training_ids(self, meta: dict[str, Any]) -> list[str]:
        entries = meta.get("training")
        if not isinstance(entries, list) or not entries:
            return self._discover(self.root / "imagesTr")
        ids = []
        for entry in entries:
            image = entry.get("image") if isinstance(entry, dict) else entry
            if not isinstance(image, str):
                raise InputError(
                    "dataset.json: a 'training' entry has no 'image' path; fix the entry or "
                    "remove the 'training' list (the files are then found in imagesTr)."
                )
            ids.append(self._strip(Path(image).name))
        return list(dict.fromkeys(ids))

    def _strip(self, name: str) -> str:
        if not name.endswith(self.ending):
            raise InputError(
                f"dataset.json lists '{name}', not a {self.ending} file; fix the list or its "
                "'file_ending'."
            )
        case = name[: -len(self.ending)]
        return check_name(case.removesuffix(CHANNEL_0), "dataset.json")

    def _discover(self, folder: Path) -> list[str]:
        if not folder.is_dir():
            return []
        ending = self.ending
        stems = sorted(p.name[: -len(ending)] for p in folder.iterdir() if p.name.endswith(ending))
        # nnU-Net names channels <case>_0000, _0001...: then only channel 0 names a case
        first = [s.removesuffix(CHANNEL_0) for s in stems if s.endswith(CHANNEL_0)]
        return [check_name(s, folder.name) for s in (first or stems)]

    def _case(self, case_id: str, part: str) -> CaseRef:
        images, labels = self.root / f"images{part}", self.root / f"labels{part}"
        image = images / f"{case_id}{CHANNEL_0}{self.ending}"
        if not image.is_file():
            image = images / f"{case_id}{self.ending}"
        if not image.is_file():
            raise InputError(
                f"Case {case_id} has no image {images.name}/{case_id}{CHANNEL_0}{self.ending}; "
                "add it or take the case out of dataset.json."
            )
        label = labels / f"{case_id}{self.ending}"
        return CaseRef(case_id, case_id, image, label if label.is_file() else None)

    def cases(self, split: str) -> list[CaseRef]:
        """Training cases (less ``val.list``), the ``val.list`` cases, or ``imagesTs``."""
        if check_split(split) == "test":
            return [self._case(c, "Ts") for c in self._discover(self.root / "imagesTs")]
        held_out = set(self._val)
        return [c for c in self._training if (c.case_id in held_out) == (split == "val")]

    def units(self) -> list[str]:
        """Training case ids in the dataset's order."""
        return [c.case_id for c in self.cases("train")]

    def read_case(self, case: CaseRef, labels: bool = True) -> CaseData:
        """Read the image (channel 0) and, when asked and present, the labels on its grid."""
        volume = read_volume(case.image)
        label = None
        if labels and case.labels is not None:
            label_map = read_label_map(case.labels, self.label_table, volume.geometry)
            label = label_map.labels_zyx
        image = np.asarray(volume.image_zyx, dtype=np.float32)
        return CaseData(image, label, volume.geometry.spacing_zyx, True)

    def case_voxels(self, case: CaseRef) -> int:
        """The voxels of one channel of the case's image, from its header."""
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(case.image))
        try:
            with itk_warnings_off():
                reader.ReadImageInformation()
        except RuntimeError:
            raise InputError(
                f"{case.image.name} is not a readable image; replace it with the dataset's file."
            ) from None
        return math.prod(int(n) for n in reader.GetSize()[:3])

    def describe(self) -> str:
        """The base line, plus the channel note for multi-channel datasets."""
        note = f"; {self.channels} channels, channel 0 used" if self.channels > 1 else ""
        return super().describe() + note


def _ending(meta: dict[str, Any]) -> str:
    ending = meta.get("file_ending", ".nii.gz")
    if ending not in ENDINGS:
        raise InputError(
            f"dataset.json: file_ending {ending!r} is not supported; use one of "
            f"{', '.join(ENDINGS)}."
        )
    return str(ending)
