"""The training dock: train, review the result, manage model versions.

Three tabs: *Train* (preset, device, time budget, keep refining, Start/Stop, progress with
ETA, live curves: one small plot per loss and the held-out Dice, see ``training_plots``),
*Review* (overlay toggles and opacities with the entropy legend, ranked suggestions, accept
prediction, label check) and *Versions* (each run, roll back, compare). The panel holds no
state: it shows what it is given and emits what the user asks for. The plots are redrawn on a
timer from ``loss_source`` and ``dice_source`` when new numbers arrived, never once per event.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.assist.review import SCOPES
from app.assist.run_plan import AXIS_WORDS
from app.state.refinement import MAX_ROUNDS, default_budget
from app.ui.training_plots import TrainingPlots
from app.ui.uncertainty_overlay import UncertaintyLegend
from ugpcl_engine import PRESETS

MAX_BUDGET_S = 3600
LossSource = Callable[[], dict[str, list[tuple[int, float]]]]
DiceSource = Callable[[], list[tuple[int, float]]]


def _eta(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class TrainingPanel(QWidget):
    """The training dock's widget.

    Signals:
        start_requested(str, str, float, bool): preset, device, time budget in seconds (0:
            none, the preset's steps), keep refining.
        stop_requested(): stop and keep the model (also ends refining).
        refine_toggled(bool): keep refining switched on or off.
        discard_requested(): end the run and discard it.
        layer_changed(str, bool, float): overlay layer, visible, opacity.
        suggestion_chosen(int): row in the suggestions list.
        next_requested(): jump to the next suggestion.
        accept_requested(str, int, int, bool, float, bool): scope, first, last slice,
            confident only, threshold (nats), overwrite painted.
        confirm_requested(): mark the accepted slices labeled.
        check_toggled(bool): label check on/off.
        rollback_requested(int), compare_requested(int): row in the versions list.
        toggle_requested(): flip between the current and the compared version.
    """

    start_requested = Signal(str, str, float, bool)
    stop_requested = Signal()
    refine_toggled = Signal(bool)
    discard_requested = Signal()
    layer_changed = Signal(str, bool, float)
    suggestion_chosen = Signal(int)
    next_requested = Signal()
    accept_requested = Signal(str, int, int, bool, float, bool)
    confirm_requested = Signal()
    check_toggled = Signal(bool)
    rollback_requested = Signal(int)
    compare_requested = Signal(int)
    toggle_requested = Signal()
    axis_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_source: LossSource | None = None
        self.dice_source: DiceSource | None = None
        self._losses_dirty = False
        self.tabs = QTabWidget()
        self.tabs.addTab(self._train_tab(), "Train")
        self.tabs.addTab(self._review_tab(), "Review")
        self.tabs.addTab(self._versions_tab(), "Versions")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tabs)
        self.plot_timer = QTimer(self)
        self.plot_timer.setInterval(500)
        self.plot_timer.timeout.connect(self.redraw_losses)
        self.plot_timer.start()
        self.set_running(False)

    # -- construction ------------------------------------------------------------------------
    def _train_tab(self) -> QWidget:
        tab = QWidget()
        form = QFormLayout()
        self.preset = QComboBox()
        self.preset.addItems(list(PRESETS))
        self.preset.setToolTip("quick: about a minute on CPU; standard: minutes; paper: GPU")
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        self.device.setToolTip("auto uses a CUDA GPU when there is one, else the CPU")
        self.axis = QComboBox()
        for axis, words in AXIS_WORDS.items():
            self.axis.addItem(words.capitalize(), axis)
        self.axis.setToolTip(
            "The slices training learns from and suggestions rank: the labeled slices along this "
            "axis are the examples, every other slice along it is unlabeled data."
        )
        self.axis.activated.connect(lambda row: self.axis_chosen.emit(self.axis.itemData(row)))
        form.addRow("Preset", self.preset)
        form.addRow("Device", self.device)
        form.addRow("Train along", self.axis)
        self.budget = QSpinBox()
        self.budget.setRange(0, MAX_BUDGET_S)
        self.budget.setSingleStep(10)
        self.budget.setSuffix(" s")
        self.budget.setSpecialValueText("none (preset's steps)")
        self.budget.setToolTip(
            "The first model (prediction and uncertainty) is shown within this time; training "
            "is planned and cut to fit. 0: no budget, the preset's steps."
        )
        self.refine = QCheckBox("Keep refining")
        self.refine.setToolTip(
            f"After the first model is shown, train on in the background (up to "
            f"{MAX_ROUNDS} more runs); a new model replaces the shown one only when it is "
            "better. Editing labels or Stop ends refining; the best model stays."
        )
        self.refine.toggled.connect(self.refine_toggled.emit)
        form.addRow("Time budget", self.budget)
        form.addRow("", self.refine)
        self.preset.currentTextChanged.connect(self._preset_defaults)
        self._preset_defaults(self.preset.currentText())
        self._running = False
        self._why_not_start: str | None = None
        self.start_button = QPushButton("Start training")
        self.stop_button = QPushButton("Stop && keep")
        self.discard_button = QPushButton("Discard")
        self.start_button.clicked.connect(lambda: self.start_requested.emit(*self.choice()))
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.discard_button.clicked.connect(self.discard_requested.emit)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.stop_button, self.discard_button):
            buttons.addWidget(b)
        self.progress = QProgressBar()
        self.progress.setFormat("idle")
        self.status = QLabel("Paint a few slices, then press Start.")
        self.status.setWordWrap(True)
        self.holdout = QLabel("")
        self.holdout.setWordWrap(True)
        self.plots = TrainingPlots()
        self.curves = self.plots.curves
        self.dice_curve = self.plots.dice_curve
        layout = QVBoxLayout(tab)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.holdout)
        layout.addWidget(self.plots, 1)
        return tab

    def _review_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layers = QGroupBox("Overlays")
        grid = QFormLayout(layers)
        self.layer_boxes: dict[str, tuple[QCheckBox, QSlider]] = {}
        for name, text, on, value in (
            ("prediction", "Prediction (outline)", True, 90),
            ("uncertainty", "Uncertainty", True, 70),
            ("check", "Label check", False, 100),
        ):
            box, slider = QCheckBox(text), QSlider(Qt.Orientation.Horizontal)
            box.setChecked(on)
            slider.setRange(0, 100)
            slider.setValue(value)
            box.toggled.connect(lambda _=False, n=name: self._layer(n))
            slider.valueChanged.connect(lambda _=0, n=name: self._layer(n))
            self.layer_boxes[name] = (box, slider)
            grid.addRow(box, slider)
        self.layer_boxes["check"][0].toggled.connect(self.check_toggled.emit)
        self.legend = UncertaintyLegend()
        grid.addRow(self.legend)
        self.check_count = QLabel("")
        grid.addRow(self.check_count)
        layout.addWidget(layers)
        layout.addWidget(QLabel("Where to annotate next (best first: uncertain, far from labels):"))
        self.suggestions = QListWidget()
        self.suggestions.setMinimumHeight(140)
        # the dock is a narrow column: long lines wrap instead of hiding their end
        self.suggestions.setWordWrap(True)
        self.suggestions.setResizeMode(QListView.ResizeMode.Adjust)
        self.suggestions.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.suggestions.itemClicked.connect(
            lambda item: self.suggestion_chosen.emit(self.suggestions.row(item))
        )
        layout.addWidget(self.suggestions, 1)
        self.next_button = QPushButton("Next suggestion (N)")
        self.next_button.clicked.connect(self.next_requested.emit)
        layout.addWidget(self.next_button)
        layout.addWidget(self._accept_group())
        return tab

    def _accept_group(self) -> QGroupBox:
        group = QGroupBox("Accept prediction")
        form = QFormLayout(group)
        self.scope = QComboBox()
        self.scope.addItems(list(SCOPES))
        self.range_from, self.range_to = QSpinBox(), QSpinBox()
        row = QHBoxLayout()
        row.addWidget(self.range_from)
        row.addWidget(QLabel("to"))
        row.addWidget(self.range_to)
        self.confident = QCheckBox("Confident only, uncertainty below")
        self.confident.setChecked(True)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 5.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setValue(0.3)
        self.threshold.setSuffix(" nats")
        self.overwrite = QCheckBox("Overwrite voxels I painted")
        self.accept_button = QPushButton("Accept")
        self.accept_button.clicked.connect(self._accept)
        self.confirm_button = QPushButton("Mark accepted slices labeled")
        self.confirm_button.clicked.connect(self.confirm_requested.emit)
        form.addRow("Scope", self.scope)
        form.addRow("Slices", row)
        form.addRow(self.confident, self.threshold)
        form.addRow(self.overwrite)
        form.addRow(self.accept_button)
        form.addRow(self.confirm_button)
        self.set_accepted_count(0)
        return group

    def _versions_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        self.versions = QListWidget()
        layout.addWidget(QLabel("Model versions (● current, ○ compared):"))
        layout.addWidget(self.versions, 1)
        row = QHBoxLayout()
        self.rollback_button = QPushButton("Use selected")
        self.compare_button = QPushButton("Compare with selected")
        self.toggle_button = QPushButton("Show current / compared (V)")
        self.rollback_button.clicked.connect(
            lambda: self.rollback_requested.emit(self.versions.currentRow())
        )
        self.compare_button.clicked.connect(
            lambda: self.compare_requested.emit(self.versions.currentRow())
        )
        self.toggle_button.clicked.connect(self.toggle_requested.emit)
        for b in (self.rollback_button, self.compare_button):
            row.addWidget(b)
        layout.addLayout(row)
        layout.addWidget(self.toggle_button)
        self.shown = QLabel("")
        layout.addWidget(self.shown)
        return tab

    # -- intent ------------------------------------------------------------------------------
    def _preset_defaults(self, name: str) -> None:
        """A preset brings its default budget; keep refining is on when there is a budget."""
        budget = default_budget(name)
        self.budget.setValue(budget)
        self.refine.setChecked(budget > 0)

    def choice(self) -> tuple[str, str, float, bool]:
        """What Start asks for: preset, device, budget in seconds (0: none), keep refining."""
        return (
            self.preset.currentText(),
            self.device.currentText(),
            float(self.budget.value()),
            self.refine.isChecked(),
        )

    def _layer(self, name: str) -> None:
        box, slider = self.layer_boxes[name]
        self.layer_changed.emit(name, box.isChecked(), slider.value() / 100.0)

    def _accept(self) -> None:
        self.accept_requested.emit(
            self.scope.currentText(),
            self.range_from.value(),
            self.range_to.value(),
            self.confident.isChecked(),
            self.threshold.value(),
            self.overwrite.isChecked(),
        )

    # -- state -> widgets --------------------------------------------------------------------
    def set_can_start(self, why_not: str | None) -> None:
        """Start is enabled only when there is something to train on; ``why_not`` (None: there
        is) becomes its tooltip while it is disabled."""
        self._why_not_start = why_not
        self.start_button.setToolTip(why_not or "Train a model on the labeled slices")
        self.set_running(self._running)

    def set_running(self, running: bool) -> None:
        """Enable Start or Stop/Discard."""
        self._running = running
        self.start_button.setEnabled(not running and self._why_not_start is None)
        self.stop_button.setEnabled(running)
        self.discard_button.setEnabled(running)
        self.preset.setEnabled(not running)
        self.device.setEnabled(not running)
        self.axis.setEnabled(not running)
        self.budget.setEnabled(not running)

    def set_status(self, text: str) -> None:
        """Show a one-line status."""
        self.status.setText(text)

    def show_progress(self, step: int, total: int, eta_s: float) -> None:
        """Progress bar: steps done of total with the time left."""
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(step)
        self.progress.setFormat(f"step {step}/{total} — ETA {_eta(eta_s)}")

    def show_busy(self, text: str) -> None:
        """An indeterminate bar with a caption (e.g. while the volume is predicted)."""
        self.progress.setRange(0, 0)
        self.progress.setFormat(text)

    def show_idle(self, text: str = "idle") -> None:
        """A stopped bar."""
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat(text)

    def set_axis(self, axis: str) -> None:
        """Show the training axis (``"z"``, ``"y"`` or ``"x"``)."""
        self.axis.setCurrentIndex(self.axis.findData(axis))

    def set_slice_count(self, count: int) -> None:
        """Bound the range spin boxes by the number of slices along the training axis."""
        for spin in (self.range_from, self.range_to):
            spin.setRange(0, max(count - 1, 0))

    def mark_losses_dirty(self) -> None:
        """New loss numbers arrived; the plot timer redraws them."""
        self._losses_dirty = True

    def redraw_losses(self) -> None:
        """Redraw the loss and held-out Dice plots from the sources if anything changed."""
        if not self._losses_dirty or self.loss_source is None:
            return
        self._losses_dirty = False
        dice = self.dice_source() if self.dice_source is not None else []
        self.plots.set_data(self.loss_source(), dice)

    def set_versions(self, lines: list[str], current: int | None, compare: int | None) -> None:
        """List the versions, marking the current and the compared one."""
        row = self.versions.currentRow()
        self.versions.clear()
        for i, line in enumerate(lines):
            mark = "● " if i == current else ("○ " if i == compare else "   ")
            self.versions.addItem(mark + line)
        if 0 <= row < len(lines):
            self.versions.setCurrentRow(row)

    def set_shown(self, text: str) -> None:
        """Say which version the overlays show."""
        self.shown.setText(text)

    def set_suggestions(self, lines: list[str]) -> None:
        """List the ranked suggestions."""
        self.suggestions.clear()
        self.suggestions.addItems(lines)
        self.next_button.setEnabled(bool(lines))

    def set_accepted_count(self, count: int) -> None:
        """Offer to mark ``count`` accepted slices labeled."""
        self.confirm_button.setEnabled(count > 0)
        self.confirm_button.setText(
            f"Mark {count} accepted slice{'s' if count != 1 else ''} labeled"
        )

    def set_check_count(self, text: str) -> None:
        """Show the label-check summary."""
        self.check_count.setText(text)
