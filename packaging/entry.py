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


if __name__ == "__main__":
    multiprocessing.freeze_support()
    if sys.argv[1:] == ["--frozen-self-test"]:
        sys.exit(self_test())
    if sys.argv[1:2] == ["--mci-worker"]:  # ugpcl_engine.interpolation.FROZEN_WORKER_FLAG
        import os

        from ugpcl_engine import _mci_worker

        code = _mci_worker.main(sys.argv[2:])
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)  # as the worker's own __main__: ITK may corrupt the heap at exit
    from app.launcher import main

    sys.exit(main())
