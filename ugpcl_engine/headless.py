"""The hand-over from the app's launcher to the headless engine (torch-free until it runs).

``run_cli`` loads the engine CLI (``ugpcl_engine.cli``) by module name only when a headless
command runs, so the GUI process, which imports the engine's public names, never loads it nor
torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

CLI_MODULE = "ugpcl_engine.cli"


def run_cli(argv: Sequence[str]) -> int:
    """Run one headless subcommand (``train``, ``predict``, ``benchmark``, ...).

    Args:
        argv: the subcommand and its arguments, without the program name.

    Returns:
        The command's exit code (``ugpcl_engine.cli.main``; it may import torch).
    """
    cli = importlib.import_module(CLI_MODULE)
    return int(cli.main(list(argv)))
