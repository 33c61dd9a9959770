"""The screen people see at the door: live preview, guidance, a decision banner."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from core.access.controller_answers import AnswerKind, ControllerAnswer
from core.access.frame_outcome import FrameOutcome, PinPrompt
from core.records import AccessDecision, AccessOutcome
from kiosk.camera_view import CameraView
from kiosk.grant_banner import DoorResult, DoorResultKind, GrantBanner
from kiosk.pin_pad import PinPad
from telemetry.json_log import loggable_text
from telemetry.safe_text import for_terminal

log = logging.getLogger(__name__)
IDLE_TEXT = "Look at the camera"
GRANTED_TEXT = "access granted"
DENIED_TEXT = "not recognized"
WAIT_TEXT = "please wait"
CAMERA_LOST_TEXT = "camera unavailable"
OFFLINE_TEXT = "offline"
OFFLINE_DENIED_TEXT = "offline: the door stays closed"
BUSY_TEXT = "busy, please try again"
FAULT_TEXT = "recognition error, trying again"
# The status line under a fault: what happened is the operator's to read, in the log.
DETAILS_TEXT = "details in the kiosk's log"
SPOOL_TROUBLE_TEXT = (
    "the kiosk's disk is full: events may not be kept; free space on it (details in the "
    "kiosk's log)"
)
LIVENESS_FAILED_TEXT = "liveness check failed"
DOOR_OPEN_TEXT = "door open, come in"
DOOR_FAILED_TEXT = "door did not open, please call staff"
# The lock's answer was lost: it may have opened, and is being locked again.
DOOR_UNCONFIRMED_TEXT = "the door did not answer, please call staff"
DOOR_REFUSED_TEXT = "the door stays locked"
# The door controller's own answer (OSDP), when it sends no words of its own.
CONTROLLER_TEXT = {
    AnswerKind.GRANTED: "access granted",
    AnswerKind.REFUSED: "access refused",
    AnswerKind.WAIT: "please wait",
}
_CONTROLLER_STATE = {
    AnswerKind.GRANTED: "granted",
    AnswerKind.REFUSED: "denied",
    AnswerKind.WAIT: "wait",
}
PIN_TEXT = "enter your PIN"
PIN_CHECKING_TEXT = "checking your PIN"


class KioskScreen(QWidget):
    """Shows; decides nothing. Returns to idle ``decision_display_s`` after a decision.

    A decision (and the door's or the controller's answer to it) keeps the banner for
    its full time: what the camera and the recogniser report meanwhile (camera lost or
    back, a recognition pause, idle, a busy or failed frame) waits, and the banner
    shows what is still true when that time is up.

    At a face_and_pin door it also collects the PIN on its keypad, beside the camera
    picture, and hands it on with ``pin_entered``; what the door decides comes back
    as a decision like any other (a duress PIN looks exactly like the PIN here)."""

    operator_requested = Signal()
    pin_entered = Signal(int, str)
    """(the door's PIN request, the PIN typed for it)."""

    def __init__(
        self,
        decision_display_s: float = 3.0,
        log_person_names: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``log_person_names`` (telemetry.log_person_names): the banner's log line names
        the person greeted; off, it says "[person]". ``clock``: seconds, for the end
        of a recognition pause."""
        super().__init__()
        self._clock = clock
        self._log_person_names = log_person_names
        self._status_text = ""
        self._spool_trouble = ""
        self.setObjectName("kioskScreen")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.preview = CameraView()
        self.guidance = _label("", "guidance")
        self.banner = _label(IDLE_TEXT, "banner")
        self.banner.setWordWrap(True)
        self.status = _label("", "status")
        self.door_state = _label("", "doorState")
        self.operator_button = QToolButton()
        self.operator_button.setObjectName("operatorButton")
        self.operator_button.setText("Operator")
        self.operator_button.clicked.connect(self.operator_requested)
        self.pin_pad = PinPad()
        self.pin_pad.submitted.connect(self._pin_submitted)
        self.pin_pad.expired.connect(self.end_pin)
        self._pin_request: int | None = None
        """The door's latest PIN request shown: it is never shown twice."""
        footer = QHBoxLayout()
        footer.addWidget(self.status, stretch=1)
        footer.addWidget(self.door_state)
        footer.addWidget(self.operator_button)
        self._footer = footer
        door_view = QVBoxLayout()
        door_view.setSpacing(0)
        door_view.addWidget(self.preview, stretch=1)
        door_view.addWidget(self.guidance)
        door_view.addWidget(self.banner)
        middle = QHBoxLayout()  # the keypad, when shown, beside the picture and banner
        middle.setSpacing(0)
        middle.addLayout(door_view, stretch=1)
        middle.addWidget(self.pin_pad)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(middle, stretch=1)
        layout.addLayout(footer)
        self._decision_ms = int(decision_display_s * 1000)
        # Every start names its time: start(ms) also sets a QTimer's interval, so a
        # bare start() after a short pause would cut every later decision short.
        self._back_to_idle = QTimer(self)
        self._back_to_idle.setSingleShot(True)
        self._back_to_idle.timeout.connect(self._time_up)
        self._held = False
        """A decision, or the door's or controller's answer, is on the banner for its time."""
        self._camera_lost = False
        self._paused_until = 0.0
        """When the recognition pause ends (``clock``); no pause once past."""
        self._grants = GrantBanner()
        self._granted_name = ""
        """The name of the newest decision shown, when it was a grant."""

    # --- what the controller tells it -------------------------------------------------

    def show_starting(self, waiting_for: str) -> None:
        self._set_banner(f"starting: {waiting_for}", "fault")

    def show_idle(self) -> None:
        """Back to what the door shows between decisions, unless a decision's time
        is still running (then at its end)."""
        if not self._held:
            self._show_background()

    def show_frame(self, frame: QImage) -> None:
        self.preview.show_frame(frame)

    def frame_done(self) -> None:
        """Recognition has finished a frame: paint the newest one before the next begins."""
        self.preview.present()

    def show_outcome(self, outcome: FrameOutcome) -> None:
        self.preview.show_box(outcome.tracked.box if outcome.tracked is not None else None)
        self.guidance.setText(outcome.guidance.value if outcome.guidance else "")
        if outcome.decision is not None:
            self.show_decision(outcome.decision)
        elif outcome.pin is not None:
            self._ask_pin(outcome.pin)
        elif outcome.liveness is not None and outcome.liveness.instruction is not None:
            done, total = outcome.liveness.done, outcome.liveness.total
            step = f" ({done + 1} of {total})" if total > 1 else ""
            self._set_banner(f"{outcome.liveness.instruction.value}{step}", "wait")

    def show_decision(self, decision: AccessDecision) -> None:
        self.pin_pad.stop()
        door_result = self._grants.decision_shown(decision.event_id)
        self._granted_name = (decision.display_name or "") if decision.granted else ""
        if decision.granted and door_result is not None:
            self._show_door_result(door_result)  # the door was quicker than the decision
            return
        if decision.granted:
            name = decision.display_name
            self._hold(f"{name}\n{GRANTED_TEXT}", "granted", person_name=name)
        elif decision.outcome is AccessOutcome.OFFLINE:
            self._hold(OFFLINE_DENIED_TEXT, "fault")
        elif decision.outcome is AccessOutcome.LIVENESS_FAILED:
            self._hold(LIVENESS_FAILED_TEXT, "denied")
        elif decision.outcome is AccessOutcome.REFUSED and decision.reason:
            # The rule's plain words (core.records.REFUSAL_TEXT): no name, no schedule.
            self._hold(decision.reason, "denied")
        else:
            self._hold(DENIED_TEXT, "denied")

    def show_paused(self, seconds: float) -> None:
        """No search for ``seconds`` (too many refusals); a decision shown stays."""
        self._paused_until = self._clock() + seconds
        if not self._held:
            self._show_background()

    def show_camera(self, available: bool) -> None:
        self._camera_lost = not available
        if not available:
            self.preview.clear()
        if not self._held and (not available or self.banner.text() == CAMERA_LOST_TEXT):
            self._show_background()

    def show_offline(self) -> None:
        """The database cannot be reached. Its error is the log's (it may name the
        server's address and account), never the public screen's."""
        self._notice(OFFLINE_TEXT, "fault")
        self.show_status(DETAILS_TEXT)

    def show_busy(self) -> None:
        """The database answered too slowly: nothing was decided, the next frame tries again."""
        self._notice(BUSY_TEXT, "wait")
        self.show_status(DETAILS_TEXT)

    def show_fault(self, public_text: str = DETAILS_TEXT) -> None:
        """Recognition failed on a frame; the next frame is tried as usual.
        ``public_text``: words fit for anyone at the door, never the error's own text
        (it may name a path or a person)."""
        self._notice(FAULT_TEXT, "fault")
        self.show_status(public_text)

    def show_status(self, text: str) -> None:
        """A kiosk name, an error (which may repeat a setting's value): shown with any
        control or bidirectional character as its escape (telemetry.safe_text)."""
        self._status_text = for_terminal(text)
        self.status.setText(self._spool_trouble or self._status_text)

    def show_spool_trouble(self, trouble: str) -> None:
        """The event spool needs the operator (a full disk); "" once it is fine again.
        Stays on the status line over anything else until then, in words that name
        no path (the spool logged its own)."""
        self._spool_trouble = SPOOL_TROUBLE_TEXT if trouble else ""
        self.status.setText(self._spool_trouble or self._status_text)

    def show_door_state(self, text: str) -> None:
        """The door hardware's state ("door locked · LOCKDOWN"); empty: no door hardware."""
        self.door_state.setText(text)

    def show_door_result(self, result: DoorResult) -> None:
        """What the door did for a grant: shown with that grant's decision, whichever
        of the two arrives first (kiosk.grant_banner)."""
        if self._grants.door_result(result):
            self._show_door_result(result)

    def _show_door_result(self, result: DoorResult) -> None:
        name = self._granted_name
        if result.kind is DoorResultKind.OPEN:
            text = f"{name}\n{DOOR_OPEN_TEXT}" if name else DOOR_OPEN_TEXT
            self._hold(text, "granted", int(result.seconds * 1000), person_name=name or None)
        elif result.kind is DoorResultKind.FAILED:
            self._hold(DOOR_FAILED_TEXT, "fault")
        elif result.kind is DoorResultKind.UNCONFIRMED:
            self._hold(DOOR_UNCONFIRMED_TEXT, "fault")
        else:
            self._hold(f"{result.why}\n{DOOR_REFUSED_TEXT}", "denied")

    def show_controller_answer(self, answer: ControllerAnswer, text: str = "") -> None:
        """The door controller's own answer to a grant (OSDP reader, kiosk.reader_display):
        it, not the kiosk's decision, is what the person sees. ``text``: the
        controller's words, if it sent any; the name only while that grant is shown."""
        name = self._granted_name if self._held else ""
        if answer.kind is not AnswerKind.GRANTED:
            name = ""
        words = text or CONTROLLER_TEXT[answer.kind]
        shown = f"{name}\n{words}" if name else words
        state = _CONTROLLER_STATE[answer.kind]
        self._hold(shown, state, max(int(answer.seconds * 1000), 1), person_name=name or None)

    def add_footer_widget(self, widget: QWidget) -> None:
        """A status widget of an integration (the OSDP reader's lamp), before the
        Operator button."""
        self._footer.insertWidget(self._footer.count() - 1, widget)

    @Slot()
    def end_pin(self) -> None:
        """The keypad's time ran out, or the door no longer waits for that PIN."""
        self.pin_pad.stop()
        if self.banner.text() in (PIN_TEXT, PIN_CHECKING_TEXT):  # not over a fault shown
            self.show_idle()

    def _ask_pin(self, prompt: PinPrompt) -> None:
        if prompt.request == self._pin_request:
            return  # asked already: the keypad keeps its digits and its countdown
        self._pin_request = prompt.request
        self._back_to_idle.stop()
        self._held = False  # the person in front is asked now
        self.pin_pad.start(prompt.remaining_s)
        self._set_banner(PIN_TEXT, "wait")

    @Slot(str)
    def _pin_submitted(self, pin: str) -> None:
        if self._pin_request is not None:
            self._set_banner(PIN_CHECKING_TEXT, "wait")
            self.pin_entered.emit(self._pin_request, pin)

    # --- how long a banner stays --------------------------------------------------------

    def _hold(
        self, text: str, state: str, ms: int | None = None, person_name: str | None = None
    ) -> None:
        """A decision or an answer to it: on the banner for ``ms`` (default: the
        decision's time), whatever is reported meanwhile."""
        self._held = True
        self._set_banner(text, state, person_name)
        self._back_to_idle.start(self._decision_ms if ms is None else ms)

    def _notice(self, text: str, state: str) -> None:
        """A frame that came to nothing (busy, offline, failed): shown for the
        decision's time, unless a decision is on the banner."""
        if self._held:
            return
        self._set_banner(text, state)
        self._back_to_idle.start(self._decision_ms)

    def _time_up(self) -> None:
        self._held = False
        self._show_background()

    def _show_background(self) -> None:
        """What is true between decisions: the camera lost, a recognition pause (for
        what is left of it), the PIN asked for, or idle."""
        paused_s = self._paused_until - self._clock()
        if self._camera_lost:
            self._set_banner(CAMERA_LOST_TEXT, "fault")
        elif paused_s > 0:
            self._set_banner(f"{WAIT_TEXT} ({math.ceil(paused_s)} s)", "wait")
            self._back_to_idle.start(math.ceil(paused_s * 1000))
        elif not self.pin_pad.isHidden():  # a later message's time ran out: back to the PIN
            self._set_banner(PIN_TEXT, "wait")
        else:
            self._set_banner(IDLE_TEXT, "")

    # --- drawing ------------------------------------------------------------------------

    def _set_banner(self, text: str, state: str, person_name: str | None = None) -> None:
        if text != self.banner.text():  # what the door showed, and when
            log.info("banner: %s", loggable_text(text, person_name, self._log_person_names))
        self.banner.setText(text)
        self.banner.setProperty("state", state)
        self.banner.style().unpolish(self.banner)
        self.banner.style().polish(self.banner)


def _label(text: str, name: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)  # the stylesheet's handle
    # Plain text: a name such as "<span ...>ACCESS DENIED</span>" is shown as typed,
    # never drawn as markup over what the door decided.
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label
