"""The painting tools as the app presents them: one table for the tool panel's buttons, the
Tools menu and Help › Shortcuts (``dialogs.SHORTCUTS``, ``docs/SHORTCUTS.md``)."""

from __future__ import annotations

from dataclasses import dataclass

from app.state.view_state import Tool


@dataclass(frozen=True)
class ToolEntry:
    """One tool.

    Attributes:
        tool: the tool.
        name: its name in the Tools menu.
        button: its (short) name on the tool panel's button.
        key: its keyboard shortcut.
        help: what it does, for Help › Shortcuts.
    """

    tool: Tool
    name: str
    button: str
    key: str
    help: str


TOOLS: tuple[ToolEntry, ...] = (
    ToolEntry(Tool.BRUSH, "Brush", "Brush", "B", "Brush"),
    ToolEntry(Tool.ERASER, "Eraser", "Eraser", "E", "Eraser"),
    ToolEntry(Tool.FILL, "Fill", "Fill", "F", "Flood fill in the slice"),
    ToolEntry(
        Tool.POLYGON,
        "Polygon / lasso",
        "Polygon",
        "P",
        "Polygon (click points, double-click or Enter to close, Esc to cancel) or lasso (drag)",
    ),
    ToolEntry(Tool.PICKER, "Pick label", "Pick label", "K", "Pick the label under the mouse"),
    ToolEntry(
        Tool.NAVIGATE, "Navigate", "Navigate", "Q", "Navigate (click or drag moves the crosshair)"
    ),
    ToolEntry(
        Tool.WINDOW,
        "Window / level",
        "Window/level",
        "W",
        "Window / level tool (left drag: left-right width, up-down level)",
    ),
)
