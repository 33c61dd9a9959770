"""An unattended login screen goes back to the door.

The door does not recognise anyone while an operator's screen covers it, so a login
(or first-run) screen opened and left, by an operator called away or by anyone at a
keyboard within reach of the door, would stop the door for good. Once signed in, the
operator's session ends after ``security.session_idle_s`` (core.accounts.sessions);
before that, this timer does the same after ``security.login_screen_idle_s``
without a key, a click or a touch.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

# What a person does; a moving pointer alone (a mouse nudged, a screen's jitter) is not.
_INPUT = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.Wheel,
        QEvent.Type.InputMethod,
    }
)


class LoginIdle(QObject):
    """Emits ``timed_out`` once a login screen has had no input for ``idle_s``.

    Exists so that the door is never paused by a screen nobody uses. While armed it
    watches every input event of the application (an event filter, removed when
    disarmed) and starts its single-shot timer again on each; ``hold`` stops it
    while a login is being checked (the form waits on the store, not the person).
    GUI thread only.
    """

    timed_out = Signal()

    def __init__(self, idle_s: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._expire)
        self._armed = False
        self.set_idle_s(idle_s)

    @property
    def armed(self) -> bool:
        return self._armed

    def set_idle_s(self, idle_s: float) -> None:
        self._timer.setInterval(max(1, round(idle_s * 1000)))

    def arm(self) -> None:
        """A login screen is shown: count from now."""
        if not self._armed:
            application = QApplication.instance()
            if application is not None:
                application.installEventFilter(self)
            self._armed = True
        self._timer.start()

    def hold(self) -> None:
        """A login is being checked: no count until ``arm`` again."""
        self._timer.stop()

    def disarm(self) -> None:
        """The screen is gone."""
        self._timer.stop()
        if self._armed:
            application = QApplication.instance()
            if application is not None:
                application.removeEventFilter(self)
            self._armed = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # Qt's name
        if event.type() in _INPUT and self._timer.isActive():
            self._timer.start()
        return False  # only watched, never taken

    def _expire(self) -> None:
        if self._armed:
            self.timed_out.emit()
