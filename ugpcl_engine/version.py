"""The one version number of ugpcl-studio (recorded in checkpoints and ONNX metadata).

It is read from the installed package's metadata (``pyproject.toml``'s ``version``, which is the
only place it is written). In a source checkout that was never installed it is read from that
``pyproject.toml``; ``0+unknown`` when neither exists.

A module of its own so that engine modules can read it without importing the package's public
surface (``ugpcl_engine/__init__.py``), which names modules of every layer.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

DISTRIBUTION = "ugpcl-studio"
UNKNOWN_VERSION = "0+unknown"


def package_version() -> str:
    """The installed distribution's version, else the source checkout's, else ``0+unknown``."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pass
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return UNKNOWN_VERSION
    if project.get("name") != DISTRIBUTION or not isinstance(project.get("version"), str):
        return UNKNOWN_VERSION
    return str(project["version"])


__version__ = package_version()
