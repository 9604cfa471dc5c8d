"""The open document: one or more volumes with their labels and labeled-slice marks.

Only ``LabelEditor`` writes label values; everyone else reads. Changes are announced with a
``Region`` (a box in z, y, x voxel indices) so that views redraw only when the box meets the
slice they show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.state.observable import Signal
from ugpcl_engine import LabelMap, LabelTable, Volume, axis_index

AXIS_NAMES = ("z", "y", "x")


@dataclass(frozen=True)
class Region:
    """A box of voxels.

    Attributes:
        origin_zyx: first voxel index along z, y, x.
        shape_zyx: box size along z, y, x (each >= 1).
    """

    origin_zyx: tuple[int, int, int]
    shape_zyx: tuple[int, int, int]

    def meets(self, axis: str, index: int) -> bool:
        """Return True when the box holds voxels of slice ``index`` along ``axis``."""
        a = axis_index(axis)
        return self.origin_zyx[a] <= index < self.origin_zyx[a] + self.shape_zyx[a]

    def slices(self) -> tuple[slice, slice, slice]:
        """The numpy index of the box in a ``*_zyx`` array."""
        o, s = self.origin_zyx, self.shape_zyx
        return (slice(o[0], o[0] + s[0]), slice(o[1], o[1] + s[1]), slice(o[2], o[2] + s[2]))


@dataclass
class VolumeItem:
    """One volume of the document with everything attached to it.

    Attributes:
        volume: the image.
        labels: the label map on the image grid (``labels.labels_zyx`` is uint8, C-contiguous).
        labeled: per axis name (``"z"``, ``"y"``, ``"x"``) a bool array, True where the slice
            is marked labeled (shape = number of slices along that axis).
        source_path: file or folder the image came from, if any.
        extras: data the app carries through unchanged (predictions, uncertainty) when the
            project is saved again.
    """

    volume: Volume
    labels: LabelMap
    labeled: dict[str, np.ndarray]
    source_path: Path | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def new(
        cls, volume: Volume, labels: LabelMap | None = None, source_path: Path | None = None
    ) -> VolumeItem:
        """Wrap a volume, with empty labels (two classes) when ``labels`` is None.

        Args:
            volume: the image.
            labels: labels on the same grid, or None.
            source_path: where the image came from.

        Returns:
            The item with no slice marked labeled.
        """
        if labels is None:
            labels = LabelMap(
                np.zeros(volume.geometry.shape_zyx, np.uint8),
                volume.geometry,
                LabelTable.default(2),
            )
        labels.labels_zyx = np.ascontiguousarray(labels.labels_zyx, dtype=np.uint8)
        shape = volume.geometry.shape_zyx
        marks = {a: np.zeros(shape[i], bool) for i, a in enumerate(AXIS_NAMES)}
        return cls(volume, labels, marks, source_path)

    def latest_prediction(self) -> tuple[str, np.ndarray, np.ndarray] | None:
        """The newest stored model result of this volume.

        Returns:
            ``(model_version, labels_zyx, entropy_zyx)`` (uint8 and float (Z, Y, X) on the
            volume's grid) of the last version stored with both arrays, or None.
        """
        predictions = self.extras.get("predictions", {})
        uncertainty = self.extras.get("uncertainty", {})
        for version in reversed(list(predictions)):
            if version in uncertainty:
                return version, predictions[version], uncertainty[version]
        return None


@dataclass(frozen=True)
class DocumentOrigin:
    """Where a document was read from, so that it can be read again to replay a journal.

    Attributes:
        kind: ``"project"`` (a ``.ugpcl`` file), ``"paths"`` (images, each optionally followed
            by its labels, as given to ``load_paths``; a dataset folder opened with its default
            labeled cases), ``"dataset"`` (a dataset folder with a chosen labeled subset) or
            ``"sample"`` (the bundled sample).
        paths: the absolute paths read (none for the sample; for ``"dataset"`` the folder and
            the ``--labeled`` value).
    """

    kind: str
    paths: tuple[str, ...] = ()


@dataclass
class SavePlan:
    """What a save writes besides the document's own data (announced on ``Document.saving``).

    Attributes:
        project_path: the ``.ugpcl`` file about to be written.
        copies: ``(source, destination)`` files copied before the project is written (model
            checkpoints kept beside the project), so that the project never names a file that
            is not there.
    """

    project_path: Path
    copies: list[tuple[Path, Path]] = field(default_factory=list)


class Document:
    """What the user is working on.

    Attributes:
        items: the volumes (at least one).
        current: index of the volume shown.
        project_path: where the project was last saved or opened, or None.
        modified: True when there are changes not yet saved.
        revision: counts changes (every ``modified = True``), so that a save can tell whether
            the document changed while its snapshot was being written.
        origin: where the document was read from (None: built in memory).
        hidden: label values not drawn.
        locked: label values that painting never overwrites.
        labels_changed: emits the ``Region`` whose labels changed (current volume).
        marks_changed: emits the axis name whose labeled-slice marks changed.
        table_changed: emits None when names, colours, hidden or locked flags changed.
        modified_changed: emits the new ``modified`` value when it flips.
        predictions_changed: emits the index of a volume whose stored predictions changed.
        records: project records the app carries through (``"runs"``, ``"models"``).
        saving: emits a ``SavePlan`` on the GUI thread just before a save copies the document
            (``app.state.files.snapshot``); listeners bring in what must be saved with it
            (the assist loop: the model version in use) and add files to copy.
    """

    def __init__(self, items: list[VolumeItem], project_path: Path | None = None) -> None:
        if not items:
            raise ValueError("a document needs at least one volume")
        self.items = items
        self.current = 0
        self.project_path = project_path
        self._modified = False
        self.revision = 0
        self.origin: DocumentOrigin | None = None
        self.modified_changed: Signal[bool] = Signal()
        self.hidden: set[int] = set()
        self.locked: set[int] = set()
        self.records: dict[str, list[dict[str, Any]]] = {"runs": [], "models": []}
        self.labels_changed: Signal[Region] = Signal()
        self.marks_changed: Signal[str] = Signal()
        self.table_changed: Signal[None] = Signal()
        self.predictions_changed: Signal[int] = Signal()
        self.saving: Signal[SavePlan] = Signal()

    @property
    def modified(self) -> bool:
        """True when there are changes not yet saved (``modified_changed`` announces flips)."""
        return self._modified

    @modified.setter
    def modified(self, value: bool) -> None:
        if value:
            self.revision += 1
        if value != self._modified:
            self._modified = value
            self.modified_changed.emit(value)

    @property
    def item(self) -> VolumeItem:
        """The volume shown."""
        return self.items[self.current]

    @property
    def labels_zyx(self) -> np.ndarray:
        """Label array (Z, Y, X) uint8 of the volume shown (read it; write via LabelEditor)."""
        return self.item.labels.labels_zyx

    @property
    def table(self) -> LabelTable:
        """Label table of the volume shown."""
        return self.item.labels.table

    @property
    def title(self) -> str:
        """Short name for window titles."""
        if self.project_path is not None:
            return self.project_path.name
        return self.item.volume.name

    def store_prediction(
        self, index: int, model_version: str, labels_zyx: np.ndarray, entropy_zyx: np.ndarray
    ) -> None:
        """Keep a model's result with volume ``index`` (saved with the project).

        A result of the same ``model_version`` is replaced and becomes the newest one.

        Args:
            index: the volume.
            model_version: id of the model (the key in the project file).
            labels_zyx: (Z, Y, X) predicted labels on the volume's grid (stored as uint8).
            entropy_zyx: (Z, Y, X) uncertainty in nats (stored as float32).

        Raises:
            IndexError: no volume ``index``.
            ValueError: an array whose shape is not the volume's.
        """
        item = self.items[index]
        shape = tuple(item.volume.geometry.shape_zyx)
        if tuple(labels_zyx.shape) != shape or tuple(entropy_zyx.shape) != shape:
            raise ValueError(
                f"prediction {labels_zyx.shape} / uncertainty {entropy_zyx.shape} do not match "
                f"volume {index} of shape {shape}"
            )
        for key, array in (
            ("predictions", np.ascontiguousarray(labels_zyx, dtype=np.uint8)),
            ("uncertainty", np.ascontiguousarray(entropy_zyx, dtype=np.float32)),
        ):
            stored = item.extras.setdefault(key, {})
            stored.pop(model_version, None)  # re-insert: the newest result is the last key
            stored[model_version] = array
        self.modified = True
        self.predictions_changed.emit(index)

    def slice_count(self, axis: str) -> int:
        """Number of slices along ``axis``."""
        return int(self.item.volume.geometry.shape_zyx[axis_index(axis)])

    def is_labeled(self, axis: str, index: int) -> bool:
        """True when slice ``index`` along ``axis`` is marked labeled."""
        return bool(self.item.labeled[axis][index])


def slice_of(array_zyx: np.ndarray, axis: str, index: int) -> np.ndarray:
    """Return a 2-D view of one slice (rows, cols), writable when the array is.

    Args:
        array_zyx: array (Z, Y, X).
        axis: ``"z"`` gives (Y, X), ``"y"`` gives (Z, X), ``"x"`` gives (Z, Y).
        index: slice index along ``axis``.

    Returns:
        A numpy view (not a copy).
    """
    key: list[int | slice] = [slice(None), slice(None), slice(None)]
    key[axis_index(axis)] = index
    view: np.ndarray = array_zyx[tuple(key)]
    return view


def region_of_slice_box(axis: str, index: int, rows: slice, cols: slice) -> Region:
    """Turn a box in a slice (rows, cols) into a 3-D ``Region``.

    Args:
        axis: slice axis name.
        index: slice index.
        rows: row range in the slice (start and stop set).
        cols: column range in the slice (start and stop set).

    Returns:
        The one-voxel-thick region.
    """
    r0, r1, c0, c1 = int(rows.start), int(rows.stop), int(cols.start), int(cols.stop)
    a = axis_index(axis)
    if a == 0:
        return Region((index, r0, c0), (1, r1 - r0, c1 - c0))
    if a == 1:
        return Region((r0, index, c0), (r1 - r0, 1, c1 - c0))
    return Region((r0, c0, index), (r1 - r0, c1 - c0, 1))
