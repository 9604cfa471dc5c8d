"""Building documents from files and writing them back, through the engine's data layer.

These functions are plain and blocking; ``app.jobs`` runs them on worker threads. Loaders build
a complete new ``Document`` (or raise ``InputError``) so the open document is never half-changed;
savers take a snapshot first so that painting may go on while the file is written.

Uncertainty is written as float16 (half the size after gzip of float32; entropy in nats keeps
about three significant digits, far finer than any threshold or colour map needs) and read back
as float32; predictions stay uint8.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from app.state.document import AXIS_NAMES, Document, DocumentOrigin, SavePlan, VolumeItem
from ugpcl_engine import (
    SAMPLE_LABELED_SLICES,
    CancelledError,
    InputError,
    LabelMap,
    LabelTable,
    Project,
    ProjectVolume,
    Volume,
    VolumeGeometry,
    export_segmentation,
    is_dataset_folder,
    list_dicom_series,
    load_project,
    read_dataset_cases,
    read_label_map,
    read_volume,
    remove_stale_temps,
    sample_paths,
    save_project,
    series_files_of,
)

PROJECT_SUFFIX = ".ugpcl"
_LABEL_HINTS = ("label", "seg", "mask")


def is_project_path(path: Path) -> bool:
    """True for a ``.ugpcl`` project file."""
    return path.name.lower().endswith(PROJECT_SUFFIX)


def project_file(path: Path) -> Path:
    """The file a save to ``path`` writes (``.ugpcl`` appended when missing)."""
    return path if is_project_path(path) else path.with_name(path.name + PROJECT_SUFFIX)


def remove_stale_save_temps(entries: Sequence[Sequence[str]]) -> list[Path]:
    """At start: delete what saves killed midway left beside the recent projects.

    A save writes a temp file the size of the project beside it and renames it at the end; a
    kill in between leaves the temp. Only temps whose writer process is gone are deleted (a
    save running in a second app instance keeps its file).

    Args:
        entries: the recent-files entries (lists of paths opened together).

    Returns:
        The temp files deleted.
    """
    folders = {Path(p).parent for entry in entries for p in entry if is_project_path(Path(p))}
    return [temp for folder in sorted(folders) for temp in remove_stale_temps(folder)]


def _looks_like_labels(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(".seg.nrrd") or any(hint in name for hint in _LABEL_HINTS)


def load_paths(
    paths: Sequence[str | Path],
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Document:
    """Open files as one document.

    A ``.ugpcl`` path opens that project (alone), a dataset folder (MSD / nnU-Net or SSL4MIS
    layout) opens its training cases (alone, see ``load_dataset``). Otherwise each image (file
    or DICOM folder) becomes a volume; a following file whose name says label/seg/mask (or
    ``.seg.nrrd``) and that lies on the same grid becomes that volume's labels, and the axial
    slices that hold a label are marked labeled.

    Args:
        paths: one project, or images optionally each followed by its labels.
        progress: called with (files or dataset cases read, their number) after each one (a
            single file reports nothing: its reader cannot say how far it is).
        cancelled: polled before each file or case; True stops with ``CancelledError``.

    Returns:
        A new document.

    Raises:
        InputError: nothing given, an unreadable file, or labels on another grid.
        CancelledError: ``cancelled()`` became true.
    """
    items: list[VolumeItem] = []
    resolved = [Path(p) for p in paths]
    if not resolved:
        raise InputError("Nothing to open: choose an image, a DICOM folder or a project.")
    if any(is_project_path(p) for p in resolved):
        if len(resolved) != 1:
            raise InputError("Open a project on its own, not together with other files.")
        return load_project_document(resolved[0])
    if any(p.is_dir() and is_dataset_folder(p) for p in resolved):
        if len(resolved) != 1:
            raise InputError("Open a dataset folder on its own, not together with other files.")
        return load_dataset(resolved[0], progress=progress, cancelled=cancelled)
    for done, path in enumerate(resolved):
        if cancelled is not None and cancelled():
            raise CancelledError("opening cancelled")
        if progress is not None and len(resolved) > 1:
            progress(done, len(resolved))
        if items and _looks_like_labels(path) and not items[-1].labels.labels_zyx.any():
            geometry = items[-1].volume.geometry
            items[-1] = VolumeItem.new(
                items[-1].volume, read_label_map(path, geometry=geometry), items[-1].source_path
            )
            mark_slices_holding_labels(items[-1])
            continue
        items.append(VolumeItem.new(read_volume(path), source_path=path))
    doc = Document(items)
    doc.origin = DocumentOrigin("paths", tuple(str(p.absolute()) for p in resolved))
    return doc


def mark_slices_holding_labels(item: VolumeItem) -> None:
    """Mark the axial slices that hold a label as labeled, as the sample, dataset folders and
    File › Open segmentation do: labels opened from a file are the user's annotation (a slice
    without any label stays unlabeled data, never background)."""
    labels = item.labels.labels_zyx
    item.labeled["z"][:] = labels.reshape(labels.shape[0], -1).any(axis=1)


def load_dataset(
    root: Path,
    labeled: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Document:
    """Open a dataset folder's training cases as a document, one volume per case.

    The labeled cases carry their labels with every axial slice marked labeled; the others are
    empty and unmarked, so training uses them as unlabeled data. The first labeled case is
    shown (a run previews the volume shown). Datasets above the engine's
    ``MAX_APP_CASES`` training cases are refused (the message names ``train-dataset``).

    Args:
        root: the dataset folder.
        labeled: which cases are labeled, as ``train-dataset --labeled``; None: every case that
            has a label file.
        progress: called with (cases read, cases) after each case.
        cancelled: polled before each case; True stops with ``CancelledError``.

    Returns:
        A new document; its origin reads the dataset again (for the crash journal).

    Raises:
        InputError: not a dataset, too many cases, an unreadable case.
    """
    items = []
    for case in read_dataset_cases(root, labeled, progress=progress, cancelled=cancelled):
        item = VolumeItem.new(case.volume, case.labels, case.source_path)
        item.labeled["z"][:] = case.labeled
        items.append(item)
    doc = Document(items)
    doc.current = next((k for k, item in enumerate(items) if item.labeled["z"].any()), 0)
    where = str(root.absolute())
    if labeled is None:
        doc.origin = DocumentOrigin("paths", (where,))
    else:
        doc.origin = DocumentOrigin("dataset", (where, labeled))
    return doc


def load_added_volumes(
    paths: Sequence[str | Path],
    table: LabelTable,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> list[VolumeItem]:
    """Read images (or a project's volumes) to add to an open document.

    Reading follows ``load_paths`` (an image may be followed by its labels). A volume that
    comes without labels gets empty labels with the open document's label table, so that its
    classes match the rest of the project.

    Args:
        paths: images, each optionally followed by its labels, or one project.
        table: label table of the open document's shown volume.
        progress, cancelled: as ``load_paths``.

    Returns:
        The new volumes (predictions of a project's volumes carried along).

    Raises:
        InputError: as ``load_paths``.
    """
    items = load_paths(paths, progress, cancelled).items
    for item in items:
        if not item.labels.labels_zyx.any():
            item.labels = LabelMap(item.labels.labels_zyx, item.labels.geometry, table)
    return items


def load_sample() -> Document:
    """The bundled chest CT with its reference labels kept only on the sample slices.

    Returns:
        A document whose axial slices ``SAMPLE_LABELED_SLICES`` hold the reference labels and
        are marked labeled; every other slice is unlabeled (empty).
    """
    paths = sample_paths()
    volume = read_volume(paths.image)
    reference = read_label_map(paths.labels, geometry=volume.geometry)
    sparse = np.zeros_like(reference.labels_zyx)
    keep = [k for k in SAMPLE_LABELED_SLICES if k < sparse.shape[0]]
    sparse[keep] = reference.labels_zyx[keep]
    item = VolumeItem.new(volume, LabelMap(sparse, volume.geometry, reference.table), paths.image)
    item.labeled["z"][keep] = True
    doc = Document([item])
    doc.origin = DocumentOrigin("sample")
    return doc


def load_origin(origin: DocumentOrigin) -> Document:
    """Read a document again from where it came, to replay its edit journal onto it.

    Args:
        origin: ``Document.origin`` as journaled.

    Returns:
        A new document, as the loader that first read it built it.

    Raises:
        InputError: the origin is unknown or its files cannot be read any more.
    """
    if origin.kind == "sample":
        return load_sample()
    if origin.kind == "project" and len(origin.paths) == 1:
        return load_project_document(Path(origin.paths[0]))
    if origin.kind == "paths" and origin.paths:
        return load_paths(origin.paths)
    if origin.kind == "dataset" and len(origin.paths) == 2:
        return load_dataset(Path(origin.paths[0]), origin.paths[1])
    raise InputError(f"Unknown document origin {origin.kind!r}; the edits cannot be replayed.")


def load_project_document(path: Path) -> Document:
    """Open a ``.ugpcl`` project as a document (predictions and uncertainty carried along)."""
    project = load_project(path)
    if not project.volumes:
        raise InputError(f"The project {path.name} holds no volume; import an image instead.")
    items = []
    for pv in project.volumes:
        item = VolumeItem.new(
            pv.volume, pv.labels, Path(pv.source_path) if pv.source_path else None
        )
        for axis in AXIS_NAMES:
            if axis in pv.labeled_slices:
                item.labeled[axis][:] = np.asarray(pv.labeled_slices[axis], bool)
        uncertainty = {k: np.asarray(a, np.float32) for k, a in pv.uncertainty.items()}
        item.extras = {"predictions": pv.predictions, "uncertainty": uncertainty}
        items.append(item)
    doc = Document(items, project_path=path)
    doc.origin = DocumentOrigin("project", (str(path.absolute()),))
    doc.records = {"runs": list(project.runs), "models": list(project.models)}
    return doc


@dataclass
class Snapshot:
    """A copy of what gets saved, taken on the GUI thread, written on a worker thread.

    Attributes:
        project: what the project file gets.
        copies: ``(source, destination)`` files to copy before the project is written.
    """

    project: Project
    copies: list[tuple[Path, Path]] = field(default_factory=list)


def snapshot(doc: Document, path: Path | None = None) -> Snapshot:
    """Copy the document's labels and marks (images are shared: they never change).

    When the destination is known (``path``, else ``doc.project_path``), ``doc.saving`` is
    emitted first with a ``SavePlan``: listeners may store results in the document and ask
    for files to be copied beside the project.

    Args:
        doc: the open document.
        path: where it is about to be saved (None: its project path, if any).

    Returns:
        A project that later edits do not touch, with the files to copy.
    """
    copies: list[tuple[Path, Path]] = []
    target = path or doc.project_path
    if target is not None:
        plan = SavePlan(project_file(target))
        doc.saving.emit(plan)
        copies = plan.copies
    volumes = []
    for item in doc.items:
        labels = LabelMap(item.labels.labels_zyx.copy(), item.labels.geometry, item.labels.table)
        volume = Volume(
            item.volume.image_zyx,
            item.volume.geometry,
            item.volume.name,
            item.volume.modality,
            item.volume.header_window,
        )
        volumes.append(
            ProjectVolume(
                volume,
                labels,
                {a: m.copy() for a, m in item.labeled.items()},
                str(item.source_path) if item.source_path else None,
                dict(item.extras.get("predictions", {})),
                dict(item.extras.get("uncertainty", {})),
            )
        )
    # the worker writes these copies, so that records changed meanwhile (a later save points a
    # checkpoint elsewhere, a run finishes) do not race with it
    runs = [dict(r) for r in doc.records["runs"]]
    models = [dict(m) for m in doc.records["models"]]
    return Snapshot(Project(volumes, runs, models), copies)


def save_snapshot(path: Path, snap: Snapshot, cancelled: Callable[[], bool] | None = None) -> Path:
    """Copy the snapshot's files, then write it as a project file (atomic; see ``save_project``).

    Uncertainty arrays are written as float16 (see the module docstring). ``cancelled`` is
    polled between the steps until the new file replaces the old one (``CancelledError``:
    the previous project file is left as it was).

    Returns:
        The path written (``.ugpcl`` appended when missing).

    Raises:
        InputError: a file could not be copied or the project could not be written; the
            previous project file is left as it was.
    """
    path = project_file(path)
    for source, destination in snap.copies:
        if cancelled is not None and cancelled():
            raise CancelledError("save cancelled; the previous file is unchanged")
        _copy_file(source, destination)
    volumes = [
        replace(pv, uncertainty={k: np.asarray(a, np.float16) for k, a in pv.uncertainty.items()})
        for pv in snap.project.volumes
    ]
    save_project(path, replace(snap.project, volumes=volumes), cancelled)
    return path


def _copy_file(source: Path, destination: Path) -> None:
    """Copy a file through a temporary name, so a half-written copy never has the real name."""
    partial = destination.with_name(destination.name + ".part")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, partial)
        os.replace(partial, destination)
    except OSError as err:
        raise InputError(
            f"Could not copy the model file {source} to {destination.parent} "
            f"({err.strerror or err}); the project was not saved. Check that the folder is "
            "writable and the disk has space, then save again."
        ) from None


def export_labels(
    path: Path,
    labels: LabelMap,
    source_path: Path | None = None,
    source_geometry: VolumeGeometry | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Path:
    """Export a label map on the source grid, with a label table beside it.

    Formats by suffix (``export_segmentation``): NIfTI, NRRD, ``.seg.nrrd`` (names and colours
    in the header), MHA, and ``.dcm`` DICOM-SEG when the image came from a DICOM folder.

    Args:
        path: destination file.
        labels: the labels (a snapshot).
        source_path: the image's DICOM folder or one file of its DICOM series, for DICOM-SEG.
        source_geometry: the image grid the labels must lie on.
        cancelled: polled before writing starts (``CancelledError``: nothing written).

    Returns:
        The label file written.

    Raises:
        InputError: unknown suffix, DICOM-SEG without a DICOM source, unwritable destination.
    """
    dicom_files = None
    if path.name.lower().endswith(".dcm") and source_path is not None and source_path.is_dir():
        series = list_dicom_series(source_path)
        dicom_files = list(series[0].files) if series else None
    elif path.name.lower().endswith(".dcm") and source_path is not None and source_path.is_file():
        files = series_files_of(source_path)  # a series opened through one of its files
        dicom_files = list(files) if files else None
    if cancelled is not None and cancelled():
        raise CancelledError("export cancelled; nothing was written")
    written = export_segmentation(
        labels, path, source_geometry=source_geometry, source_dicom_files=dicom_files
    )
    return written[0]
