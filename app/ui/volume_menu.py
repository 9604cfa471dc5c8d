"""View › Volume: the document's volumes by name; choosing one shows it.

The menu only forwards the choice (``Workspace.set_current`` does the switching) and is
refilled whenever the document or the volume shown changes.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMenu

from app.state.document import Document


def volume_names(doc: Document) -> list[str]:
    """One line per volume, numbered because names may repeat.

    Args:
        doc: the open document.

    Returns:
        ``"1. chest (64×128×128)"`` lines in ``doc.items`` order (shape is z×y×x).
    """
    return [
        f"{k + 1}. {item.volume.name} ({'×'.join(str(n) for n in item.volume.geometry.shape_zyx)})"
        for k, item in enumerate(doc.items)
    ]


def fill_volume_menu(menu: QMenu, doc: Document | None, choose: Callable[[int], None]) -> None:
    """List the volumes of ``doc`` in ``menu``, the one shown checked.

    Args:
        menu: the View › Volume submenu (cleared first; disabled without a document).
        doc: the open document, or None.
        choose: called with the index of the volume the user picks.
    """
    menu.clear()
    menu.setEnabled(doc is not None)
    if doc is None:
        return
    for index, name in enumerate(volume_names(doc)):
        action = menu.addAction(name)
        action.setCheckable(True)
        action.setChecked(index == doc.current)
        action.triggered.connect(lambda _=False, k=index: choose(k))
