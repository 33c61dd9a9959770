"""The door controller's LED, buzzer and text on the door screen (the kiosk is its
OSDP reader), and the controller link for the operators."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication, QLabel

from core.access.controller_answers import (
    BuzzerCommand,
    ControllerAnswer,
    LedColor,
    LedCommand,
    ReaderCommand,
    TextCommand,
    answer_for,
)
from core.access.reader_status import ReaderLink
from core.osdp_settings import OsdpSettings
from kiosk.kiosk_screen import KioskScreen

log = logging.getLogger(__name__)

# How the lamp draws each LED colour.
_COLORS = {
    LedColor.BLACK: "#334155",
    LedColor.RED: "#ef4444",
    LedColor.GREEN: "#22c55e",
    LedColor.AMBER: "#f59e0b",
    LedColor.BLUE: "#3b82f6",
    LedColor.MAGENTA: "#d946ef",
    LedColor.CYAN: "#06b6d4",
    LedColor.WHITE: "#f8fafc",
}


class ReaderSignals(QObject):
    """The reader's listener (osdp_reader.ReaderListener). Exists because the reader
    tells from libosdp's thread and its own: each call only emits a signal, which Qt
    queues to the GUI thread, where ReaderDisplay shows it."""

    controller_command = Signal(object)  # ReaderCommand
    link_changed_to = Signal(object)  # ReaderLink
    port_trouble_changed = Signal(object)  # str | None
    grant_set_aside = Signal(str)  # why (NotSent, Unsendable)

    def command_received(self, command: ReaderCommand) -> None:
        self.controller_command.emit(command)

    def link_changed(self, link: ReaderLink) -> None:
        self.link_changed_to.emit(link)

    def port_trouble(self, trouble: str | None) -> None:
        self.port_trouble_changed.emit(trouble)

    def grant_not_sent(self, reason: str) -> None:
        self.grant_set_aside.emit(reason)


class ReaderLamp(QLabel):
    """The reader's lamp in the door screen's footer: the controller's permanent LED
    colour and text, a note while its buzzer sounds, and "controller offline"."""

    def __init__(self) -> None:
        super().__init__("")
        self.setObjectName("readerLamp")
        self.setTextFormat(Qt.TextFormat.RichText)
        self.color = LedColor.BLACK
        self.text_line = ""
        self.buzzing = False
        self.fault = ""
        self._draw()

    def show_state(self, *, color: LedColor, text: str, buzzing: bool, fault: str) -> None:
        self.color, self.text_line, self.buzzing, self.fault = color, text, buzzing, fault
        self._draw()

    def _draw(self) -> None:
        parts = [f'<span style="color:{_COLORS[self.color]}">&#9679;</span>']
        if self.buzzing:
            parts.append("&#9834;")
        if self.text_line:
            parts.append(html.escape(self.text_line))
        if self.fault:
            parts.append(f'<span style="color:#fca5a5">{html.escape(self.fault)}</span>')
        self.setText(" ".join(parts))


class ReaderDisplay(QObject):
    """Shows the controller's commands: a temporary LED is its answer to the grant
    (green granted, red refused, amber wait) and takes the banner, with the
    controller's text if it sent one; the rest goes to the lamp. Also words the link
    for the operators (``state_described``). On the GUI thread only."""

    state_described = Signal(str)

    def __init__(
        self,
        screen: KioskScreen,
        osdp: OsdpSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.signals = ReaderSignals()
        self.lamp = ReaderLamp()
        self._screen = screen
        self._osdp = osdp
        self._clock = clock
        self._color = LedColor.BLACK
        self._text = ""
        self._temporary_text = ""
        self._temporary_text_until = 0.0
        self._answer: ControllerAnswer | None = None
        self._answer_until = 0.0
        self._link = ReaderLink(online=False, secure=False)
        self._port_trouble: str | None = None
        self._set_aside = 0
        self._last_set_aside = ""
        self._buzzer = QTimer(self)
        self._buzzer.setSingleShot(True)
        self._buzzer.timeout.connect(self._draw_lamp)
        self.signals.controller_command.connect(self.show_command)
        self.signals.link_changed_to.connect(self.show_link)
        self.signals.port_trouble_changed.connect(self.show_port_trouble)
        self.signals.grant_set_aside.connect(self.count_set_aside)
        screen.add_footer_widget(self.lamp)
        self.show_link(self._link)

    @Slot(object)
    def show_command(self, command: ReaderCommand) -> None:
        now = self._clock()
        if isinstance(command, LedCommand):
            if not command.temporary and not command.cancel:
                self._color = command.color
            answer = answer_for(command, self._osdp.answer_shown_max_s)
            if answer is not None:
                self._answer, self._answer_until = answer, now + answer.seconds
                self._show_answer(now)
        elif isinstance(command, TextCommand):
            if command.temporary:
                self._temporary_text = command.text
                self._temporary_text_until = now + command.seconds
                if self._answer is not None and now < self._answer_until:
                    self._show_answer(now)  # the controller's words on its answer
            else:
                self._text = command.text
        elif isinstance(command, BuzzerCommand):
            if command.on:
                QApplication.beep()
                self._buzzer.start(int(min(command.seconds, self._osdp.answer_shown_max_s) * 1000))
            else:
                self._buzzer.stop()
        self._draw_lamp()

    @Slot(object)
    def show_link(self, link: ReaderLink) -> None:
        self._link = link
        self._draw_lamp()
        self.describe()

    @Slot(object)
    def show_port_trouble(self, trouble: str | None) -> None:
        self._port_trouble = trouble
        self._draw_lamp()
        self.describe()

    @Slot(str)
    def count_set_aside(self, reason: str) -> None:
        self._set_aside += 1
        self._last_set_aside = reason.replace("_", " ")
        self.describe()

    def _show_answer(self, now: float) -> None:
        assert self._answer is not None
        text = self._temporary_text if now < self._temporary_text_until else ""
        seconds = max(self._answer_until - now, 0.0)
        self._screen.show_controller_answer(ControllerAnswer(self._answer.kind, seconds), text)

    def _draw_lamp(self) -> None:
        fault = "" if self._link.usable and not self._port_trouble else "controller offline"
        self.lamp.show_state(
            color=self._color, text=self._text, buzzing=self._buzzer.isActive(), fault=fault
        )

    def describe(self) -> None:
        """Word the link (and any grants set aside) for the operators: state_described."""
        words = [self._link.describe()]
        if self._port_trouble:
            words.append(self._port_trouble)
        if self._set_aside:
            words.append(
                f"{self._set_aside} grant(s) not sent to the controller "
                f"(last: {self._last_set_aside})"
            )
        self.state_described.emit(" · ".join(words))
