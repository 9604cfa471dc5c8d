"""Child process for ``interpolation.interpolate_labels`` (run by file path, numpy + itk only).

ITK's MorphologicalContourInterpolator intermittently corrupts the heap (seen as
``malloc_consolidate(): unaligned fastbin chunk`` aborts at interpreter exit in about 1 run in 8),
so it runs here, in a throw-away process that leaves with ``os._exit`` once its result is saved.

Usage: ``python _mci_worker.py IN.npy OUT.npy ITK_AXIS SLICES EXTRAPOLATE(0|1)`` with SLICES
like ``5,17,28``; exit code 3 when the
ITK module is not installed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import numpy as np


def _filter_class() -> Any:
    import itk

    try:  # the direct import skips loading every ITK module (about 3 s instead of 10 s)
        from itk.itkMorphologicalContourInterpolatorPython import (
            itkMorphologicalContourInterpolatorIUC3,
        )

        return itkMorphologicalContourInterpolatorIUC3
    except ImportError:
        return itk.MorphologicalContourInterpolator[itk.Image[itk.UC, 3]]


def main(argv: list[str]) -> int:
    """Interpolate the uint8 volume saved in ``argv[0]`` and save the result to ``argv[1]``."""
    source, target, itk_axis, slices, extrapolate = argv
    try:
        import itk

        filter_class = _filter_class()
    except (ImportError, AttributeError):
        return 3
    sparse = np.ascontiguousarray(np.load(source), dtype=np.uint8)
    interpolator = filter_class.New(itk.image_from_array(sparse))
    interpolator.SetAxis(int(itk_axis))
    interpolator.SetUseCustomSlicePositions(True)
    indices = [int(v) for v in slices.split(",")]
    for value in np.unique(sparse):
        if value != 0:
            interpolator.SetLabeledSliceIndices(int(itk_axis), int(value), indices)
    interpolator.SetUseExtrapolation(extrapolate == "1")
    interpolator.Update()
    np.save(target, np.array(itk.array_from_image(interpolator.GetOutput()), dtype=np.uint8))
    return 0


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
