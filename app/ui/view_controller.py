"""Glue between the slice views and the workspace: gestures become editor and view calls,
state changes become redraws. Holds only the transient gesture in progress (a polygon).
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.state.document import Region, slice_of
from app.state.observable import WiredOnce
from app.state.view_geometry import slice_caption, slice_layout
from app.state.view_state import VIEW_AXES, Tool
from app.state.workspace import Workspace
from app.ui.overlay import label_lut, outline
from app.ui.slice_view import SliceView

WINDOW_DRAG_GAIN = 4.0  # intensity units per screen pixel and per 100 units of window width


class ViewController(QObject):
    """Connects three ``SliceView``s to a ``Workspace``.

    Args:
        workspace: the state.
        views: one view per axis ``"z"``, ``"y"``, ``"x"``.

    Signals:
        hovered(object): voxel (z, y, x) under the mouse, or None.
        status(str): a short message for the status bar.
    """

    hovered = Signal(object)
    status = Signal(str)

    def __init__(self, workspace: Workspace, views: dict[str, SliceView]) -> None:
        super().__init__()
        self.ws = workspace
        self.views = views
        self._wired = WiredOnce()
        self.active_axis = "z"
        self._polygon: list[tuple[float, float]] = []
        self._polygon_axis = "z"
        for axis, view in views.items():
            self._connect_view(axis, view)
        workspace.view.changed.connect(self._view_changed)
        workspace.tools.changed.connect(lambda _: self._tool_changed())

    # -- wiring ------------------------------------------------------------------------------
    def _connect_view(self, axis: str, view: SliceView) -> None:
        canvas = view.canvas
        canvas.drag_started.connect(lambda x, y, a=axis: self._drag_started(a, x, y))
        canvas.drag_moved.connect(lambda x, y, a=axis: self._drag_moved(a, x, y))
        canvas.drag_finished.connect(lambda a=axis: self._drag_finished(a))
        canvas.clicked.connect(lambda x, y, a=axis: self._clicked(a, x, y))
        canvas.double_clicked.connect(lambda x, y, a=axis: self._close_polygon(a))
        canvas.window_dragged.connect(self._window_dragged)
        canvas.scrolled.connect(lambda step, a=axis: self.scroll(a, step))
        canvas.hovered.connect(lambda x, y, a=axis: self._hovered(a, x, y))
        view.slice_requested.connect(self._slice_requested)

    def _tool_changed(self) -> None:
        self._cancel_polygon()
        windowing = self.ws.tools.tool is Tool.WINDOW
        for view in self.views.values():
            view.canvas.left_drag_windows = windowing

    def document_replaced(self) -> None:
        """Follow the new document's changes and load its volume into every view."""
        doc = self.ws.doc
        if doc is None:
            return
        if self._wired.first_time(doc):  # a recovery announces the same document again
            doc.labels_changed.connect(self._labels_changed)
            doc.marks_changed.connect(self._marks_changed)
            doc.table_changed.connect(lambda _: self.restyle())
        self.show_volume()

    def show_volume(self) -> None:
        """Load the document's current volume into every view (new document or volume switch)."""
        doc = self.ws.doc
        if doc is None:
            return
        self._cancel_polygon()
        geometry = doc.item.volume.geometry
        for axis, view in self.views.items():
            view.set_volume(doc.item.volume.image_zyx, doc.labels_zyx, slice_layout(geometry, axis))
        self.restyle()
        self.redraw_all()
        for view in self.views.values():
            view.reset_zoom()

    def redraw_all(self) -> None:
        """Draw every view's slice, crosshair and marks."""
        if self.ws.doc is None:
            return
        levels = self.ws.view.levels()
        for axis, view in self.views.items():
            self._show(view, self.ws.view.slice_index(axis), levels)
            self._marks_changed(axis)
        self._place_crosshairs()

    def _show(self, view: SliceView, index: int, levels: tuple[float, float]) -> None:
        view.show_slice(index, levels)
        doc = self.ws.doc
        if doc is not None and view.layout_info is not None:
            view.set_caption(slice_caption(doc.item.volume.geometry, view.layout_info, index))

    def restyle(self) -> None:
        """Apply the overlay LUT, visibility and outline mode."""
        doc, view = self.ws.doc, self.ws.view
        if doc is None:
            return
        lut = label_lut(doc.table, doc.hidden, view.opacity)
        for v in self.views.values():
            v.set_label_style(lut, view.labels_visible, outline if view.outline else None)

    # -- state -> views ----------------------------------------------------------------------
    def _view_changed(self, what: str) -> None:
        if self.ws.doc is None:
            return
        if what == "cursor":
            levels = self.ws.view.levels()
            for axis, view in self.views.items():
                index = self.ws.view.slice_index(axis)
                if index != view._index:
                    self._show(view, index, levels)
                    self._marks_changed(axis)
            self._place_crosshairs()
        elif what == "window":
            for view in self.views.values():
                view.set_levels(self.ws.view.levels())
        elif what == "overlay":
            self.restyle()

    def _labels_changed(self, region: Region) -> None:
        for view in self.views.values():
            view.labels_changed(region)

    def _marks_changed(self, axis: str) -> None:
        if self.ws.doc is not None:
            self.views[axis].set_marks(self.ws.doc.item.labeled[axis])

    def _place_crosshairs(self) -> None:
        z, y, x = self.ws.view.cursor_zyx
        self.views["z"].set_crosshair(y, x)
        self.views["y"].set_crosshair(z, x)
        self.views["x"].set_crosshair(z, y)

    # -- navigation --------------------------------------------------------------------------
    def scroll(self, axis: str, step: int) -> None:
        """Move the slice of ``axis`` by ``step``."""
        if self.ws.doc is None:
            return
        self.active_axis = axis
        self.ws.view.set_slice(
            axis, self.ws.view.slice_index(axis) + step, self.ws.doc.slice_count(axis)
        )

    def _slice_requested(self, axis: str, index: int) -> None:
        if self.ws.doc is not None:
            self.ws.view.set_slice(axis, index, self.ws.doc.slice_count(axis))

    def _voxel(self, axis: str, x: float, y: float) -> tuple[int, int, int] | None:
        doc = self.ws.doc
        if doc is None:
            return None
        row, col = int(np.floor(y)), int(np.floor(x))
        plane = slice_of(doc.labels_zyx, axis, 0)
        if not (0 <= row < plane.shape[0] and 0 <= col < plane.shape[1]):
            return None
        index = self.ws.view.slice_index(axis)
        return {"z": (index, row, col), "y": (row, index, col), "x": (row, col, index)}[axis]

    def _hovered(self, axis: str, x: float, y: float) -> None:
        self.active_axis = axis
        self.hovered.emit(self._voxel(axis, x, y))
        painting = self.ws.tools.tool in (Tool.BRUSH, Tool.ERASER)
        for other, view in self.views.items():
            layout = view.layout_info
            if painting and other == axis and layout is not None:
                view.show_brush((x, y), self.ws.tools.radius_rc(layout.spacing_rc))
            else:
                view.show_brush(None)

    def _move_cursor(self, axis: str, x: float, y: float) -> None:
        voxel = self._voxel(axis, x, y)
        if voxel is not None and self.ws.doc is not None:
            self.ws.view.set_cursor(voxel, self.ws.doc.item.volume.geometry.shape_zyx)

    def _window_dragged(self, dx: float, dy: float) -> None:
        centre, width = self.ws.view.window
        gain = WINDOW_DRAG_GAIN * max(width, 1.0) / 400.0
        self.ws.view.set_window(centre - dy * gain, width + dx * gain)

    # -- painting ----------------------------------------------------------------------------
    def _drag_started(self, axis: str, x: float, y: float) -> None:
        self.active_axis = axis
        editor, tool = self.ws.editor, self.ws.tools.tool
        if editor is None:
            return
        if tool in (Tool.BRUSH, Tool.ERASER):
            editor.begin_stroke(axis, self.ws.view.slice_index(axis), tool is Tool.ERASER)
            editor.stroke_to((y - 0.5, x - 0.5))  # the press point, not the first move
        elif tool is Tool.POLYGON:
            self._polygon, self._polygon_axis = [], axis  # a drag draws a lasso

    def _drag_moved(self, axis: str, x: float, y: float) -> None:
        tool = self.ws.tools.tool
        editor = self.ws.editor
        if tool in (Tool.BRUSH, Tool.ERASER) and editor is not None and editor.in_stroke:
            editor.stroke_to((y - 0.5, x - 0.5))
        elif tool is Tool.POLYGON and axis == self._polygon_axis:
            self._polygon.append((x, y))
            self.views[axis].set_polygon(np.array(self._polygon))
        elif tool is Tool.NAVIGATE:
            self._move_cursor(axis, x, y)

    def _drag_finished(self, axis: str) -> None:
        tool = self.ws.tools.tool
        if tool in (Tool.BRUSH, Tool.ERASER) and self.ws.editor is not None:
            self.ws.editor.end_stroke()
            self.views[axis].flush()
        elif tool is Tool.POLYGON:
            self._close_polygon(axis)

    def _clicked(self, axis: str, x: float, y: float) -> None:
        self.active_axis = axis
        editor, tool, index = self.ws.editor, self.ws.tools.tool, self.ws.view.slice_index(axis)
        if editor is None:
            return
        if tool in (Tool.BRUSH, Tool.ERASER):
            editor.dab(axis, index, (y - 0.5, x - 0.5), tool is Tool.ERASER)
        elif tool is Tool.FILL:
            editor.fill(axis, index, (int(np.floor(y)), int(np.floor(x))))
        elif tool is Tool.PICKER and self._voxel(axis, x, y) is not None:
            label = editor.pick(axis, index, (int(np.floor(y)), int(np.floor(x))))
            self.status.emit(f"Active label: {editor.doc.table.classes[label].name}")
        elif tool is Tool.WINDOW:
            return  # the window/level tool only drags
        elif tool is Tool.POLYGON:
            if self._polygon and axis != self._polygon_axis:
                self._cancel_polygon()
            self._polygon_axis = axis
            self._polygon.append((x, y))
            self.views[axis].set_polygon(np.array([*self._polygon, self._polygon[0]]))
        else:
            self._move_cursor(axis, x, y)
        self.views[axis].flush()

    def close_polygon(self) -> None:
        """Fill the polygon being drawn (Enter)."""
        self._close_polygon(self._polygon_axis)

    def cancel_polygon(self) -> None:
        """Forget the polygon being drawn (Escape)."""
        self._cancel_polygon()

    def _close_polygon(self, axis: str) -> None:
        points, self._polygon = self._polygon, []
        self.views[self._polygon_axis].set_polygon(None)
        if self.ws.editor is not None and len(points) >= 3 and axis == self._polygon_axis:
            rc = np.array([(y - 0.5, x - 0.5) for x, y in points])
            self.ws.editor.polygon(axis, self.ws.view.slice_index(axis), rc)
            self.views[axis].flush()

    def _cancel_polygon(self) -> None:
        if self._polygon:
            self._polygon = []
            self.views[self._polygon_axis].set_polygon(None)


__all__ = ["VIEW_AXES", "ViewController"]
