"""ugpcl_engine: the UGPCL segmentation engine (torch + numpy, never Qt).

Its public surface is what the app (``app.ui``, ``app.assist``, ``app.jobs``, ``app.state``
and the launcher) uses; the app imports these names from here and never an engine submodule
(an import contract). Every module behind them is torch-free, so the GUI process can use them;
the headless commands that need torch start through ``run_cli``.

The names are exported lazily: ``import ugpcl_engine`` loads none of torch, SimpleITK, h5py or
onnxruntime, and ``from ugpcl_engine import Volume`` loads only the module that defines it.
The ``TYPE_CHECKING`` imports give the type checker the same names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ugpcl_engine.version import __version__

if TYPE_CHECKING:
    from ugpcl_engine.config import PRESETS, RunSpec, preset
    from ugpcl_engine.datasets.app_cases import (
        MAX_APP_CASES,
        DatasetCase,
        DatasetSummary,
        dataset_summary,
        is_dataset_folder,
        read_dataset_cases,
    )
    from ugpcl_engine.errors import CancelledError, InputError
    from ugpcl_engine.headless import headless_commands, missing_benchmark_message, run_cli
    from ugpcl_engine.inference.commands import export_in_subprocess
    from ugpcl_engine.inference.model_metadata import ExportReport, ParityError, TrainingGrid
    from ugpcl_engine.inference.ort_providers import ProviderReport
    from ugpcl_engine.inference.ort_segmenter import OrtSegmenter
    from ugpcl_engine.interpolation import interpolate_labels
    from ugpcl_engine.io.dicom_scan import (
        DicomScan,
        DicomSeriesEntry,
        scan_dicom_folder,
        series_files_of,
    )
    from ugpcl_engine.io.dicom_series import list_dicom_series
    from ugpcl_engine.io.journal import (
        EditJournal,
        JournalBase,
        Mark,
        ReplayVolume,
        journal_has_records,
        journal_path_for,
        read_journal,
        replay,
    )
    from ugpcl_engine.io.label_table_text import read_label_entries, table_with_entries
    from ugpcl_engine.io.orientation import VIEW_EDGES, display_transform
    from ugpcl_engine.io.project_file import (
        Project,
        ProjectVolume,
        load_project,
        remove_stale_temps,
        save_project,
    )
    from ugpcl_engine.io.segmentation_export import export_segmentation
    from ugpcl_engine.io.segmentation_open import (
        SEGMENTATION_SUFFIXES,
        OpenedSegmentation,
        open_segmentation,
    )
    from ugpcl_engine.io.volume_files import (
        read_label_map,
        read_volume,
        write_array,
        write_label_map,
    )
    from ugpcl_engine.metrics import slice_dice
    from ugpcl_engine.sample import SAMPLE_LABELED_SLICES, sample_paths
    from ugpcl_engine.segment_codes import Concept, SegmentCode, code_for
    from ugpcl_engine.training.channel import (
        ChildTarget,
        EventReceiver,
        EventSender,
        SharedFlag,
        child_main,
        shared_index,
    )
    from ugpcl_engine.training.events import (
        Failed,
        Finished,
        Preview,
        Progress,
        Stage,
        Started,
        Validation,
    )
    from ugpcl_engine.training.run_folder import (
        RunFolder,
        SnapshotVolume,
        combined_hash,
        file_sha256,
        labeled_hash,
        launch_child,
        write_volumes_snapshot,
    )
    from ugpcl_engine.training.run_request import RunRequest, default_threads
    from ugpcl_engine.training.scratch import claim_runs_root, discard_run, drop_snapshot
    from ugpcl_engine.uncertainty import default_threshold, rank_slices, uncertain_regions
    from ugpcl_engine.volume import (
        DEFAULT_COLORS,
        LabelClass,
        LabelMap,
        LabelTable,
        Volume,
        VolumeGeometry,
        axis_index,
    )

_MODULES: dict[str, tuple[str, ...]] = {
    # volumes, labels and their files
    "ugpcl_engine.volume": (
        "DEFAULT_COLORS",
        "LabelClass",
        "LabelMap",
        "LabelTable",
        "Volume",
        "VolumeGeometry",
        "axis_index",
    ),
    "ugpcl_engine.errors": ("CancelledError", "InputError"),
    "ugpcl_engine.io.volume_files": (
        "read_label_map",
        "read_volume",
        "write_array",
        "write_label_map",
    ),
    "ugpcl_engine.io.dicom_series": ("list_dicom_series",),
    "ugpcl_engine.io.dicom_scan": (
        "DicomScan",
        "DicomSeriesEntry",
        "scan_dicom_folder",
        "series_files_of",
    ),
    "ugpcl_engine.io.label_table_text": ("read_label_entries", "table_with_entries"),
    "ugpcl_engine.io.orientation": ("VIEW_EDGES", "display_transform"),
    "ugpcl_engine.io.segmentation_export": ("export_segmentation",),
    "ugpcl_engine.io.segmentation_open": (
        "SEGMENTATION_SUFFIXES",
        "OpenedSegmentation",
        "open_segmentation",
    ),
    "ugpcl_engine.segment_codes": ("Concept", "SegmentCode", "code_for"),
    "ugpcl_engine.sample": ("SAMPLE_LABELED_SLICES", "sample_paths"),
    # dataset folders (MSD / nnU-Net, SSL4MIS) opened as a project
    "ugpcl_engine.datasets.app_cases": (
        "MAX_APP_CASES",
        "DatasetCase",
        "DatasetSummary",
        "dataset_summary",
        "is_dataset_folder",
        "read_dataset_cases",
    ),
    # projects and the crash journal
    "ugpcl_engine.io.project_file": (
        "Project",
        "ProjectVolume",
        "ProviderReport",
        "load_project",
        "remove_stale_temps",
        "save_project",
    ),
    "ugpcl_engine.io.journal": (
        "EditJournal",
        "JournalBase",
        "Mark",
        "ReplayVolume",
        "journal_has_records",
        "journal_path_for",
        "read_journal",
        "replay",
    ),
    # training in a child process: what to run, its folder, its events, its channel
    "ugpcl_engine.config": ("PRESETS", "RunSpec", "preset"),
    "ugpcl_engine.training.run_request": ("RunRequest", "default_threads"),
    "ugpcl_engine.training.run_folder": (
        "RunFolder",
        "SnapshotVolume",
        "combined_hash",
        "file_sha256",
        "labeled_hash",
        "launch_child",
        "write_volumes_snapshot",
    ),
    "ugpcl_engine.training.scratch": ("claim_runs_root", "discard_run", "drop_snapshot"),
    "ugpcl_engine.training.events": (
        "Failed",
        "Finished",
        "Preview",
        "Progress",
        "Stage",
        "Started",
        "Validation",
    ),
    "ugpcl_engine.training.channel": (
        "ChildTarget",
        "EventReceiver",
        "EventSender",
        "SharedFlag",
        "child_main",
        "shared_index",
    ),
    # uncertainty, ONNX models (onnxruntime) and the export child
    "ugpcl_engine.uncertainty": ("default_threshold", "rank_slices", "uncertain_regions"),
    "ugpcl_engine.inference.ort_segmenter": ("OrtSegmenter",),
    "ugpcl_engine.inference.ort_providers": ("ProviderReport",),
    "ugpcl_engine.inference.model_metadata": ("ExportReport", "ParityError", "TrainingGrid"),
    "ugpcl_engine.inference.commands": ("export_in_subprocess",),
    # fill between slices (ITK in a child process) and the held-out slice's Dice
    "ugpcl_engine.interpolation": ("interpolate_labels",),
    "ugpcl_engine.metrics": ("slice_dice",),
    # the headless commands (torch, in their own process)
    "ugpcl_engine.headless": ("headless_commands", "missing_benchmark_message", "run_cli"),
}

_LAZY = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "DEFAULT_COLORS",
    "MAX_APP_CASES",
    "PRESETS",
    "SAMPLE_LABELED_SLICES",
    "SEGMENTATION_SUFFIXES",
    "VIEW_EDGES",
    "CancelledError",
    "ChildTarget",
    "Concept",
    "DatasetCase",
    "DatasetSummary",
    "DicomScan",
    "DicomSeriesEntry",
    "EditJournal",
    "EventReceiver",
    "EventSender",
    "ExportReport",
    "Failed",
    "Finished",
    "InputError",
    "JournalBase",
    "LabelClass",
    "LabelMap",
    "LabelTable",
    "Mark",
    "OpenedSegmentation",
    "OrtSegmenter",
    "ParityError",
    "Preview",
    "Progress",
    "Project",
    "ProjectVolume",
    "ProviderReport",
    "ReplayVolume",
    "RunFolder",
    "RunRequest",
    "RunSpec",
    "SegmentCode",
    "SharedFlag",
    "SnapshotVolume",
    "Stage",
    "Started",
    "TrainingGrid",
    "Validation",
    "Volume",
    "VolumeGeometry",
    "__version__",
    "axis_index",
    "child_main",
    "claim_runs_root",
    "code_for",
    "combined_hash",
    "dataset_summary",
    "default_threads",
    "default_threshold",
    "discard_run",
    "display_transform",
    "drop_snapshot",
    "export_in_subprocess",
    "export_segmentation",
    "file_sha256",
    "headless_commands",
    "interpolate_labels",
    "is_dataset_folder",
    "journal_has_records",
    "journal_path_for",
    "labeled_hash",
    "launch_child",
    "list_dicom_series",
    "load_project",
    "missing_benchmark_message",
    "open_segmentation",
    "preset",
    "rank_slices",
    "read_dataset_cases",
    "read_journal",
    "read_label_entries",
    "read_label_map",
    "read_volume",
    "remove_stale_temps",
    "replay",
    "run_cli",
    "sample_paths",
    "save_project",
    "scan_dicom_folder",
    "series_files_of",
    "shared_index",
    "slice_dice",
    "table_with_entries",
    "uncertain_regions",
    "write_array",
    "write_label_map",
    "write_volumes_snapshot",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ugpcl_engine' has no attribute {name!r}")
