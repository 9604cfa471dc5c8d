"""Training slices of a dataset on the network's S×S grid, read one at a time.

Every slice is stretched to S×S with nearest-neighbour sampling (pixel centres), image and
labels alike, as the SSL4MIS loaders do (``zoom(order=0)``) and as ``evaluate-dataset`` resizes
by default, so training and the published evaluation see the same pixels.

- ``SliceFileStore`` (SSL4MIS): each slice has its own h5 file; one is read per draw.
- ``CaseCacheStore`` (MSD): a NIfTI volume cannot be read a slice at a time, so each training
  case is read once, normalised, resized and written to ``<cache>/<case>.npy`` (and its labels,
  for the labeled cases only); draws read single slices through memory maps. One case is in
  memory at a time while the cache is written; an existing cache written with the same
  settings from the same files is reused (a resumed run does not rebuild it).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ugpcl_engine.config import NormalisationConfig
from ugpcl_engine.data.normalisation import (
    IntensityWindow,
    apply_window,
    resolve_mode,
    resolve_window,
)
from ugpcl_engine.datasets.base import CaseRef, Dataset, SliceRef
from ugpcl_engine.datasets.prediction import resize_nearest
from ugpcl_engine.datasets.ssl4mis import SSL4MISDataset

FIXED_WINDOW = IntensityWindow("ct", 0.0, 1.0)
"""SSL4MIS images are stored min–max normalised to [0, 1]: a fixed window keeps them as is
(``mode`` ``"ct"`` means a fixed window, reused as is by every inference path)."""


def to_grid(stack: np.ndarray, side: int) -> np.ndarray:
    """Nearest-neighbour stretch of (N, H, W) to (N, side, side), dtype kept."""
    if stack.shape[1:] == (side, side):
        return stack
    out = resize_nearest(torch.from_numpy(np.ascontiguousarray(stack)), (side, side))
    return out.numpy().astype(stack.dtype)


class SliceFileStore:
    """Slices of an SSL4MIS dataset, each read from its own file.

    Args:
        dataset: the dataset.
        side: S.
        window: the intensity window (``FIXED_WINDOW`` for the stored [0, 1] images).
    """

    def __init__(self, dataset: SSL4MISDataset, side: int, window: IntensityWindow) -> None:
        self.dataset, self.side, self.window = dataset, side, window

    def load(self, ref: SliceRef, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(S×S float32 normalised image, S×S uint8 labels or None)."""
        image, label = self.dataset.read_slice(ref, labels)
        img = to_grid(apply_window(image, self.window)[None], self.side)[0]
        return img, None if label is None else to_grid(label[None], self.side)[0]


class CaseCacheStore:
    """Slices of MSD cases, from a cache of normalised S×S stacks written once.

    Args:
        dataset: the dataset.
        cases: the training cases.
        labeled: ids of the cases whose labels are read.
        side: S.
        normalisation: how each case's window is found (``resolve_window``).
        folder: the cache folder.
        progress: called with (cases done, cases) while the cache is written.
    """

    def __init__(
        self,
        dataset: Dataset,
        cases: Sequence[CaseRef],
        labeled: set[str],
        side: int,
        normalisation: NormalisationConfig,
        folder: Path,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.side, self.folder = side, folder
        self.windows: dict[str, IntensityWindow] = {}
        self.depths: dict[str, int] = {}
        folder.mkdir(parents=True, exist_ok=True)
        mode = resolve_mode(normalisation, dataset.modality)
        for done, case in enumerate(cases, 1):
            self._cache(dataset, case, case.case_id in labeled, mode, normalisation)
            if progress is not None:
                progress(done, len(cases))
        self._maps: dict[tuple[str, str], np.ndarray] = {}

    def _cache(
        self, dataset: Dataset, case: CaseRef, labeled: bool, mode: str, cfg: NormalisationConfig
    ) -> None:
        key = {
            "side": self.side,
            "labeled": labeled,
            "mode": mode,
            "normalisation": [cfg.mode, list(cfg.ct_window), list(cfg.percentiles)],
            "files": [_stamp(case.image), _stamp(case.labels) if labeled else None],
        }
        meta = self.folder / f"{case.case_id}.json"
        if meta.is_file():
            saved = json.loads(meta.read_text())
            if saved.get("key") == key:
                self.windows[case.case_id] = IntensityWindow(*saved["window"])
                self.depths[case.case_id] = int(saved["depth"])
                return
        meta.unlink(missing_ok=True)  # a cache half rewritten must never look complete
        data = dataset.read_case(case, labels=labeled)
        window = resolve_window(data.image_zyx, mode, cfg)
        image = to_grid(apply_window(data.image_zyx, window), self.side)
        np.save(self.folder / f"{case.case_id}.image.npy", image)
        if data.labels_zyx is not None:
            np.save(self.folder / f"{case.case_id}.labels.npy", to_grid(data.labels_zyx, self.side))
        record = {
            "key": key,
            "window": [window.mode, window.low, window.high],
            "depth": int(image.shape[0]),
        }
        meta.write_text(json.dumps(record))
        self.windows[case.case_id], self.depths[case.case_id] = window, int(image.shape[0])

    def slices(self, case_ids: Sequence[str]) -> list[SliceRef]:
        """Every slice of these cases, case by case."""
        return [SliceRef(c, c, z) for c in case_ids for z in range(self.depths[c])]

    def _map(self, case_id: str, what: str) -> np.ndarray:
        key = (case_id, what)
        if key not in self._maps:
            self._maps[key] = np.load(self.folder / f"{case_id}.{what}.npy", mmap_mode="r")
        return self._maps[key]

    def load(self, ref: SliceRef, labels: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """(S×S float32 normalised image, S×S uint8 labels or None), read through memory maps."""
        image = np.array(self._map(ref.case_id, "image")[ref.index])
        label = np.array(self._map(ref.case_id, "labels")[ref.index]) if labels else None
        return image, label


def _stamp(path: Path | None) -> list[object] | None:
    if path is None:
        return None
    stat = path.stat()
    return [path.name, stat.st_size, stat.st_mtime_ns]
