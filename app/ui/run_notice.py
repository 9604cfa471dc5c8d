"""Say that training ended when the window is in the background (issue 16, "Long work").

A run can take minutes; the user often works in another program meanwhile. When a run ends
(finished, stopped or failed: ``TrainingController.run_ended``) or refining is over
(``refine_ended``) while the main window is not the active window or is minimised, one of two
things always happens:

- a system notification (``QSystemTrayIcon.showMessage``) where the desktop has a system tray;
  clicking it brings the window back;
- otherwise an in-app notice: the taskbar entry asks for attention (``QApplication.alert``,
  until the window is activated) and the status bar says what happened.

Nothing happens while the window is active: the training panel shows the outcome already.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMainWindow, QStyle, QSystemTrayIcon

APP_NAME = "UGPCL Studio"
MESSAGE_MS = 10_000  # how long the system notification stays
STATUS_MS = 60_000  # how long the status-bar notice stays (the user is away)
TITLES = {
    "finished": "Training finished",
    "stopped": "Training stopped",
    "failed": "Training failed",
    "refined": "Refining finished",
}
TRAY, ALERT = "tray", "alert"


def flash(window: QMainWindow) -> None:
    """Ask for attention in the taskbar until the window is activated (tests replace it)."""
    QApplication.alert(window)


class RunNotifier(QObject):
    """Notifies the end of a run while the main window is in the background.

    Args:
        window: the main window (its active/minimised state, its status bar).

    Attributes:
        tray: the system-tray icon, made at the first system notification, or None.
        sent: every notice given, as (channel ``"tray"`` or ``"alert"``, title, text).
    """

    def __init__(self, window: QMainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.tray: QSystemTrayIcon | None = None
        self.sent: list[tuple[str, str, str]] = []
        # the icon goes once the last message has gone (a later notice shows it again)
        self._hide_timer = QTimer(self)
        self._hide_timer.setSingleShot(True)
        self._hide_timer.setInterval(MESSAGE_MS + 5_000)
        self._hide_timer.timeout.connect(self._hide_tray)

    def watch(self, training: Any) -> None:
        """Listen to a ``TrainingController``'s ``run_ended`` and ``refine_ended``."""
        training.run_ended.connect(self.run_ended)
        training.refine_ended.connect(lambda reason: self.run_ended("refined", reason))

    # -- the two questions (tests fake them) -------------------------------------------------
    def in_background(self) -> bool:
        """True when the user is not looking at the window: minimised, or another window is
        active."""
        return self.window.isMinimized() or not self.window.isActiveWindow()

    def tray_available(self) -> bool:
        """True when the desktop shows a system tray (where notifications go)."""
        return QSystemTrayIcon.isSystemTrayAvailable()

    # -- the notice --------------------------------------------------------------------------
    def run_ended(self, outcome: str, text: str) -> str | None:
        """A run ended (``outcome``: finished, stopped, failed or refined) with ``text``;
        notify when the window is in the background.

        Returns:
            The channel used, ``"tray"`` or ``"alert"``, or None (the window is active).
        """
        if not self.in_background():
            return None
        title = TITLES.get(outcome, "Training ended")
        if self.tray_available():
            icon = (
                QSystemTrayIcon.MessageIcon.Critical
                if outcome == "failed"
                else QSystemTrayIcon.MessageIcon.Information
            )
            self._tray().showMessage(title, text, icon, MESSAGE_MS)
            channel = TRAY
        else:
            flash(self.window)
            self.window.statusBar().showMessage(f"{title}: {text}", STATUS_MS)
            channel = ALERT
        self.sent.append((channel, title, text))
        return channel

    def _tray(self) -> QSystemTrayIcon:
        """The tray icon, shown while its message is (made at the first use)."""
        if self.tray is None:
            self.tray = QSystemTrayIcon(self._icon(), self)
            self.tray.setToolTip(APP_NAME)
            self.tray.messageClicked.connect(self._bring_back)
            self.tray.activated.connect(lambda _reason: self._bring_back())
        self.tray.show()
        self._hide_timer.start()
        return self.tray

    def _hide_tray(self) -> None:
        if self.tray is not None:
            self.tray.hide()

    def _icon(self) -> QIcon:
        icon = self.window.windowIcon()
        if icon.isNull():
            icon = self.window.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
        return icon

    def _bring_back(self) -> None:
        """The user clicked the notification: show the window in front."""
        if self.window.isMinimized():
            self.window.showNormal()
        self.window.raise_()
        self.window.activateWindow()
