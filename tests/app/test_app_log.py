"""The rotating log file of the GUI process (issue 16, item 1); Qt-free."""

from __future__ import annotations

import io
import logging
import logging.handlers
from pathlib import Path

import pytest

from app.state import app_log


@pytest.fixture(autouse=True)
def fresh_logging():
    app_log.reset_logging()
    yield
    app_log.reset_logging()


def _our_file_handler() -> logging.handlers.RotatingFileHandler:
    rotating = logging.handlers.RotatingFileHandler
    handlers = [h for h in logging.getLogger().handlers if isinstance(h, rotating)]
    assert len(handlers) == 1
    return handlers[0]


def test_records_go_to_a_rotating_file_in_the_env_folder(log_folder: Path) -> None:
    path = app_log.configure_logging()
    assert path == log_folder / "ugpcl-studio.log" == app_log.log_file()
    handler = _our_file_handler()
    assert (handler.maxBytes, handler.backupCount) == (1_000_000, 3)
    logging.getLogger("app.ui.file_actions").info("opened chest.nii.gz")
    handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "ugpcl-studio started, logging to" in text
    assert "INFO    app.ui.file_actions [MainThread] opened chest.nii.gz" in text
    assert app_log.configure_logging() == path  # once: a second call adds nothing
    _our_file_handler()


def test_the_log_rotates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_log, "MAX_BYTES", 2000)
    path = app_log.configure_logging(tmp_path)
    assert path is not None
    for i in range(200):
        logging.getLogger("spam").warning("line %d of a long session", i)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["ugpcl-studio.log", *(f"ugpcl-studio.log.{k}" for k in (1, 2, 3))]
    assert all(p.stat().st_size <= 2100 for p in tmp_path.iterdir())


def test_a_folder_that_cannot_be_created_falls_back_to_stderr_once(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    stream = io.StringIO()
    assert app_log.configure_logging(blocker / "logs", stream=stream) is None
    assert app_log.log_file() is None
    assert app_log.configure_logging(blocker / "logs", stream=stream) is None
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and "Cannot write the log file in" in lines[0]
    assert "logging to stderr instead" in lines[0]
    logging.getLogger("x").info("opened a file")  # the terminal gets problems only
    logging.getLogger("x").error("still reported")
    assert "still reported" in stream.getvalue() and "opened a file" not in stream.getvalue()


def test_last_error_keeps_the_newest_traceback(tmp_path: Path) -> None:
    app_log.configure_logging(tmp_path)
    assert app_log.last_error() == ""
    try:
        raise KeyError("volume 7")
    except KeyError:
        logging.getLogger("t").exception("task open failed")
    text = app_log.last_error()
    assert text.startswith("task open failed\nTraceback (most recent call last):")
    assert "KeyError: 'volume 7'" in text
    logging.getLogger("t").warning("not an error")
    assert app_log.last_error() == text


def test_default_folder_is_the_user_log_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(app_log.LOG_DIR_ENV, raising=False)
    folder = app_log.log_dir()
    assert "ugpcl-studio" in folder.parts
    monkeypatch.setenv(app_log.LOG_DIR_ENV, "/portable/logs")
    assert app_log.log_dir() == Path("/portable/logs")


def test_reset_restores_the_root_level(tmp_path: Path) -> None:
    root = logging.getLogger()
    before = root.level
    app_log.configure_logging(tmp_path, level=logging.DEBUG)
    assert root.level == logging.DEBUG
    app_log.reset_logging()
    assert root.level == before and app_log.log_file() is None


def test_a_log_folder_deleted_while_running_is_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cleaner deletes the log folder while the app runs: the next records go to a new file
    at the path the error dialog names (they went to the deleted file, and after the first
    rotation every record printed a 'Logging error' traceback on stderr)."""
    import shutil

    monkeypatch.setattr(app_log, "MAX_BYTES", 2000)
    path = app_log.configure_logging(tmp_path / "logs" / "deep")
    assert path is not None
    shutil.rmtree(tmp_path / "logs")
    for i in range(60):
        logging.getLogger("app.ui.file_actions").warning("saved %d.ugpcl after the cleanup", i)
    _our_file_handler().flush()
    assert path.exists()
    assert "saved 59.ugpcl after the cleanup" in path.read_text(encoding="utf-8")
    assert "Logging error" not in capsys.readouterr().err


def test_a_log_folder_that_cannot_be_made_again_stays_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Deleted and blocked by a file of the same name: records are dropped without a
    traceback per record (the app goes on)."""
    import shutil

    monkeypatch.setattr(app_log, "MAX_BYTES", 2000)
    path = app_log.configure_logging(tmp_path / "logs")
    assert path is not None
    shutil.rmtree(tmp_path / "logs")
    (tmp_path / "logs").write_text("a file where the folder was")
    for i in range(60):
        logging.getLogger("app").warning("record %d of a session that goes on", i)
    assert "Logging error" not in capsys.readouterr().err
