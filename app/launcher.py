"""The ``ugpcl-studio`` console command.

With a headless subcommand (train, evaluate, export, predict, convert, benchmark) it hands over
to the engine CLI (``run_cli``: that process may import torch, it is not the GUI process).
Otherwise it starts the GUI, which never imports torch. GUI benchmarks live in the app and are
routed here.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys

from ugpcl_engine import run_cli

HEADLESS_COMMANDS = (
    "train",
    "evaluate",
    "export",
    "predict",
    "convert",
    "benchmark",
    "train-dataset",
    "evaluate-dataset",
)
APP_BENCHMARKS = {
    "gui": "app.benchmarks.gui",
    "first-model": "app.benchmarks.first_model",
    "responsiveness": "app.benchmarks.responsiveness",
    "reliability": "app.benchmarks.reliability",
}


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the headless CLI or the GUI; return the exit code."""
    multiprocessing.freeze_support()  # frozen builds: spawned training/export children
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in HEADLESS_COMMANDS:
        if args[0] == "benchmark" and len(args) > 1 and args[1] in APP_BENCHMARKS:
            module = importlib.import_module(APP_BENCHMARKS[args[1]])
            return int(module.main(args[2:]))
        return run_cli(args)
    try:
        gui = importlib.import_module("app.ui.main_window")
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("app.ui"):
            print(
                "The GUI is not built yet; use a subcommand such as 'ugpcl-studio train'.",
                file=sys.stderr,
            )
            return 2
        raise
    return int(gui.main(args))


if __name__ == "__main__":
    sys.exit(main())
