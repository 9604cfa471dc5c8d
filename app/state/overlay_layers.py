"""What the assist overlays show on the slice views (Qt-free): a model result and the label check.

Three layers: the prediction (drawn as class-coloured outlines), the uncertainty (entropy in
nats on a heat scale fixed to [0, ``max_nats``]) and the label check (voxels where the model
confidently disagrees with the user's paint). Each layer is shown or hidden and faded on its
own. The assist loop's review controller writes this state; the overlay widget draws it (and
the running job's live preview, ``TrainingSession.preview``) when ``changed`` names its view.
"""

from __future__ import annotations

import math

import numpy as np

from app.state.observable import Signal
from ugpcl_engine import LabelTable

LAYERS = ("prediction", "uncertainty", "check")
ALL_AXES = ("z", "y", "x")


class OverlayLayers:
    """The assist layers of one window.

    Attributes:
        visible: per layer name, shown or not.
        opacity: per layer name, 0..1.
        pred_zyx: (Z, Y, X) uint8 predicted labels of the volume shown, or None.
        entropy_zyx: (Z, Y, X) float entropy in nats of the volume shown, or None.
        check_zyx: (Z, Y, X) bool label-check mask, or None.
        table: the classes the prediction is coloured by (None: no result).
        hidden: label values drawn transparent, as they were when the result was set.
        max_nats: top of the uncertainty scale (ln C).
        changed: emits the axes whose views need drawing again, after a change.
    """

    def __init__(self) -> None:
        self.visible = {"prediction": True, "uncertainty": True, "check": False}
        self.opacity = {"prediction": 0.9, "uncertainty": 0.7, "check": 1.0}
        self.pred_zyx: np.ndarray | None = None
        self.entropy_zyx: np.ndarray | None = None
        self.check_zyx: np.ndarray | None = None
        self.table: LabelTable | None = None
        self.hidden: frozenset[int] = frozenset()
        self.max_nats = math.log(2)
        self.changed: Signal[tuple[str, ...]] = Signal()

    def set_result(
        self,
        pred_zyx: np.ndarray | None,
        entropy_zyx: np.ndarray | None,
        table: LabelTable | None,
        hidden: set[int] | frozenset[int],
        max_nats: float,
    ) -> None:
        """Use a whole-volume result (labels uint8, entropy nats), or clear it with None.

        Call ``notify`` once the layers are all set.
        """
        self.pred_zyx, self.entropy_zyx = pred_zyx, entropy_zyx
        self.table, self.hidden = table, frozenset(hidden)
        self.max_nats = max(float(max_nats), 1e-6)

    def set_check(self, check_zyx: np.ndarray | None) -> None:
        """Use a label-check mask (bool Z, Y, X), or clear it with None."""
        self.check_zyx = check_zyx

    def set_layer(
        self, name: str, visible: bool | None = None, opacity: float | None = None
    ) -> None:
        """Show/hide a layer or change its opacity (call ``notify`` after).

        Raises:
            KeyError: for an unknown layer name.
        """
        if name not in LAYERS:
            raise KeyError(f"no overlay layer {name!r}")
        if visible is not None:
            self.visible[name] = visible
        if opacity is not None:
            self.opacity[name] = float(np.clip(opacity, 0.0, 1.0))

    def notify(self, axes: tuple[str, ...] = ALL_AXES) -> None:
        """Tell the views of ``axes`` that what they show changed."""
        self.changed.emit(axes)
