"""Where a command writes: never over its inputs, checked before the work, complete or absent.

A command opens ``staged_outputs`` before its long work. That refuses any output that is one of
the inputs (the same path, a symlink to it or a hard link: the same inode), two outputs with one
name, and a destination that cannot be written (under a regular file, a read-only folder), each
with one clear line. The outputs are then written into a hidden folder beside each destination
(same file system, so moving them is a rename) and moved into place together once every one is
complete; when anything fails the hidden folders are removed, so no output is left half written.
Every file in a hidden folder moves, so writers that add companion files (``.mhd`` + ``.zraw``,
a label table beside a label file) need nothing special.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ugpcl_engine.errors import InputError

STAGE_PREFIX = ".ugpcl-partial-"
"""Name prefix of the hidden folders outputs are written into before they move into place."""

PathArg = str | os.PathLike[str] | None


def named_paths(paths: Mapping[str, PathArg]) -> dict[str, Path]:
    """Drop the options that were not given (``None`` or empty) and make the rest ``Path``."""
    return {name: Path(p) for name, p in paths.items() if p is not None and str(p) != ""}


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same inode when both exist (hard and symbolic
    links included), else the same path once symlinks and ``..`` are resolved."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _in_input_folder(out: Path, source: Path) -> bool:
    """An existing file directly inside an input folder (a DICOM series' slices)."""
    return source.is_dir() and out.is_file() and same_file(out.parent, source)


def check_not_inputs(
    outputs: Mapping[str, Path],
    inputs: Mapping[str, Path],
    advice: str = "choose another output name",
) -> None:
    """Refuse an output that would overwrite an input, and two outputs with one name.

    Args:
        outputs: option name (e.g. ``"--out"``) -> destination.
        inputs: option name -> file or folder the command reads.
        advice: what the user should do, ending the message.

    Raises:
        InputError: an output names an input (directly, by a symlink or a hard link) or an
            existing file inside an input folder; two outputs name the same file.
    """
    seen: list[tuple[str, Path]] = []
    for option, out in outputs.items():
        for source_option, source in inputs.items():
            if same_file(out, source):
                raise InputError(
                    f"Writing {out} ({option}) would destroy the input {source_option} {source}"
                    f"{_how(out, source)}; {advice}."
                )
            if _in_input_folder(out, source):
                raise InputError(
                    f"Writing {out} ({option}) would overwrite a file in the input folder "
                    f"{source_option} {source}; choose a name outside that folder."
                )
        for other_option, other in seen:
            if same_file(out, other):
                raise InputError(
                    f"{other_option} and {option} name the same file ({out}); give each output "
                    "its own name."
                )
        seen.append((option, out))


def _how(out: Path, source: Path) -> str:
    """How two paths of one file are related, for the message."""
    if os.path.abspath(out) == os.path.abspath(source):
        return " (the same file)"
    if out.is_symlink() or source.is_symlink() or out.resolve() == source.resolve():
        return " (the same file through a symbolic link)"
    return " (the same file through a hard link)"


def _existing_ancestor(path: Path) -> Path:
    """The nearest part of ``path`` (itself included) that exists."""
    path = Path(os.path.abspath(path))
    while not os.path.lexists(path) and path.parent != path:
        path = path.parent
    return path


def check_destination(option: str, path: Path, *, folder: bool = False) -> None:
    """Refuse a destination that cannot be a file (or, with ``folder``, a folder) there.

    Args:
        option: the option that named it, for the message.
        path: the destination.
        folder: the destination is a folder (created when missing).

    Raises:
        InputError: a file destination that is a folder, a folder destination that is a file,
            or a path leading through a regular file.
    """
    if not folder and path.is_dir():
        raise InputError(f"{option} {path} is a folder; give a file name.")
    if folder and path.exists() and not path.is_dir():
        raise InputError(f"{option} {path} is a file; give a new or existing folder.")
    above = _existing_ancestor(path if folder else path.parent)
    if not above.is_dir():
        raise InputError(
            f"Cannot write {option} {path}: {above} is a file, not a folder; choose another place."
        )


def check_folder_writable(option: str, folder: Path) -> None:
    """Refuse, without creating anything, a folder destination that cannot be written.

    Raises:
        InputError: see ``check_destination``; or the folder (or the nearest existing folder
            above it, where it is missing) does not let this user write.
    """
    check_destination(option, folder, folder=True)
    above = _existing_ancestor(folder)
    if not os.access(above, os.W_OK | os.X_OK):
        raise InputError(
            f"Cannot write {option} {folder}: no permission to write in {above}; choose "
            "another place."
        )


def make_folder(option: str, folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents.

    Returns:
        The folders created, outermost first (to remove again on failure).

    Raises:
        InputError: the folder cannot be created (no permission, read-only disk, ...).
    """
    missing: list[Path] = []
    part = Path(os.path.abspath(folder))
    while not part.exists():
        missing.insert(0, part)
        part = part.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        remove_empty_folders(missing)
        raise InputError(_cannot_write(option, folder, err)) from None
    return missing


def remove_empty_folders(created: list[Path]) -> None:
    """Remove folders ``make_folder`` created, innermost first, where they are still empty."""
    for folder in reversed(created):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty (someone wrote there) or already gone: keep the rest too


def _cannot_write(option: str, path: Path, err: OSError) -> str:
    reason = "no permission to write there" if isinstance(err, PermissionError) else err.strerror
    return f"Cannot write {option} {path}: {reason or type(err).__name__}; choose another place."


def _stage_folders(outputs: Mapping[str, Path]) -> tuple[dict[Path, Path], list[Path]]:
    """Create one hidden folder per destination folder; return (folder -> stage, created)."""
    stages: dict[Path, Path] = {}
    created: list[Path] = []
    try:
        for option, out in outputs.items():
            parent = Path(os.path.abspath(out)).parent
            if parent in stages:
                continue
            created += make_folder(option, parent)
            try:
                stages[parent] = Path(tempfile.mkdtemp(prefix=STAGE_PREFIX, dir=parent))
            except OSError as err:
                raise InputError(_cannot_write(option, out, err)) from None
    except InputError:
        _discard(stages, created)
        raise
    return stages, created


def _discard(stages: Mapping[Path, Path], created: list[Path]) -> None:
    for stage in stages.values():
        shutil.rmtree(stage, ignore_errors=True)
    remove_empty_folders(created)


def _move(source: Path, destination: Path) -> None:
    """Rename ``source`` onto ``destination``; a folder onto an existing folder moves its files."""
    if source.is_dir() and destination.is_dir():
        for child in source.iterdir():
            _move(child, destination / child.name)
        source.rmdir()
    else:
        os.replace(source, destination)


def _commit(stages: Mapping[Path, Path]) -> None:
    for parent, stage in stages.items():
        for entry in sorted(stage.iterdir()):
            try:
                _move(entry, parent / entry.name)
            except OSError as err:
                raise InputError(
                    f"Cannot move {entry.name} into {parent}: {err.strerror}; the finished "
                    "outputs were not all written."
                ) from None
        stage.rmdir()


@contextmanager
def staged_outputs(
    outputs: Mapping[str, PathArg],
    inputs: Mapping[str, PathArg] | None = None,
    *,
    also_written: Mapping[str, PathArg] | None = None,
    folders: Collection[str] = (),
    advice: str = "choose another output name",
) -> Iterator[dict[str, Path]]:
    """Check a command's outputs, then let it write them where nothing is left half done.

    Enter before the long work: the checks and the hidden folders (the proof that the
    destinations are writable) come first. Write each output to the path yielded for its
    option; on leaving normally, every file written into the hidden folders moves into place;
    on an exception they are removed, with any folder created for them, and the exception goes
    on.

    Args:
        outputs: option name -> destination file (options given as ``None`` are skipped).
        inputs: option name -> file or folder the command reads (``None`` skipped).
        also_written: destinations the command writes itself, outside the stage (the training
            checkpoint): checked against the inputs and the other outputs only.
        folders: the options of ``outputs`` that are folders (a DICOM series): the writer
            creates the yielded folder; its files join an existing destination folder.
        advice: what to do when an output is an input (ends that message).

    Yields:
        option name -> where to write that output now (same file name, in a hidden folder).

    Raises:
        InputError: an output is an input or repeats another, a destination cannot be written,
            or the finished outputs cannot be moved into place.
    """
    wanted = named_paths(outputs)
    everything = {**wanted, **named_paths(also_written or {})}
    check_not_inputs(everything, named_paths(inputs or {}), advice)
    for option, out in wanted.items():
        check_destination(option, out, folder=option in folders)
    stages, created = _stage_folders(wanted)
    try:
        yield {
            option: stages[Path(os.path.abspath(out)).parent] / out.name
            for option, out in wanted.items()
        }
        _commit(stages)
    except InputError as err:  # a writer's message names the hidden path: show the real one
        _discard(stages, created)
        raise InputError(_unstaged(str(err), stages)) from None
    except BaseException:
        _discard(stages, created)
        raise


def _unstaged(message: str, stages: Mapping[Path, Path]) -> str:
    for parent, stage in stages.items():
        message = message.replace(f"{stage}{os.sep}", f"{parent}{os.sep}")
    return message
