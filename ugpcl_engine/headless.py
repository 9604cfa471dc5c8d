"""The hand-over from the app's launcher to the headless engine (torch-free until it runs).

``run_cli`` loads the engine CLI (``ugpcl_engine.cli``) by module name only when a headless
command runs, so the GUI process, which imports the engine's public names, never loads it nor
torch. The benchmarks (``ugpcl_benchmarks`` and the packages of the benchmark extra) are
optional; the engine CLI, the benchmark runner and the launcher's GUI benchmarks turn a missing
one into the same one line (``missing_benchmark_message``).
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

CLI_MODULE = "ugpcl_engine.cli"
BENCHMARK_PACKAGE = "ugpcl_benchmarks"
BENCHMARK_INSTALL = "pip install 'ugpcl-studio[benchmark]'"
"""The one line that installs the benchmarks and their extra."""

EXTRA_MODULES = ("sklearn", "nilearn")
"""Top-level modules of the benchmark extra's packages (pyproject ``benchmark``; ITK's contour
interpolation is a dependency of the app itself, for Fill between slices)."""


def run_cli(argv: Sequence[str]) -> int:
    """Run one headless subcommand (``train``, ``predict``, ``benchmark``, ...).

    Args:
        argv: the subcommand and its arguments, without the program name.

    Returns:
        The command's exit code (``ugpcl_engine.cli.main``; it may import torch).
    """
    cli = importlib.import_module(CLI_MODULE)
    return int(cli.main(list(argv)))


def headless_commands() -> list[tuple[str, str]]:
    """The headless subcommands and their one-line help, as the engine CLI's parser has them
    (loads ``ugpcl_engine.cli``, not torch: for ``ugpcl-studio --help``)."""
    cli = importlib.import_module(CLI_MODULE)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return [(str(a.dest), str(a.help or "")) for a in sub._choices_actions]


def missing_benchmark_message(err: ModuleNotFoundError, benchmark: str) -> str | None:
    """The one line for a module missing while a benchmark loads or runs.

    Args:
        err: the error raised.
        benchmark: the benchmark's name, e.g. ``"first-model"``.

    Returns:
        "The benchmarks are not installed: ..." when ``ugpcl_benchmarks`` is missing, "The
        NAME benchmark needs 'PACKAGE' from the benchmark extra: ..." for a package of the
        extra, each ending in ``BENCHMARK_INSTALL``; None for any other module (a real bug).
    """
    package = (err.name or "").partition(".")[0]
    if package == BENCHMARK_PACKAGE:
        return f"The benchmarks are not installed: {BENCHMARK_INSTALL}"
    if package in EXTRA_MODULES:
        return (
            f"The {benchmark} benchmark needs '{package}' from the benchmark extra: "
            f"{BENCHMARK_INSTALL}"
        )
    return None
