"""The engine's public surface (issue 17, item 4): ``ugpcl_engine/__init__.py`` exports every
name the app uses, lazily, each from a torch-free module, and the import contract that keeps
the app on it names every engine submodule."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import ugpcl_engine

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "SimpleITK", "h5py", "onnxruntime")
CONTRACT = "The app uses the engine's public names only"


def _type_checking_imports() -> set[tuple[str, str]]:
    """(module, name) of every import in the ``if TYPE_CHECKING:`` block of ``__init__``."""
    tree = ast.parse(Path(ugpcl_engine.__file__).read_text(encoding="utf-8"))
    blocks = [
        node
        for node in tree.body
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
        if node.test.id == "TYPE_CHECKING"
    ]
    assert len(blocks) == 1
    return {
        (node.module or "", alias.name)
        for node in blocks[0].body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.asname is None
    }


def test_every_exported_name_resolves_to_its_modules_object() -> None:
    for name in ugpcl_engine.__all__:
        value = getattr(ugpcl_engine, name)
        if name != "__version__":
            module = importlib.import_module(ugpcl_engine._LAZY[name])
            assert value is getattr(module, name), name


def test_all_is_exactly_the_lazy_names_and_the_type_checking_imports() -> None:
    exported = ugpcl_engine.__all__
    assert len(exported) == len(set(exported))
    assert set(exported) == {"__version__", *ugpcl_engine._LAZY}
    assert _type_checking_imports() == {(m, n) for n, m in ugpcl_engine._LAZY.items()}
    with pytest.raises(AttributeError, match="no attribute 'train'"):
        _ = ugpcl_engine.train


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout.strip()


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = f"import sys, ugpcl_engine; print(sorted(set({HEAVY!r}) & set(sys.modules)))"
    assert _run(code) == "[]"


def test_the_gui_names_load_no_torch() -> None:
    """Every public name is the GUI's to use: importing all of them loads no torch."""
    names = ", ".join(n for n in ugpcl_engine.__all__)
    code = (
        f"import sys\nfrom ugpcl_engine import {names}\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'torch'))"
    )
    assert _run(code) == "[]"


def test_the_contract_forbids_every_engine_submodule() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    contract = next(c for c in contracts if c["name"] == CONTRACT)
    submodules = {f"ugpcl_engine.{m.name}" for m in pkgutil.iter_modules(ugpcl_engine.__path__)}
    assert set(contract["forbidden_modules"]) == submodules
    assert set(contract["source_modules"]) == {
        "app.assist",
        "app.jobs",
        "app.launcher",
        "app.state",
        "app.ui",
    }
    assert contract["allow_indirect_imports"] is True
