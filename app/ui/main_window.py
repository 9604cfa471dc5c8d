"""The main window and the GUI entry point ``main(args)``.

Layout: the three slice views (1×3 or one) in the centre, the tool and label panels docked on the
right, a status bar with the voxel readout. ``add_side_panel`` and the ``Model`` menu are where
the training panel (issue 5) plugs in.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QDockWidget,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QWidget,
)

from app.jobs.tasks import TaskRunner
from app.state import files
from app.state.app_log import configure_logging
from app.state.observable import WiredOnce
from app.state.view_geometry import voxel_to_mm
from app.state.view_state import CT_PRESETS, VIEW_AXES
from app.state.window_presets import preset_names, preset_window
from app.state.workspace import Workspace
from app.ui import dialogs, dicom_browser
from app.ui.actions import build_menus
from app.ui.assist import ask_stop_training, install_assist
from app.ui.code_dialog import edit_code
from app.ui.drop import install_file_drop
from app.ui.file_actions import FileActions
from app.ui.fill_between import install_fill_between
from app.ui.label_actions import LabelActions
from app.ui.label_panel import LabelPanel
from app.ui.model_menu import install_model_menu
from app.ui.settings import install_settings
from app.ui.slice_view import SliceView
from app.ui.task_progress import install_task_progress
from app.ui.tool_panel import ToolPanel
from app.ui.view_controller import ViewController
from app.ui.volume_menu import fill_volume_menu
from app.ui.welcome import install_welcome
from ugpcl_engine import __version__, headless_commands

APP_NAME = "ugpcl-studio"
# loaded only when a file needs them (DICOM scans, DICOM-SEG, .seg.nrrd, fill between slices)
HEAVY_MODULES = ("torch", "pydicom", "highdicom", "slicerio", "itk")
START_HINT = (
    "Open an image, a DICOM folder or a project (File › Open), or the sample (File › Open sample)."
)

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """The annotation workspace window.

    Args:
        workspace: the state shown (a new one when None).
    """

    def __init__(self, workspace: Workspace | None = None) -> None:
        super().__init__()
        self.ws = workspace or Workspace()
        self._wired_doc, self._wired_editor = WiredOnce(), WiredOnce()
        self.pan_held = False
        self.setWindowTitle(APP_NAME)
        self.views = {axis: SliceView(axis, lambda: self.pan_held) for axis in VIEW_AXES}
        self.controller = ViewController(self.ws, self.views)
        self.tasks = TaskRunner(self)  # the one runner of every background task
        self.files = FileActions(self.ws, self, self.tasks)
        self._build_central()
        self.tool_panel = ToolPanel()
        self.label_panel = LabelPanel()
        self.add_side_panel(self.tool_panel, "Tools")
        self.add_side_panel(self.label_panel, "Labels")
        self.menus = build_menus(self)
        self.label_actions = LabelActions(  # delete, merge, import, the , and . keys
            self, self.ws, self.label_panel, self.menus["Edit"], self.statusBar().showMessage
        )
        self.fill_between = install_fill_between(self)  # Tools › Fill between slices (I)
        self.readout = QLabel(START_HINT)
        self.statusBar().addWidget(self.readout, 1)
        self.centre = install_welcome(self, self.ws, self.files)  # before _connect: see there
        install_file_drop(self, self.files)
        self.progress = install_task_progress(self, self.tasks)  # every task, with Cancel
        self._connect()
        self._fill_recent()
        self._fill_volumes()
        self.sync_panels()
        self.resize(1500, 900)

    # -- construction ------------------------------------------------------------------------
    def _build_central(self) -> None:
        central = QWidget()
        self.grid = QGridLayout(central)
        self.grid.setContentsMargins(2, 2, 2, 2)
        self.grid.setSpacing(3)
        for column, axis in enumerate(VIEW_AXES):
            self.grid.addWidget(self.views[axis], 0, column)
        self.setCentralWidget(central)

    def add_side_panel(self, widget: QWidget, title: str) -> QDockWidget:
        """Dock a panel on the right (tools, labels; training in issue 5)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock-{title.lower()}")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        return dock

    def _connect(self) -> None:
        ws = self.ws
        ws.document_replaced.connect(lambda _: self._document_replaced())
        ws.volume_changed.connect(lambda _: self._volume_changed())
        ws.tools.changed.connect(lambda _: self.sync_panels())
        ws.view.changed.connect(self._view_changed)
        self.controller.hovered.connect(self._show_readout)
        self.controller.status.connect(self.statusBar().showMessage)
        self.files.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.files.recent_changed.connect(self._fill_recent)
        self.files.saved.connect(lambda _: self._update_title())
        self.tool_panel.setting_changed.connect(self._tool_setting)
        panel = self.label_panel
        panel.label_selected.connect(lambda v: self.choose_label(v))
        panel.renamed.connect(lambda v, name: self._edit(lambda e: e.rename_label(v, name)))
        panel.recoloured.connect(lambda v, rgb: self._edit(lambda e: e.recolour_label(v, rgb)))
        panel.hidden_changed.connect(lambda v, on: self._edit(lambda e: e.set_hidden(v, on)))
        panel.locked_changed.connect(lambda v, on: self._edit(lambda e: e.set_locked(v, on)))
        panel.add_requested.connect(lambda: self._edit(lambda e: self.choose_label(e.add_label())))
        panel.code_requested.connect(lambda v: self._edit(lambda e: edit_code(self, e, v)))

    # -- state -> widgets --------------------------------------------------------------------
    def _document_replaced(self) -> None:
        doc = self.ws.doc
        if doc is None:  # closed: the start panel takes the views' place
            self.setWindowTitle(APP_NAME)
            self.readout.setText(START_HINT)
            self._fill_volumes()
            return
        if self._wired_doc.first_time(doc):  # a recovery announces the same document again
            doc.table_changed.connect(lambda _: self.sync_panels())
            doc.modified_changed.connect(lambda _: self._update_title())
        editor = self.ws.editor
        if editor is not None and self._wired_editor.first_time(editor):
            editor.journal_failed.connect(
                lambda msg: dialogs.show_error(self, "Autosave stopped", msg)
            )
        self.readout.setText("")  # the "Open an image…" hint is done; hovering fills it again
        self.controller.document_replaced()
        self.sync_panels()
        self._update_title()
        self._fill_volumes()

    def _volume_changed(self) -> None:
        """Another volume of the same document is shown (same path as a new document's
        volume, without reconnecting the document's signals)."""
        doc = self.ws.doc
        if doc is None:
            return
        self.controller.show_volume()
        self.sync_panels()
        self._update_title()
        self._fill_volumes()
        self.statusBar().showMessage(
            f"Showing volume {doc.current + 1} of {len(doc.items)}: {doc.item.volume.name}", 8000
        )

    def _fill_volumes(self) -> None:
        fill_volume_menu(self.volume_menu, self.ws.doc, self.choose_volume)

    def sync_panels(self) -> None:
        """Show the tool, view and label settings in the panels."""
        self.tool_panel.sync(self.ws.tools, self.ws.view)
        doc = self.ws.doc
        if doc is not None:
            volume = doc.item.volume  # the presets of its modality first
            self.tool_panel.set_presets(
                preset_names(volume.modality, volume.header_window is not None)
            )
            self.label_panel.sync(doc.table, doc.hidden, doc.locked, self.ws.tools.label)

    def _view_changed(self, what: str) -> None:
        if what == "layout":
            self._apply_layout()
        if what in ("layout", "overlay"):
            self.tool_panel.sync(self.ws.tools, self.ws.view)

    def _apply_layout(self) -> None:
        single = self.ws.view.layout == "single"
        for axis, view in self.views.items():
            view.setVisible(not single or axis == self.ws.view.single_axis)
        QTimer.singleShot(0, self.reset_zoom)

    def _update_title(self) -> None:
        doc = self.ws.doc
        if doc is not None:
            volume = ""
            if len(doc.items) > 1:
                volume = f" · {doc.item.volume.name} ({doc.current + 1}/{len(doc.items)})"
            self.setWindowTitle(f"{doc.title}{volume}{' *' if doc.modified else ''} — {APP_NAME}")

    def _show_readout(self, voxel: tuple[int, int, int] | None) -> None:
        doc = self.ws.doc
        if doc is None or voxel is None:
            return
        z, y, x = voxel
        mm = voxel_to_mm(doc.item.volume.geometry, voxel)
        value = doc.labels_zyx[z, y, x]
        name = doc.table.classes[value].name if value < doc.table.num_classes else "?"
        intensity = doc.item.volume.image_zyx[z, y, x]
        self.readout.setText(
            f"voxel (z {z}, y {y}, x {x})   {mm[0]:.1f}, {mm[1]:.1f}, {mm[2]:.1f} mm   "
            f"value {intensity:g}   label {value} {name}   "
            f"{'labeled' if doc.is_labeled('z', z) else 'unlabeled'} axial slice"
        )

    # -- intent ------------------------------------------------------------------------------
    def _tool_setting(self, key: str, value: object) -> None:
        ws = self.ws
        if key in ("labels_visible", "opacity", "outline"):
            ws.view.set_overlay(**{key: value})
        elif key == "preset":
            self.apply_preset(str(value))
        elif key == "layout":
            layout, axis = value  # type: ignore[misc]
            ws.view.set_layout(layout, axis)
        elif key == "mark":
            self.mark_slice(bool(value))
        else:
            ws.tools.update(**{key: value})

    def apply_preset(self, name: str) -> None:
        """Set a window preset by name (``window_presets.preset_names``: CT, MR percentiles,
        automatic, the file header's window)."""
        if name in CT_PRESETS:
            self.ws.view.set_window(*CT_PRESETS[name])
        elif self.ws.doc is not None:
            window = preset_window(name, self.ws.doc.item.volume)
            if window is not None:
                self.ws.view.set_window(*window)

    def _edit(self, change: object) -> None:
        editor = self.ws.editor
        if editor is None:
            return
        try:
            change(editor)  # type: ignore[operator]
        except ValueError as err:
            dialogs.show_error(self, "Labels", str(err))
            self.sync_panels()

    def choose_label(self, value: int) -> None:
        """Make ``value`` the active label when the table has it."""
        doc = self.ws.doc
        if doc is not None and 1 <= value < doc.table.num_classes:
            self.ws.tools.update(label=value)

    def choose_volume(self, index: int) -> None:
        """View › Volume: show volume ``index`` of the document."""
        if self.ws.doc is not None and 0 <= index < len(self.ws.doc.items):
            self.ws.set_current(index)
        self._fill_volumes()  # keep the check mark on the volume shown

    def mark_slice(self, labeled: bool) -> None:
        """Mark or unmark the shown slice of the active view."""
        axis = self.controller.active_axis
        if self.ws.editor is not None:
            self.ws.editor.set_mark(axis, self.ws.view.slice_index(axis), labeled)
            self._update_title()

    def close_document(self) -> None:
        """File › Close: ask about a running training and unsaved edits, then show none."""
        if self.ws.doc is None:
            return
        assist = getattr(self, "assist", None)
        running = assist is not None and assist.training.quit_needs_consent()
        if running and not ask_stop_training(self):
            return
        if self.files.confirm_discard():
            self.ws.close_document()

    def undo(self) -> None:
        """Edit › Undo."""
        if self.ws.editor is not None and self.ws.editor.undo():
            self._update_title()

    def redo(self) -> None:
        """Edit › Redo."""
        if self.ws.editor is not None and self.ws.editor.redo():
            self._update_title()

    def scroll_active(self, step: int) -> None:
        """Move the active view by ``step`` slices."""
        self.controller.scroll(self.controller.active_axis, step)

    def toggle_layout(self) -> None:
        """Switch between the 1×3 layout and the active view alone."""
        view = self.ws.view
        view.set_layout("1x3" if view.layout == "single" else "single", self.controller.active_axis)

    def reset_zoom(self) -> None:
        """Fit every visible view."""
        for view in self.views.values():
            if view.isVisible():
                view.reset_zoom()

    def show_shortcuts(self) -> None:
        """Help › Shortcuts."""
        dialogs.ShortcutsDialog(self).exec()

    def show_about(self) -> None:
        """Help › About."""
        QMessageBox.about(
            self,
            APP_NAME,
            "ugpcl-studio: paint a few slices, train UGPCL, review the uncertain slices.",
        )

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self.files.recent.paths():
            action = self.recent_menu.addAction(" + ".join(Path(p).name for p in entry))
            action.setToolTip("\n".join(entry))
            action.triggered.connect(lambda _=False, e=entry: self.files.open_paths(e))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    # -- Qt events ---------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        if self.files.confirm_discard():
            self.tasks.cancel_all()  # model runs, exports and reads stop; saves finish
            self.tasks.wait(10000)
            self.ws.keeper.close()  # an autosave without edits goes; the live-session lock too
            event.accept()
        else:
            event.ignore()


class SpacePan(QObject):
    """Application event filter: holding Space (outside text fields) makes left drags pan."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        kind = event.type()
        if kind == QEvent.Type.ApplicationDeactivate:  # Space's release goes to another app
            self.window.pan_held = False
        if kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease) and isinstance(event, QKeyEvent):
            focus = QApplication.focusWidget()
            typing = isinstance(focus, QLineEdit | QAbstractSpinBox)
            if event.key() == Qt.Key.Key_Space and not typing:
                if not event.isAutoRepeat():
                    self.window.pan_held = kind == QEvent.Type.KeyPress
                return True
        return False


def _subcommands_help() -> str:
    """The headless subcommands, as the engine CLI describes them (only for ``--help``)."""
    lines = [f"  {name:<18}{text}" for name, text in headless_commands()]
    return "headless subcommands (ugpcl-studio COMMAND --help for each):\n" + "\n".join(lines)


def parse_args(args: list[str]) -> argparse.Namespace:
    """Command-line options of the GUI (``--help`` also lists the headless subcommands)."""
    parser = argparse.ArgumentParser(
        prog="ugpcl-studio",
        description="Annotation workspace.",
        epilog=_subcommands_help() if {"-h", "--help"} & set(args) else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"ugpcl-studio {__version__}")
    parser.add_argument(
        "files",
        nargs="*",
        help="images (each optionally followed by its labels), a DICOM folder, a dataset folder "
        "(MSD/nnU-Net or SSL4MIS) or a .ugpcl project",
    )
    parser.add_argument("--sample", action="store_true", help="open the bundled chest CT")
    parser.add_argument("--screenshot", metavar="PNG", help="save the window after loading, exit")
    parser.add_argument("--report-imports", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(args)


def main(args: list[str]) -> int:
    """Start the GUI; return the exit code."""
    options = parse_args(args)
    configure_logging()  # rotating log file (or stderr when its folder cannot be written)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    window = MainWindow()
    install_assist(window)  # training dock, Model menu, overlays (issue 5)
    install_model_menu(window)  # Export ONNX…, Run model on a file… (issue 6)
    if not options.screenshot:  # a screenshot shows the defaults and remembers nothing
        install_settings(window, window.ws)  # after every dock is added
    app.installEventFilter(SpacePan(window))
    window.show()
    sys.excepthook = _unexpected_error_dialog(window)
    errors: list[str] = []
    if options.screenshot:  # unattended: report errors on stderr instead of modal dialogs
        dialogs.show_error = lambda _parent, title, message, details=None: _print_error(
            errors, title, message
        )
        dicom_browser.ask_series = dicom_browser.ask_series_unattended
    if options.sample:
        window.files.open_sample()
    elif options.files:
        window.files.open_paths(options.files)
    elif not options.screenshot:
        window.files.reopen_crashed_project()
    files.remove_stale_save_temps(window.files.recent.paths())
    if options.screenshot:
        _schedule_screenshot(window, Path(options.screenshot))
    code = app.exec()
    if options.report_imports:
        print(f"torch-imported={'torch' in sys.modules}")
        heavy = [name for name in HEAVY_MODULES if name in sys.modules]
        print(f"heavy-imported={','.join(heavy)}")
    return 2 if errors else int(code)


def _print_error(errors: list[str], title: str, message: str) -> None:
    errors.append(message)
    print(f"{title}: {message}", file=sys.stderr)


def _unexpected_error_dialog(window: MainWindow):
    """An excepthook that shows programming errors in a dialog instead of dying silently."""
    previous = sys.excepthook
    showing = [False]  # a dialog of this hook is open (its event loop runs timers, redraws)

    def hook(kind, value, tb) -> None:
        previous(kind, value, tb)
        log.error("unexpected error", exc_info=(kind, value, tb))
        if showing[0]:  # the same error again, from inside the open dialog: logged only
            return
        showing[0] = True
        try:
            dialogs.show_error(
                window,
                "Unexpected error",
                f"{kind.__name__}: {value}\n\nThe action was not completed. Save your "
                "project under a new name and report this error.",
                details="".join(traceback.format_exception(kind, value, tb)),
            )
        finally:
            showing[0] = False

    return hook


def _schedule_screenshot(window: MainWindow, path: Path) -> None:
    """Save the window to ``path`` once loading has finished, then quit."""

    def attempt() -> None:
        if window.tasks.busy():
            QTimer.singleShot(100, attempt)
            return
        QApplication.processEvents()
        path.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(path))
        print(f"screenshot written to {path}")
        if window.ws.doc is not None:
            window.ws.doc.modified = False  # a screenshot run never asks to save
        QApplication.quit()

    QTimer.singleShot(300, attempt)
