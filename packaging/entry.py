"""Entry script of the frozen (PyInstaller) build: the same ``main`` as ``ugpcl-studio``.

``freeze_support`` comes first: a spawned training or export child of the frozen app is this
very executable started with ``--multiprocessing-fork`` (PyInstaller's multiprocessing runtime
hook makes that work on Linux and macOS too); it must run the child's work and exit before any
GUI code is touched.

``--mci-worker ARGS`` runs Fill between slices' ITK child (``ugpcl_engine.interpolation``
starts the frozen executable so, having no Python to run ``_mci_worker.py`` with).

``--frozen-self-test`` (this build only; ``packaging/smoke.sh`` runs it) starts the modules the
GUI's spawned children run, the training child and the ONNX export (torch, onnx, onnxruntime),
each in a ``spawn`` child of this executable, exactly as the GUI starts them, and exits 0 when
both loaded.

``--frozen-fill-test`` (this build only; ``packaging/smoke.sh`` runs it) runs Fill between
slices as the GUI does (``interpolate_labels``, which starts this executable with
``--mci-worker``) on a tiny volume, two discs on slices 0 and 10, and exits 0 when the result
keeps those slices and has the disc on slice 5.
"""

import importlib
import multiprocessing
import sys

SPAWNED_MODULES = ("ugpcl_engine.training.child", "ugpcl_engine.inference.onnx_export")


def self_test() -> int:
    """Import each of ``SPAWNED_MODULES`` in a spawned child; 0 when every child succeeded."""
    ctx = multiprocessing.get_context("spawn")
    failed = 0
    for module in SPAWNED_MODULES:
        child = ctx.Process(target=importlib.import_module, args=(module,), name="self-test")
        child.start()
        child.join(timeout=600)
        ok = child.exitcode == 0
        failed += not ok
        print(f"spawned child importing {module}: {'ok' if ok else f'FAILED ({child.exitcode})'}")
    return 1 if failed else 0


def fill_test() -> int:
    """Fill between two labeled discs (slices 0 and 10 of 11); 0 when the result is right."""
    import numpy as np

    from ugpcl_engine import interpolate_labels

    yy, xx = np.mgrid[:48, :48]
    disc = (yy - 24) ** 2 + (xx - 22) ** 2 < 10**2
    labels = np.zeros((11, 48, 48), np.uint8)
    labels[0][disc] = labels[10][disc] = 1
    try:
        filled = interpolate_labels(labels, [0, 10], axis="z", extrapolate=False)
    except Exception as error:  # any failure is the test's answer, with its message
        problems = [f"{type(error).__name__}: {error}"]
    else:
        problems = fill_problems(labels, filled, disc)
    print(f"fill between slices: {'FAILED (' + '; '.join(problems) + ')' if problems else 'ok'}")
    return 1 if problems else 0


def fill_problems(labels, filled, disc) -> list[str]:
    """What is wrong with ``filled``: the labeled slices 0 and 10 of ``labels`` must come back
    unchanged, and slice 5 must hold the same ``disc`` (90 % intersection over union)."""
    import numpy as np

    if filled.shape != labels.shape:
        return [f"shape {filled.shape} instead of {labels.shape}"]
    problems = [f"slice {k} changed" for k in (0, 10) if not np.array_equal(filled[k], labels[k])]
    middle = filled[5] == 1
    overlap = np.logical_and(middle, disc).sum() / np.logical_or(middle, disc).sum()
    if overlap < 0.9:
        problems.append(f"slice 5 matches the disc by {overlap:.0%} (intersection over union)")
    if not set(np.unique(filled).tolist()) <= {0, 1}:
        problems.append(f"label values {np.unique(filled).tolist()}, not 0 and 1")
    return problems


if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:] == ["--frozen-self-test"]:
        sys.exit(self_test())
    if sys.argv[1:] == ["--frozen-fill-test"]:
        sys.exit(fill_test())
    if sys.argv[1:2] == ["--mci-worker"]:  # ugpcl_engine.interpolation.FROZEN_WORKER_FLAG
        import os

        from ugpcl_engine import _mci_worker

        code = _mci_worker.main(sys.argv[2:])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # as the worker's own __main__: ITK may corrupt the heap at exit
    from app.launcher import main

    sys.exit(main())
