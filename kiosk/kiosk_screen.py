"""The screen people see at the door: live preview, guidance, a decision banner."""

from __future__ import annotations

import logging

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
LIVENESS_FAILED_TEXT = "liveness check failed"
DOOR_OPEN_TEXT = "door open, come in"
DOOR_FAILED_TEXT = "door did not open, please call staff"
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

    At a face_and_pin door it also collects the PIN on its keypad, beside the camera
    picture, and hands it on with ``pin_entered``; what the door decides comes back
    as a decision like any other (a duress PIN looks exactly like the PIN here)."""

    operator_requested = Signal()
    pin_entered = Signal(int, str)
    """(the door's PIN request, the PIN typed for it)."""

    def __init__(self, decision_display_s: float = 3.0, log_person_names: bool = False) -> None:
        """``log_person_names`` (telemetry.log_person_names): the banner's log line names
        the person greeted; off, it says "[person]"."""
        super().__init__()
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
        self._back_to_idle = QTimer(self)
        self._back_to_idle.setSingleShot(True)
        self._back_to_idle.setInterval(int(decision_display_s * 1000))
        self._back_to_idle.timeout.connect(self.show_idle)
        self._grants = GrantBanner()
        self._granted_name = ""
        """The name of the newest decision shown, when it was a grant."""

    # --- what the controller tells it -------------------------------------------------

    def show_starting(self, waiting_for: str) -> None:
        self._set_banner(f"starting: {waiting_for}", "fault")

    def show_idle(self) -> None:
        if not self.pin_pad.isHidden():  # a later message's time ran out: back to the PIN
            self._set_banner(PIN_TEXT, "wait")
            return
        self._set_banner(IDLE_TEXT, "")

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
            self._set_banner(f"{name}\n{GRANTED_TEXT}", "granted", person_name=name)
        elif decision.outcome is AccessOutcome.OFFLINE:
            self._set_banner(OFFLINE_DENIED_TEXT, "fault")
        elif decision.outcome is AccessOutcome.LIVENESS_FAILED:
            self._set_banner(LIVENESS_FAILED_TEXT, "denied")
        elif decision.outcome is AccessOutcome.REFUSED and decision.reason:
            # The rule's plain words (core.records.REFUSAL_TEXT): no name, no schedule.
            self._set_banner(decision.reason, "denied")
        else:
            self._set_banner(DENIED_TEXT, "denied")
        self._back_to_idle.start()

    def show_paused(self, seconds: float) -> None:
        self._set_banner(f"{WAIT_TEXT} ({seconds:.0f} s)", "wait")
        self._back_to_idle.start(int(seconds * 1000))

    def show_camera(self, available: bool) -> None:
        if available:
            if self.banner.text() == CAMERA_LOST_TEXT:
                self.show_idle()
        else:
            self.preview.clear()
            self._set_banner(CAMERA_LOST_TEXT, "fault")

    def show_offline(self, reason: str = "") -> None:
        self._set_banner(OFFLINE_TEXT, "fault")
        self.show_status(reason)
        self._back_to_idle.start()

    def show_busy(self, reason: str = "") -> None:
        """The database answered too slowly: nothing was decided, the next frame tries again."""
        self._set_banner(BUSY_TEXT, "wait")
        self.show_status(reason)
        self._back_to_idle.start()

    def show_fault(self, reason: str) -> None:
        """Recognition failed on a frame; the next frame is tried as usual."""
        self._set_banner(FAULT_TEXT, "fault")
        self.show_status(reason)
        self._back_to_idle.start()

    def show_status(self, text: str) -> None:
        """A kiosk name, an error (which may repeat a setting's value): shown with any
        control or bidirectional character as its escape (telemetry.safe_text)."""
        self._status_text = for_terminal(text)
        self.status.setText(self._spool_trouble or self._status_text)

    def show_spool_trouble(self, trouble: str) -> None:
        """The event spool needs the operator (a full disk); "" once it is fine again.
        Stays on the status line over anything else until then."""
        self._spool_trouble = trouble
        self.status.setText(trouble or self._status_text)

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
            self._set_banner(text, "granted", person_name=name or None)
            self._back_to_idle.start(int(result.seconds * 1000))
        elif result.kind is DoorResultKind.FAILED:
            self._set_banner(DOOR_FAILED_TEXT, "fault")
            self._back_to_idle.start()
        else:
            self._set_banner(f"{result.why}\n{DOOR_REFUSED_TEXT}", "denied")
            self._back_to_idle.start()

    def show_controller_answer(self, answer: ControllerAnswer, text: str = "") -> None:
        """The door controller's own answer to a grant (OSDP reader, kiosk.reader_display):
        it, not the kiosk's decision, is what the person sees. ``text``: the
        controller's words, if it sent any; the name only while that grant is shown."""
        name = self._granted_name if self._back_to_idle.isActive() else ""
        if answer.kind is not AnswerKind.GRANTED:
            name = ""
        words = text or CONTROLLER_TEXT[answer.kind]
        shown = f"{name}\n{words}" if name else words
        self._set_banner(shown, _CONTROLLER_STATE[answer.kind], person_name=name or None)
        self._back_to_idle.start(max(int(answer.seconds * 1000), 1))

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
        self.pin_pad.start(prompt.remaining_s)
        self._set_banner(PIN_TEXT, "wait")

    @Slot(str)
    def _pin_submitted(self, pin: str) -> None:
        if self._pin_request is not None:
            self._set_banner(PIN_CHECKING_TEXT, "wait")
            self.pin_entered.emit(self._pin_request, pin)

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
