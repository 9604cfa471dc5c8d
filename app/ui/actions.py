"""Menus and keyboard shortcuts of the main window (see ``dialogs.SHORTCUTS``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QMenuBar, QWidget

from app.state.workspace import Workspace
from app.ui.file_actions import FileActions
from app.ui.tool_table import TOOLS
from app.ui.view_controller import ViewController


class MenuWindow(Protocol):
    """What the menus need of the main window (``main_window.MainWindow``; this module is
    below it, so it names the window by what it uses instead of importing it)."""

    ws: Workspace
    files: FileActions
    controller: ViewController
    undo_action: QAction
    redo_action: QAction
    recent_menu: QMenu
    volume_menu: QMenu

    def window(self) -> QWidget: ...  # the window itself: the parent of every action
    def menuBar(self) -> QMenuBar: ...  # noqa: N802 (Qt's name)
    def addAction(self, action: QAction) -> None: ...  # noqa: N802 (Qt's name)
    def close(self) -> bool: ...
    def close_document(self) -> None: ...
    def undo(self) -> None: ...
    def redo(self) -> None: ...
    def mark_slice(self, labeled: bool) -> None: ...
    def choose_label(self, value: int) -> None: ...
    def scroll_active(self, step: int) -> None: ...
    def toggle_layout(self) -> None: ...
    def reset_zoom(self) -> None: ...
    def show_shortcuts(self) -> None: ...
    def show_about(self) -> None: ...


def _action(
    window: MenuWindow,
    menu: QMenu | None,
    text: str,
    slot: Callable[[], object],
    keys: tuple[str, ...] = (),
) -> QAction:
    action = QAction(text, window.window())
    if keys:
        action.setShortcuts([QKeySequence(k) for k in keys])
    action.triggered.connect(lambda _=False: slot())
    if menu is not None:
        menu.addAction(action)
    else:
        window.addAction(action)  # shortcut only
    return action


def build_menus(w: MenuWindow) -> dict[str, QMenu]:
    """Create File, Edit, View, Tools, Model and Help menus plus shortcut-only actions.

    Returns:
        The menus by name (issue 5 fills ``"Model"``).
    """
    bar = w.menuBar()
    menus = {
        name: bar.addMenu(f"&{name}") for name in ("File", "Edit", "View", "Tools", "Model", "Help")
    }
    _file_menu(w, menus["File"])
    edit = menus["Edit"]
    w.undo_action = _action(w, edit, "Undo", w.undo, ("Ctrl+Z",))
    w.redo_action = _action(w, edit, "Redo", w.redo, ("Ctrl+Shift+Z", "Ctrl+Y"))
    edit.addSeparator()
    _action(w, edit, "Mark slice labeled", lambda: w.mark_slice(True), ("M",))
    _action(w, edit, "Unmark slice", lambda: w.mark_slice(False), ("Shift+M",))
    _view_menu(w, menus["View"])
    _tools_menu(w, menus["Tools"])
    placeholder = menus["Model"].addAction("Training arrives in a later version")
    placeholder.setEnabled(False)
    _action(w, menus["Help"], "Shortcuts…", w.show_shortcuts, ("F1",))
    _action(w, menus["Help"], "About", w.show_about)
    _navigation_shortcuts(w)
    return menus


def _file_menu(w: MenuWindow, menu: QMenu) -> None:
    files = w.files
    _action(w, menu, "Open…", files.ask_open, ("Ctrl+O",))
    _action(w, menu, "Open DICOM…", files.ask_open_folder)
    _action(w, menu, "Open dataset folder…", files.ask_open_dataset)
    _action(w, menu, "Open segmentation…", files.segmentations.ask_open)
    _action(w, menu, "Open sample (chest CT)", files.open_sample)
    w.recent_menu = menu.addMenu("Open recent")
    _action(w, menu, "Add volume to project…", files.ask_add_volume)
    menu.addSeparator()
    _action(w, menu, "Save project", lambda: files.save(), ("Ctrl+S",))
    _action(w, menu, "Save project as…", files.save_as, ("Ctrl+Shift+S",))
    _action(w, menu, "Export segmentation…", lambda: files.export(), ("Ctrl+E",))
    menu.addSeparator()
    _action(w, menu, "Close", w.close_document, ("Ctrl+W",))
    _action(w, menu, "Quit", w.close, ("Ctrl+Q",))


def _view_menu(w: MenuWindow, menu: QMenu) -> None:
    view = w.ws.view
    w.volume_menu = menu.addMenu("Volume")  # filled by the window (``volume_menu``)
    menu.addSeparator()
    _action(
        w,
        menu,
        "Show / hide labels",
        lambda: view.set_overlay(labels_visible=not view.labels_visible),
        ("S",),
    )
    _action(w, menu, "Outline mode", lambda: view.set_overlay(outline=not view.outline), ("O",))
    _action(
        w, menu, "Label opacity down", lambda: view.set_overlay(opacity=view.opacity - 0.1), ("A",)
    )
    _action(
        w, menu, "Label opacity up", lambda: view.set_overlay(opacity=view.opacity + 0.1), ("D",)
    )
    menu.addSeparator()
    _action(w, menu, "Layout 1×3 / single", w.toggle_layout, ("L",))
    _action(w, menu, "Reset zoom", w.reset_zoom, ("R",))


def _tools_menu(w: MenuWindow, menu: QMenu) -> None:
    tools = w.ws.tools
    for entry in TOOLS:
        _action(w, menu, entry.name, lambda t=entry.tool: tools.update(tool=t), (entry.key,))
    menu.addSeparator()
    _action(w, menu, "Smaller brush", lambda: tools.resize(1 / 1.25), ("[",))
    _action(w, menu, "Larger brush", lambda: tools.resize(1.25), ("]",))
    _action(w, None, "Close polygon", w.controller.close_polygon, ("Return",))
    _action(w, None, "Cancel polygon", w.controller.cancel_polygon, ("Escape",))
    for value in range(1, 10):
        _action(w, None, f"Label {value}", lambda v=value: w.choose_label(v), (str(value),))


def _navigation_shortcuts(w: MenuWindow) -> None:
    for keys, step in (
        (("Up", "Right"), 1),
        (("Down", "Left"), -1),
        (("PgUp",), 10),
        (("PgDown",), -10),
    ):
        _action(w, None, f"Slice {step:+d}", lambda s=step: w.scroll_active(s), keys)
