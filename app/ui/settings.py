"""What the app remembers between runs, in ``QSettings`` (no hand-written config file).

Remembered: the last folder of the file dialogs, the window's geometry and dock layout, the brush
settings (radius and its unit, paint-over rule and label, marking on paint, intensity range) and
the display options (label opacity, outline, labels shown, layout). They are restored at start
and written when they change (QSettings keeps them in memory and writes the file itself) and at
close. A value that is missing, of the wrong type or out of range reads as the default: an odd
settings file never stops the app from starting.

The settings live in an INI file in the user's config folder (``ugpcl-studio/ugpcl-studio.ini``),
or in the folder named by ``UGPCL_STUDIO_SETTINGS_DIR`` (the tests use a folder of their own).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings
from PySide6.QtWidgets import QMainWindow

from app.state.view_state import VIEW_AXES, PaintOver, ToolState, ViewState
from app.state.workspace import Workspace

SETTINGS_DIR_ENV = "UGPCL_STUDIO_SETTINGS_DIR"
ORGANIZATION = APPLICATION = "ugpcl-studio"


def settings_store() -> QSettings:
    """The app's settings (an INI file; see the module docstring for where)."""
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        return QSettings(str(Path(folder) / f"{APPLICATION}.ini"), QSettings.Format.IniFormat)
    return QSettings(
        QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION
    )


# -- reading values that may be odd --------------------------------------------------------------
def read_float(store: QSettings, key: str, default: float, low: float, high: float) -> float:
    """A finite number in ``[low, high]`` stored under ``key``, else ``default``."""
    try:
        value = float(store.value(key, default))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default
    return value if math.isfinite(value) and low <= value <= high else default


def read_int(store: QSettings, key: str, default: int, low: int, high: int) -> int:
    """An integer in ``[low, high]`` stored under ``key``, else ``default``."""
    value = read_float(store, key, float(default), low, high)
    return int(value) if value == int(value) else default


def read_bool(store: QSettings, key: str, default: bool) -> bool:
    """A true/false value stored under ``key`` (INI files keep it as text), else ``default``."""
    value = store.value(key, default)
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in ("true", "1") else False if text in ("false", "0") else default


def read_choice(store: QSettings, key: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` stored under ``key``, else ``default``."""
    value = store.value(key, default)
    return value if isinstance(value, str) and value in choices else default


def read_range(store: QSettings, key: str) -> tuple[float, float] | None:
    """An intensity range stored as ``"low,high"`` (low <= high), or None."""
    value = store.value(key, "")
    parts = value.split(",") if isinstance(value, str) else value
    try:
        low, high = (float(p) for p in parts)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    ok = math.isfinite(low) and math.isfinite(high) and low <= high
    return (low, high) if ok else None


def read_bytes(store: QSettings, key: str) -> QByteArray | None:
    """Bytes stored under ``key`` (window geometry and state), or None."""
    value = store.value(key)
    return value if isinstance(value, QByteArray) and not value.isEmpty() else None


# -- the last folder of the file dialogs --------------------------------------------------------
def dialog_folder() -> str:
    """Where a file dialog opens: the folder last used in one, if it still exists, else ""."""
    value = settings_store().value("files/last_folder", "")
    if not isinstance(value, str) or not value:
        return ""
    try:
        return value if Path(value).is_dir() else ""
    except OSError:  # a name too long, a folder behind one the user may not enter
        return ""


def remember_folder(path: str | Path) -> None:
    """Remember the folder of ``path`` (a file) or ``path`` itself (a folder) for the dialogs."""
    chosen = Path(path)
    settings_store().setValue(
        "files/last_folder", str(chosen if chosen.is_dir() else chosen.parent)
    )


# -- brush and display ---------------------------------------------------------------------------
def restore_tools(store: QSettings, tools: ToolState) -> None:
    """Set the remembered brush settings on ``tools`` (defaults for odd values)."""
    default = ToolState()
    over = read_choice(
        store, "brush/paint_over", default.paint_over.value, tuple(p.value for p in PaintOver)
    )
    tools.update(
        radius=read_float(store, "brush/radius", default.radius, 0.5, 200.0),
        radius_in_mm=read_bool(store, "brush/radius_in_mm", default.radius_in_mm),
        paint_over=PaintOver(over),
        paint_over_label=read_int(store, "brush/paint_over_label", 0, 0, 255),
        mark_on_paint=read_bool(store, "brush/mark_on_paint", default.mark_on_paint),
        intensity_range=read_range(store, "brush/intensity_range"),
    )


def save_tools(store: QSettings, tools: ToolState) -> None:
    """Remember the brush settings of ``tools``."""
    limits = tools.intensity_range
    store.setValue("brush/radius", float(tools.radius))
    store.setValue("brush/radius_in_mm", bool(tools.radius_in_mm))
    store.setValue("brush/paint_over", tools.paint_over.value)
    store.setValue("brush/paint_over_label", int(tools.paint_over_label))
    store.setValue("brush/mark_on_paint", bool(tools.mark_on_paint))
    store.setValue("brush/intensity_range", "" if limits is None else f"{limits[0]},{limits[1]}")


def restore_view(store: QSettings, view: ViewState) -> None:
    """Set the remembered display options on ``view`` (defaults for odd values)."""
    default = ViewState()
    view.set_overlay(
        opacity=read_float(store, "display/opacity", default.opacity, 0.0, 1.0),
        outline=read_bool(store, "display/outline", default.outline),
        labels_visible=read_bool(store, "display/labels_visible", default.labels_visible),
    )
    view.set_layout(
        read_choice(store, "display/layout", default.layout, ("1x3", "single")),
        read_choice(store, "display/single_axis", default.single_axis, VIEW_AXES),
    )


def save_view(store: QSettings, view: ViewState) -> None:
    """Remember the display options of ``view``."""
    store.setValue("display/opacity", float(view.opacity))
    store.setValue("display/outline", bool(view.outline))
    store.setValue("display/labels_visible", bool(view.labels_visible))
    store.setValue("display/layout", view.layout)
    store.setValue("display/single_axis", view.single_axis)


# -- the window ----------------------------------------------------------------------------------
class WindowSettings(QObject):
    """Restores a main window's remembered settings and keeps them up to date.

    Args:
        window: the main window, with every dock already added (its dock layout is restored).
        workspace: its state (brush and display settings).
    """

    def __init__(self, window: QMainWindow, workspace: Workspace) -> None:
        super().__init__(window)
        self.window = window
        self.ws = workspace
        self.store = settings_store()
        self.restore()
        workspace.tools.changed.connect(lambda _: save_tools(self.store, workspace.tools))
        workspace.view.changed.connect(self._view_changed)
        window.installEventFilter(self)

    def restore(self) -> None:
        """Apply what was remembered (defaults where a value is missing or odd)."""
        restore_tools(self.store, self.ws.tools)
        restore_view(self.store, self.ws.view)
        geometry = read_bytes(self.store, "window/geometry")
        if geometry is not None:
            self.window.restoreGeometry(geometry)
        state = read_bytes(self.store, "window/state")
        if state is not None:
            self.window.restoreState(state)

    def save(self) -> None:
        """Remember everything now and write the file."""
        save_tools(self.store, self.ws.tools)
        save_view(self.store, self.ws.view)
        self.store.setValue("window/geometry", self.window.saveGeometry())
        self.store.setValue("window/state", self.window.saveState())
        self.store.sync()

    def _view_changed(self, what: str) -> None:
        if what in ("overlay", "layout"):
            save_view(self.store, self.ws.view)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.save()  # also when the close is then cancelled: nothing is lost by that
        return False


def install_settings(window: QMainWindow, workspace: Workspace) -> WindowSettings:
    """Restore ``window``'s remembered settings now and save them as they change and at close
    (call it after every dock is added, before the window is shown)."""
    return WindowSettings(window, workspace)
