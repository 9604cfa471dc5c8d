"""Installing (issue 16): the dependency lists, the CPU recipe, the desktop files, the version.

All fast and offline; the one test that asks a package index is marked slow.
"""

from __future__ import annotations

import ast
import configparser
import functools
import importlib.metadata
import importlib.util
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PACKAGING = ROOT / "packaging"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)

# the product: what a user installs and runs (the GUI benchmarks are developer tools)
PRODUCT = ("app", "ugpcl_engine")
NOT_PRODUCT = (ROOT / "app" / "benchmarks",)
# distribution name -> import name, where they differ
IMPORT_NAMES = {
    "simpleitk": "SimpleITK",
    "pyside6-essentials": "PySide6",
    "onnxruntime-gpu": "onnxruntime",
    # ITK's contour interpolation module installs into (and pulls in) the `itk` package
    "itk-morphologicalcontourinterpolation": "itk",
}
# runtime dependencies nothing imports, each with the reason it is needed anyway
NOT_IMPORTED: dict[str, str] = {}
# platforms a wheel exists for: (platform_system, platform_machine, sys_platform, os_name)
PLATFORMS = [
    ("Linux", "x86_64", "linux", "posix"),
    ("Linux", "aarch64", "linux", "posix"),
    ("Windows", "AMD64", "win32", "nt"),
    ("Windows", "ARM64", "win32", "nt"),
    ("Darwin", "arm64", "darwin", "posix"),
    ("Darwin", "x86_64", "darwin", "posix"),
]


def _environment(platform: tuple[str, str, str, str]) -> dict[str, str]:
    system, machine, sys_platform, os_name = platform
    env = dict(default_environment())
    env.update(
        platform_system=system, platform_machine=machine, sys_platform=sys_platform,
        os_name=os_name,
    )  # fmt: skip
    return env


def _applies(req: Requirement, env: dict[str, str]) -> bool:
    return req.marker is None or req.marker.evaluate(env)


def _runtime() -> list[Requirement]:
    return [Requirement(line) for line in PYPROJECT["project"]["dependencies"]]


def _cpu_recipe() -> tuple[list[str], list[Requirement]]:
    """The options and requirements of ``packaging/cpu.txt``."""
    options, requirements = [], []
    for raw in (PACKAGING / "cpu.txt").read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            options.append(line)
        else:
            requirements.append(Requirement(line))
    return options, requirements


def _flavours(requirements: list[Requirement], env: dict[str, str]) -> list[str]:
    return [r.name for r in requirements if r.name.startswith("onnxruntime") and _applies(r, env)]


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_a_plain_install_gets_exactly_one_onnxruntime(platform) -> None:
    flavours = _flavours(_runtime(), _environment(platform))
    gpu = platform[:2] in {("Linux", "x86_64"), ("Windows", "AMD64")}
    assert flavours == ["onnxruntime-gpu" if gpu else "onnxruntime"]


@pytest.mark.parametrize("platform", PLATFORMS, ids=lambda p: f"{p[0]}-{p[1]}")
def test_the_cpu_recipe_gets_plain_onnxruntime_and_no_cuda(platform) -> None:
    options, requirements = _cpu_recipe()
    env = _environment(platform)
    assert _flavours(requirements, env) == ["onnxruntime"]
    names = [canonicalize_name(r.name) for r in requirements if _applies(r, env)]
    assert "onnxruntime-gpu" not in names
    assert not [n for n in names if n.startswith("nvidia-")]
    assert f"--extra-index-url {CPU_INDEX}" in options
    # pip does not allow --no-deps in a requirements file; nor may the recipe name the project
    # itself (its dependencies would bring onnxruntime-gpu back): it is installed --no-deps
    assert all(not o.startswith(("-e", "--editable", "-r", "-c")) for o in options)


def test_the_cpu_recipe_lists_the_same_dependencies_as_pyproject() -> None:
    """Every runtime dependency with the same version limits, onnxruntime for onnxruntime-gpu."""

    def flavourless(reqs: list[Requirement]) -> dict[str, str]:
        table: dict[str, str] = {}
        for r in reqs:
            name = canonicalize_name(r.name)
            name = "onnxruntime" if name == "onnxruntime-gpu" else name
            specifier = str(r.specifier)
            assert table.setdefault(name, specifier) == specifier, f"{name}: limits differ"
        return table

    _, cpu = _cpu_recipe()
    assert all(r.marker is None for r in cpu), "the CPU recipe holds for every platform"
    assert flavourless(cpu) == flavourless(_runtime())


def _product_files() -> list[Path]:
    files = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if not any(path.is_relative_to(skip) for skip in NOT_PRODUCT):
                files.append(path)
    return files


@functools.cache
def _imported_modules() -> frozenset[str]:
    """Every module the product imports (absolute imports, at any depth, by full name)."""
    names: set[str] = set()
    for path in _product_files():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return frozenset(names)


def _imported_top_level_names() -> set[str]:
    return {name.split(".")[0] for name in _imported_modules()}


def _import_name(requirement: Requirement) -> str:
    name = canonicalize_name(requirement.name)
    return IMPORT_NAMES.get(name, name.replace("-", "_"))


def test_every_runtime_dependency_is_imported_by_the_product() -> None:
    imported = _imported_top_level_names()
    unused = {
        canonicalize_name(r.name)
        for r in _runtime()
        if _import_name(r) not in imported and canonicalize_name(r.name) not in NOT_IMPORTED
    }
    assert not unused, f"nothing in {PRODUCT} imports {sorted(unused)}: drop them from pyproject"
    declared = {canonicalize_name(r.name) for r in _runtime()}
    assert set(NOT_IMPORTED) <= declared, "the allow-list names a dependency that is gone"


def test_every_third_party_import_of_the_product_is_a_runtime_dependency() -> None:
    first_party = {"app", "ugpcl_engine", "ugpcl_benchmarks"}
    third_party = _imported_top_level_names() - set(sys.stdlib_module_names) - first_party
    declared = {_import_name(r) for r in _runtime()}
    assert third_party - declared == set(), "imported but not in [project] dependencies"


def test_the_unused_nrrd_reader_is_gone() -> None:
    assert "pynrrd" not in {canonicalize_name(r.name) for r in _runtime()}


def test_the_gui_entry_point_starts_the_same_main_as_the_console_one() -> None:
    assert PYPROJECT["project"]["scripts"] == {"ugpcl-studio": "app.launcher:main"}
    assert PYPROJECT["project"]["gui-scripts"] == {"ugpcl-studio-gui": "app.launcher:main"}


def _desktop_entry(text: str) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read_string(text)
    assert parser.sections() == ["Desktop Entry"]
    return parser["Desktop Entry"]


def test_the_desktop_entry_is_valid() -> None:
    path = PACKAGING / "ugpcl-studio.desktop"
    entry = _desktop_entry(path.read_text(encoding="utf-8"))
    assert entry["Type"] == "Application" and entry["Name"]
    assert entry["Exec"] == "ugpcl-studio %F" and entry["TryExec"] == "ugpcl-studio"
    assert entry["Icon"] == "ugpcl-studio"
    assert entry["Terminal"] == "false"
    for key in ("Categories", "MimeType", "Keywords"):  # lists end with ';'
        assert entry[key].endswith(";")
    assert "application/x-ugpcl-project" in entry["MimeType"].split(";")
    _validate(path)


def _validate(path: Path) -> None:
    """``desktop-file-validate`` finds nothing to say (errors, warnings or hints), if installed."""
    if shutil.which("desktop-file-validate"):
        done = subprocess.run(
            ["desktop-file-validate", str(path)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0 and not done.stdout + done.stderr, done.stdout + done.stderr


def test_the_mime_type_is_valid_shared_mime_info() -> None:
    ns = "{http://www.freedesktop.org/standards/shared-mime-info}"
    root = ET.parse(PACKAGING / "ugpcl-studio-mime.xml").getroot()
    assert root.tag == f"{ns}mime-info"
    (mime,) = root.findall(f"{ns}mime-type")
    assert mime.get("type") == "application/x-ugpcl-project"
    assert [g.get("pattern") for g in mime.findall(f"{ns}glob")] == ["*.ugpcl"]
    assert mime.find(f"{ns}comment") is not None
    icon = mime.find(f"{ns}icon")
    assert icon is not None and icon.get("name") == "ugpcl-studio"
    suffixes = [
        ".ugpcl" for module in ("app/state/files.py", "ugpcl_engine/io/project_temps.py")
        if 'PROJECT_SUFFIX = ".ugpcl"' in (ROOT / module).read_text(encoding="utf-8")
    ]  # fmt: skip
    assert suffixes == [".ugpcl", ".ugpcl"], "the project suffix changed: change the glob too"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", f"{path} is not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_icon_exists_at_every_size() -> None:
    icons = PACKAGING / "icons"
    svg = ET.parse(icons / "ugpcl-studio.svg").getroot()
    assert svg.tag == "{http://www.w3.org/2000/svg}svg"
    for size in ICON_SIZES:
        assert _png_size(icons / f"{size}x{size}.png") == (size, size)


def _fresh_version_module(path: Path = ROOT / "ugpcl_engine" / "version.py") -> ModuleType:
    """Execute ``ugpcl_engine/version.py`` anew (the imported one keeps its value)."""
    spec = importlib.util.spec_from_file_location("_fresh_version", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_version_comes_from_the_package_metadata(monkeypatch) -> None:
    import ugpcl_engine

    assert ugpcl_engine.__version__ == importlib.metadata.version("ugpcl-studio")
    asked: list[str] = []

    def fake(name: str) -> str:
        asked.append(name)
        return "7.8.9"

    monkeypatch.setattr(importlib.metadata, "version", fake)
    assert _fresh_version_module().__version__ == "7.8.9"
    assert asked == ["ugpcl-studio"]


def test_a_source_checkout_that_is_not_installed_reads_pyproject(
    monkeypatch, tmp_path: Path
) -> None:
    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", missing)
    assert _fresh_version_module().__version__ == PYPROJECT["project"]["version"]
    # neither installed nor in a checkout (a copy of the module with no pyproject.toml above it)
    lone = tmp_path / "somewhere" / "ugpcl_engine" / "version.py"
    lone.parent.mkdir(parents=True)
    shutil.copy(ROOT / "ugpcl_engine" / "version.py", lone)
    assert _fresh_version_module(lone).__version__ == "0+unknown"
    (lone.parents[1] / "pyproject.toml").write_text('[project]\nname = "other"\nversion = "5"\n')
    assert _fresh_version_module(lone).__version__ == "0+unknown"  # another project's


def test_the_frozen_entry_runs_freeze_support_before_the_app() -> None:
    tree = ast.parse((PACKAGING / "entry.py").read_text(encoding="utf-8"))
    (guard,) = [n for n in tree.body if isinstance(n, ast.If)]
    first = guard.body[0]
    assert ast.unparse(first) == "multiprocessing.freeze_support()"
    assert "from app.launcher import main" in ast.unparse(guard)
    compile((PACKAGING / "ugpcl-studio.spec").read_text(encoding="utf-8"), "spec", "exec")


def test_the_frozen_build_leaves_out_nothing_the_product_imports() -> None:
    spec = ast.parse((PACKAGING / "ugpcl-studio.spec").read_text(encoding="utf-8"))
    (analysis,) = [
        n for n in ast.walk(spec)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "Analysis"
    ]  # fmt: skip
    (excludes,) = [k.value for k in analysis.keywords if k.arg == "excludes"]
    left_out = set(ast.literal_eval(excludes))
    assert {"ugpcl_benchmarks", "app.benchmarks", "sklearn"} <= left_out
    missed = {
        name for name in _imported_modules()
        if any(name == x or name.startswith(f"{x}.") for x in left_out)
    }  # fmt: skip
    assert not missed, f"the frozen app leaves out modules the product imports: {missed}"


@pytest.mark.parametrize("script", ["build.sh", "smoke.sh", "install-desktop.sh"])
def test_the_packaging_scripts_parse(script: str) -> None:
    path = PACKAGING / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def _install(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "share"), "HOME": str(tmp_path)}
    return subprocess.run(
        ["bash", str(PACKAGING / "install-desktop.sh"), *args],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip


def test_install_desktop_copies_entry_icons_and_mime_type(tmp_path: Path) -> None:
    done = _install(tmp_path)
    assert done.returncode == 0, done.stderr
    share = tmp_path / "share"
    entry = _desktop_entry((share / "applications" / "ugpcl-studio.desktop").read_text())
    assert entry["Exec"] == "ugpcl-studio %F"
    assert (share / "mime" / "packages" / "ugpcl-studio.xml").is_file()
    assert (share / "icons" / "hicolor" / "scalable" / "apps" / "ugpcl-studio.svg").is_file()
    for size in ICON_SIZES:
        png = share / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "ugpcl-studio.png"
        assert _png_size(png) == (size, size)
    if shutil.which("update-mime-database"):  # the database now knows the project type
        globs = (share / "mime" / "globs2").read_text(encoding="utf-8")
        assert "application/x-ugpcl-project:*.ugpcl" in globs

    assert _install(tmp_path, "--uninstall").returncode == 0
    assert not (share / "applications" / "ugpcl-studio.desktop").exists()
    assert not (share / "mime" / "packages" / "ugpcl-studio.xml").exists()


def test_install_desktop_for_a_frozen_build_starts_its_executable(tmp_path: Path) -> None:
    build = tmp_path / "my build" / "ugpcl-studio"
    build.mkdir(parents=True)
    assert _install(tmp_path, "--frozen", str(build)).returncode == 2  # no executable: refused
    exe = build / "ugpcl-studio"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    done = _install(tmp_path, "--frozen", str(build))
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "share" / "applications" / "ugpcl-studio.desktop"
    entry = _desktop_entry(installed.read_text())
    assert entry["Exec"] == f'"{exe}" %F' and entry["TryExec"] == str(exe)
    _validate(installed)


def _reachable(host: str) -> bool:
    try:
        socket.create_connection((host, 443), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.mark.slow
def test_pip_resolves_the_cpu_recipe_without_cuda(tmp_path: Path) -> None:
    """Ask pip (dry run) what the CPU recipe installs on this platform: no CUDA, CPU torch."""
    if not _reachable("download.pytorch.org"):
        pytest.skip("download.pytorch.org cannot be reached")
    report = tmp_path / "report.json"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet"]
    cmd += ["--report", str(report), "-r", str(PACKAGING / "cpu.txt")]
    subprocess.run(cmd, check=True, timeout=1800)
    installs = {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in json.loads(report.read_text(encoding="utf-8"))["install"]
    }
    assert "onnxruntime" in installs and "onnxruntime-gpu" not in installs
    assert not [name for name in installs if name.startswith("nvidia-")]
    if sys.platform in ("linux", "win32"):
        assert installs["torch"].endswith("+cpu")
