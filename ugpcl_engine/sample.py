"""The bundled sample: the 7-class chest CT shipped inside the ``slicerio`` package.

Never downloads: the files are read from the installed package folder
(``slicerio/data/CTChest4.nrrd`` and ``Segmentation.seg.nrrd``, see ``design/DATA.md``).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ugpcl_engine.errors import InputError

SAMPLE_IMAGE = "CTChest4.nrrd"
SAMPLE_LABELS = "Segmentation.seg.nrrd"
SAMPLE_OVERLAPPING = "SegmentationOverlapping.seg.nrrd"
# three axial slices, evenly spread over the labelled extent, that show all seven classes
SAMPLE_LABELED_SLICES = (5, 17, 28)


@dataclass(frozen=True)
class SamplePaths:
    """Paths of the bundled chest CT and its reference segmentation."""

    image: Path
    labels: Path
    overlapping: Path


def sample_paths() -> SamplePaths:
    """Locate the bundled chest CT.

    Returns:
        The image, the 7-class segmentation and the overlapping-segments variant.

    Raises:
        InputError: when the ``slicerio`` package (a dependency) is not installed.
    """
    spec = importlib.util.find_spec("slicerio")
    if spec is None or spec.origin is None:
        raise InputError(
            "The sample data package 'slicerio' is missing; reinstall ugpcl-studio "
            "(pip install -e .) to get it."
        )
    folder = Path(spec.origin).parent / "data"
    paths = SamplePaths(folder / SAMPLE_IMAGE, folder / SAMPLE_LABELS, folder / SAMPLE_OVERLAPPING)
    if not paths.image.exists() or not paths.labels.exists():
        raise InputError(
            f"The sample files are missing from {folder}; reinstall 'slicerio==1.4.0'."
        )
    return paths
