"""The ``ugpcl-studio`` console command.

With a headless subcommand (train, evaluate, export, predict, convert, benchmark) it hands over
to the engine CLI (``run_cli``: that process may import torch, it is not the GUI process).
Otherwise it starts the GUI, which never imports torch. GUI benchmarks live in the app and are
routed here; without the benchmarks installed they end in the engine CLI's one line.
"""

from __future__ import annotations

import importlib
import multiprocessing
import sys

from ugpcl_engine import __version__, missing_benchmark_message, run_cli

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
    if args in (["--version"], ["-V"]):  # answered without loading Qt
        print(f"ugpcl-studio {__version__}")
        return 0
    if args and args[0] in HEADLESS_COMMANDS:
        if args[0] == "benchmark" and len(args) > 1 and args[1] in APP_BENCHMARKS:
            return run_app_benchmark(args[1], args[2:])
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


def run_app_benchmark(name: str, argv: list[str]) -> int:
    """Run a GUI benchmark (``APP_BENCHMARKS``); return its exit code.

    Without ``ugpcl_benchmarks`` or a package of the benchmark extra it prints the engine CLI's
    one line (``ugpcl-studio benchmark: error: ...`` with the pip command) and returns 2; any
    other missing module is a bug and raises.
    """
    try:
        module = importlib.import_module(APP_BENCHMARKS[name])
        return int(module.main(argv))
    except ModuleNotFoundError as err:
        message = missing_benchmark_message(err, name)
        if message is None:
            raise
        print(f"ugpcl-studio benchmark: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
