"""The app's log file: every ``logging`` record of the GUI process goes to a rotating file.

``configure_logging`` (called once at GUI start) attaches a ``RotatingFileHandler``
(``MAX_BYTES`` × ``BACKUPS`` files) to the root logger, in the user log folder
(``platformdirs.user_log_dir``) or in ``$UGPCL_STUDIO_LOG_DIR`` (tests, portable installs). A
folder that cannot be created or written never stops the app: warnings and errors go to stderr
and one line says so. The error dialog names the file (``log_file``) and shows the last error's
traceback (``last_error``) as its details.

Qt-free: plain ``logging`` and ``platformdirs``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
import threading
from pathlib import Path
from typing import TextIO

import platformdirs

APP_NAME = "ugpcl-studio"
LOG_DIR_ENV = "UGPCL_STUDIO_LOG_DIR"
LOG_NAME = "ugpcl-studio.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"

log = logging.getLogger(__name__)


class _LastError(logging.Handler):
    """Keeps the text (message and traceback) of the newest ERROR record."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.text = ""
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.text = self.format(record)


class _LogFile(logging.handlers.RotatingFileHandler):
    """The rotating log file, made again (folder too) when it was deleted while the app runs
    (a cleaner emptied the log folder): the file the error dialog names keeps getting the
    records. When it cannot be made again, records are dropped and stderr says so once
    (not a "Logging error" traceback per record)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
        self._said = False

    def emit(self, record: logging.LogRecord) -> None:
        if not os.path.exists(self.baseFilename):
            try:
                Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
                if self.stream is not None:
                    self.stream.close()
                self.stream = self._open()
            except OSError as err:
                if not self._said:
                    self._said = True
                    sys.stderr.write(  # the log itself is what cannot be written
                        f"Cannot write the log file {self.baseFilename} "
                        f"({err.strerror or err}); log records are dropped.\n"
                    )
                return
        super().emit(record)


_lock = threading.Lock()
_handlers: list[logging.Handler] = []
_last = _LastError()
_path: Path | None = None
_previous_level: int | None = None


def log_dir() -> Path:
    """The folder of the log file: ``$UGPCL_STUDIO_LOG_DIR`` or the user log folder."""
    override = os.environ.get(LOG_DIR_ENV)
    if override:
        return Path(override)
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def configure_logging(
    directory: Path | None = None, *, level: int = logging.INFO, stream: TextIO | None = None
) -> Path | None:
    """Send the process's log records to the rotating log file (once; later calls keep it).

    Args:
        directory: folder of the log file (default ``log_dir()``).
        level: the root logger's level.
        stream: where records go when the folder cannot be used (default ``sys.stderr``).

    Returns:
        The log file's path, or None when logging fell back to the stream.
    """
    global _path, _previous_level
    with _lock:
        if _handlers:
            return _path
        folder = log_dir() if directory is None else directory
        path = folder / LOG_NAME
        handler: logging.Handler
        problem = ""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handler = _LogFile(path)
            _path = path
        except OSError as err:
            handler = logging.StreamHandler(stream or sys.stderr)
            handler.setLevel(logging.WARNING)  # a terminal gets the problems, not every open
            _path = None
            problem = f"{err.strerror or err}"
        handler.setFormatter(logging.Formatter(FORMAT))
        root = logging.getLogger()
        _previous_level = root.level
        root.setLevel(level)
        for added in (handler, _last):
            root.addHandler(added)
            _handlers.append(added)
    if _path is None:  # said once, through the stream handler itself
        log.warning(
            "Cannot write the log file in %s (%s); logging to stderr instead.", folder, problem
        )
    else:
        log.info("%s started, logging to %s", APP_NAME, _path)
    return _path


def log_file() -> Path | None:
    """The log file records go to, or None (not configured, or logging to stderr)."""
    return _path


def last_error() -> str:
    """Message and traceback of the newest ERROR record since ``configure_logging`` ("")."""
    return _last.text


def reset_logging() -> None:
    """Detach and close what ``configure_logging`` added (tests; shutdown)."""
    global _path, _previous_level
    with _lock:
        root = logging.getLogger()
        if _previous_level is not None:
            root.setLevel(_previous_level)
            _previous_level = None
        for handler in _handlers:
            root.removeHandler(handler)
            if handler is not _last:
                handler.close()
        _handlers.clear()
        _last.text = ""
        _path = None
