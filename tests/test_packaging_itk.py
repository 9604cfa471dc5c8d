"""The frozen build's Fill between slices (``ugpcl-studio --mci-worker``): what the spec collects
of ITK, and the check ``packaging/smoke.sh`` runs with ``--frozen-fill-test``.

ITK loads its compiled modules by name at run time, so ``packaging/ugpcl-studio.spec`` names
them (``ITK_MODULES``, ``ITK_INTERPOLATOR``); these tests keep that list equal to what a real
worker run loads: nothing missing (the frozen worker would fail), nothing extra (hundreds of MB).
"""

from __future__ import annotations

import ast
import functools
import importlib.machinery
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "ugpcl-studio.spec"
WORKER = ROOT / "ugpcl_engine" / "_mci_worker.py"


def _itk_folder() -> Path:
    spec = importlib.util.find_spec("itk")  # finds the package without importing it
    assert spec is not None and spec.submodule_search_locations, "itk is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


@functools.cache
def _spec_itk() -> tuple[list[str], dict[str, str]]:
    """The ITK modules the spec adds to ``hiddenimports``, and its ``module_collection_mode``,
    evaluated from its text (``ITK_MODULES`` and ``ITK_INTERPOLATOR`` are literals)."""
    tree = ast.parse(SPEC.read_text(encoding="utf-8"))
    names = {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and target.id.startswith("ITK_")
    }
    assert set(names) == {"ITK_MODULES", "ITK_INTERPOLATOR"}, names

    def evaluate(node: ast.expr) -> Any:
        return eval(compile(ast.Expression(node), str(SPEC), "eval"), {}, dict(names))

    (added,) = [
        node.value for node in tree.body
        if isinstance(node, ast.AugAssign) and ast.unparse(node.target) == "hiddenimports"
        and "ITK_" in ast.unparse(node.value)
    ]  # fmt: skip
    (analysis,) = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "Analysis"
    ]  # fmt: skip
    (modes,) = [k.value for k in analysis.keywords if k.arg == "module_collection_mode"]
    hidden = list(evaluate(added))
    assert hidden and all(name.startswith("itk.") for name in hidden)
    return hidden, dict(evaluate(modes))


_IMPORT = re.compile(r"^\s*(?:import\s+(itk\.\w+)|from\s+(\.|itk\.\w+)\s+import\s+(\w+|\*))", re.M)


def _extension_closure(modules: list[str]) -> set[str]:
    """ITK's extension modules (``_ITKCommonPython``...) reachable from ``modules`` through
    their import statements: what PyInstaller's analysis collects for these hidden imports."""
    folder = _itk_folder()
    found: set[str] = set()
    seen: set[str] = set()
    todo = list(modules)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        stem = name.split(".")[1]
        source = folder / f"{stem}.py"
        if not source.exists():
            suffixes = importlib.machinery.EXTENSION_SUFFIXES
            if any((folder / f"{stem}{suffix}").exists() for suffix in suffixes):
                found.add(stem)
            continue  # else a submodule an extension registers (itk._itkImagePython)
        for plain, package, member in _IMPORT.findall(source.read_text(encoding="utf-8")):
            todo.append(plain or (f"itk.{member}" if package == "." else package))
    return found


# Runs the worker on two discs, then prints the ITK extension modules the process loaded.
_WORKER_RUN = """
import json, os, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from ugpcl_engine import _mci_worker
folder = sys.argv[2]
labels = np.zeros((11, 48, 48), np.uint8)
labels[0, 14:34, 12:32] = labels[10, 14:34, 12:32] = 1
np.save(f"{folder}/in.npy", labels)
code = _mci_worker.main([f"{folder}/in.npy", f"{folder}/out.npy", "2", "0,10", "0"])
itk = [m for name, m in list(sys.modules.items()) if name.startswith("itk.")]
files = [f for f in (getattr(m, "__file__", None) for m in itk) if f]  # registered ones: None
loaded = sorted({os.path.basename(f).split(".")[0] for f in files if not f.endswith(".py")})
print(json.dumps({"code": code, "loaded": loaded}))
sys.stdout.flush()
os._exit(0)  # as the worker itself: ITK may corrupt the heap at exit
"""


def _worker_run(folder: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_RUN, str(ROOT), str(folder)],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_the_spec_collects_exactly_the_itk_extensions_a_worker_run_loads(tmp_path: Path) -> None:
    collected = _extension_closure(_spec_itk()[0])
    run = _worker_run(tmp_path)
    assert run["code"] == 0, "the worker failed from source"
    filled = np.load(tmp_path / "out.npy")
    assert filled[5, 14:34, 12:32].mean() > 0.9  # it did interpolate
    loaded = set(run["loaded"])  # type: ignore[call-overload]
    assert "_MorphologicalContourInterpolationPython" in loaded
    assert loaded <= collected, f"the frozen worker would miss {sorted(loaded - collected)}"
    assert collected <= loaded, f"the spec collects unused ITK modules {collected - loaded}"


def test_the_modules_itk_executes_from_their_files_are_collected_as_files_too() -> None:
    """ITK executes ``itk/support/../<module>Python.py`` for each module it loads by name."""
    hidden, modes = _spec_itk()
    configuration = _itk_folder() / "Configuration"  # the modules ITK knows by name
    loaded_by_name = [
        name for name in hidden
        if (configuration / f"{name.removeprefix('itk.').removesuffix('Python')}Config.py").exists()
    ]  # fmt: skip
    assert len(loaded_by_name) == 3, hidden  # ITKPyBase, ITKCommon, ITKBridgeNumPy
    for name in ["itk.support", *loaded_by_name]:
        assert modes.get(name) == "pyz+py", f"{name} is not collected as a .py file"


def test_the_spec_names_the_interpolator_module_the_worker_imports() -> None:
    tree = ast.parse(WORKER.read_text(encoding="utf-8"))
    direct = {
        node.module for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("itk.")
    }  # fmt: skip
    assert direct and direct <= set(_spec_itk()[0])


def test_the_whole_interpolation_module_would_pull_in_hundreds_of_mb() -> None:
    """Why the spec names the interpolator's SWIG module, not its ITK module's (should ITK
    change this, the reason given in the spec's comment is gone)."""
    whole = _extension_closure(["itk.MorphologicalContourInterpolationPython"])
    extra = whole - _extension_closure(_spec_itk()[0])
    assert {"_ITKDistanceMapPython", "_ITKLabelMapPython"} <= extra
    size = sum(
        path.stat().st_size for path in _itk_folder().iterdir() if path.name.split(".")[0] in extra
    )
    assert size > 300e6


def _entry() -> ModuleType:
    spec = importlib.util.spec_from_file_location("_frozen_entry", ROOT / "packaging" / "entry.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # defines functions only: the rest is under __main__
    return module


def _discs() -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[:48, :48]
    disc = (yy - 24) ** 2 + (xx - 22) ** 2 < 10**2
    labels = np.zeros((11, 48, 48), np.uint8)
    labels[0][disc] = labels[10][disc] = 1
    return labels, disc


def test_the_fill_check_accepts_a_disc_between_two_discs() -> None:
    labels, disc = _discs()
    filled = labels.copy()
    filled[1:10][:, disc] = 1
    assert _entry().fill_problems(labels, filled, disc) == []


def test_the_fill_check_names_what_is_wrong() -> None:
    check = _entry().fill_problems
    labels, disc = _discs()
    assert check(labels, labels[:5], disc) == ["shape (5, 48, 48) instead of (11, 48, 48)"]
    empty = check(labels, labels, disc)  # nothing filled
    assert empty == ["slice 5 matches the disc by 0% (intersection over union)"]
    moved = labels.copy()
    moved[5] = np.roll(disc, 12, axis=1)
    assert check(labels, moved, disc)[0].startswith("slice 5 matches the disc by")
    broken = labels.copy()
    broken[1:10][:, disc] = 1
    broken[0] = 0
    broken[10, 0, 0] = 7
    assert check(labels, broken, disc) == [
        "slice 0 changed",
        "slice 10 changed",
        "label values [0, 1, 7], not 0 and 1",
    ]


@pytest.mark.slow
def test_the_frozen_fill_test_passes_from_source(capsys) -> None:
    assert _entry().fill_test() == 0
    assert capsys.readouterr().out == "fill between slices: ok\n"
