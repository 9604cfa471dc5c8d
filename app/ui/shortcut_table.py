"""Every key and mouse binding of the app, next to 3D Slicer's, ITK-SNAP's and napari's.

One row per action (``Shortcut``); Help › Shortcuts (``dialogs.ShortcutsDialog``) and
``docs/SHORTCUTS.md`` (``dialogs.shortcuts_markdown``) both show ``SHORTCUTS``, and a test
checks that they agree. To add a binding, add a row here (at the place it should appear); the
tool rows come from the tool table (``tool_table.TOOLS``), compared through ``TOOL_PEERS``.

The other programs' columns hold only bindings taken from their own documentation or default
key tables (Slicer's user-interface and Segment Editor pages, napari's default shortcuts); "—"
means none, or none we are sure of. Slicer's Segment Editor keys are active only in that module.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.state.view_state import Tool
from app.ui.tool_table import TOOLS

NONE = "—"


@dataclass(frozen=True)
class Shortcut:
    """One action and its bindings.

    Attributes:
        keys: our key or mouse binding.
        action: what it does here.
        slicer, itk_snap, napari: the same action's binding in that program, or ``NONE``.
        note: a clash with another program's use of ``keys`` and how we settled it, or "".
    """

    keys: str
    action: str
    slicer: str = NONE
    itk_snap: str = NONE
    napari: str = NONE
    note: str = ""


PEERS = ("3D Slicer", "ITK-SNAP", "napari")

# how the other programs choose the same tool: (slicer, itk_snap, napari, note)
TOOL_PEERS: dict[Tool, tuple[str, str, str, str]] = {
    Tool.BRUSH: (NONE, NONE, "P", ""),
    Tool.ERASER: (NONE, NONE, "E", ""),
    Tool.FILL: (NONE, NONE, "F", ""),
    Tool.POLYGON: (NONE, NONE, "3", "napari's P is its paint brush; kept P for the polygon."),
    Tool.PICKER: (NONE, NONE, "L", "L is our layout toggle; K picks."),
    Tool.NAVIGATE: (
        NONE,
        NONE,
        "Z",
        "Slicer's Segment Editor uses Q for the previous segment; kept (no segments list here).",
    ),
    Tool.WINDOW: (
        "Window/level mouse mode (toolbar), left drag",
        NONE,
        NONE,
        "Slicer's Segment Editor uses W for the next segment; kept, W for window is easier to "
        "remember.",
    ),
}


def _tool_rows() -> tuple[Shortcut, ...]:
    rows = []
    for entry in TOOLS:
        slicer, itk_snap, napari, note = TOOL_PEERS.get(entry.tool, (NONE, NONE, NONE, ""))
        rows.append(Shortcut(entry.key, entry.help, slicer, itk_snap, napari, note))
    return tuple(rows)


SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("Ctrl+O", "Open image, DICOM file or project", "Ctrl+O", "Ctrl+O", "Ctrl+O"),
    Shortcut("Drop files or a folder on the window", "Open them (as Ctrl+O)", "Drop", NONE, "Drop"),
    Shortcut("Ctrl+S / Ctrl+Shift+S", "Save project / save as", "Ctrl+S", NONE, "Ctrl+S"),
    Shortcut("Ctrl+E", "Export segmentation"),
    Shortcut("Ctrl+W", "Close the document (asks about unsaved changes; back to the start panel)"),
    Shortcut("Ctrl+Q", "Quit (asks about unsaved changes)"),
    Shortcut("Ctrl+Z", "Undo", "Z (Segment Editor)", "Ctrl+Z", NONE),
    Shortcut("Ctrl+Shift+Z, Ctrl+Y", "Redo", "Y (Segment Editor)", NONE, NONE),
    *_tool_rows(),
    Shortcut(
        "[ and ]",
        "Smaller / larger brush",
        "- and + (Paint), Shift+wheel",
        NONE,
        "[ and ]",
        "Slicer's [ ] choose the background volume; we follow napari.",
    ),
    Shortcut(
        "1 – 9",
        "Choose label 1 to 9",
        "1 – 0: choose effect (Segment Editor)",
        NONE,
        NONE,
        "napari's 1 – 7 choose its tools; ours choose labels (more frequent in annotation).",
    ),
    Shortcut(", / .", "Previous / next label (ITK-SNAP's < / >)", NONE, "< / >", NONE),
    Shortcut(
        "I",
        "Fill between slices: interpolate the unlabeled slices between the labeled ones "
        "(view under the mouse; one undo step)",
        "Fill between slices effect (Segment Editor)",
        NONE,
        NONE,
        "Slicer's Segment Editor I toggles masking by intensity range; kept.",
    ),
    Shortcut(
        "M / Shift+M",
        "Mark / unmark the slice under the mouse as labeled",
        note="napari's M makes a new label; kept (our labels panel adds labels).",
    ),
    Shortcut(
        "Up/Right, Down/Left arrows",
        "Next / previous slice in the view under the mouse",
        "Right / Left arrow, F / B",
        NONE,
        "Right / Left arrow",
        "Slicer's F / B also step slices; here they are the fill and brush tools (kept).",
    ),
    Shortcut("Page Up / Page Down", "Ten slices forward / back"),
    Shortcut(
        "Mouse wheel",
        "Scroll slices; Ctrl+wheel zooms",
        "Ctrl+wheel zooms",
        NONE,
        NONE,
        "napari's wheel zooms; we scroll slices as Slicer and ITK-SNAP do.",
    ),
    Shortcut(
        "S",
        "Show / hide labels",
        "G",
        NONE,
        "V (selected layer)",
        "napari's V toggles the selected layer; our V compares model versions.",
    ),
    Shortcut("A / D", "Label opacity down / up"),
    Shortcut("O", "Outline mode on / off"),
    Shortcut(
        "Right drag",
        "Zoom about the press point (up: in, down: out)",
        "Right drag up / down",
        "Right drag",
        NONE,
    ),
    Shortcut(
        "Middle drag, Space (hold) + left drag",
        "Pan",
        "Middle drag, Shift+left drag",
        "Middle drag",
        "Space (hold) + drag",
        "Slicer's Shift+left drag pans; free here. Slicer's Segment Editor Space switches "
        "between the last two effects; we hold Space to pan, as napari does.",
    ),
    Shortcut(
        "Ctrl+left drag, or the W tool's left drag",
        "Window / level (left-right: width, up-down: level)",
        "Left drag in the Window/level mouse mode",
        NONE,
        NONE,
        "Slicer's Ctrl+left drag in that mode sets the window from a region, and Slicer lets a "
        "one-button mouse use Ctrl+click as a right click; right drag now zooms here, as there.",
    ),
    Shortcut("R", "Reset zoom", "R", NONE, "Ctrl+R"),
    Shortcut("L", "Toggle 1×3 / single-view layout"),
    Shortcut(
        "Return / Esc", "Close / cancel the polygon", "Enter (Draw: apply)", NONE, "Enter / Esc"
    ),
    Shortcut("Ctrl+T / Ctrl+Shift+T", "Start training / stop and keep the model"),
    Shortcut("N", "Jump to the next suggested slice (most useful to annotate)"),
    Shortcut("Ctrl+Return", "Accept the prediction on this slice (one undo step)"),
    Shortcut("Ctrl+L", "Label check: show where the model confidently disagrees with your paint"),
    Shortcut(
        "V",
        "Toggle between the current and the compared model version",
        note="Slicer's V shows the slice in 3-D and napari's V hides the selected layer; kept.",
    ),
    Shortcut("F1", "This list", NONE, NONE, "Ctrl+Alt+/"),
)

HEADERS = ("Keys", "Action", *PEERS, "Note")


def row_cells(row: Shortcut) -> tuple[str, ...]:
    """One row's cells in ``HEADERS`` order."""
    return (row.keys, row.action, row.slicer, row.itk_snap, row.napari, row.note)
