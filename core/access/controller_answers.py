"""What a door controller tells its reader (the kiosk, over OSDP), and what the door
screen makes of it: the controller's decision, not the kiosk's, is what the person
sees.

Controllers answer a card read with the reader's LED, buzzer and text: a temporary
green LED for a grant, a temporary red one for a refusal, a permanent colour for
the idle state. So only a temporary LED command is taken as an answer; a permanent
one only sets the lamp.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, StrEnum

# OSDP counts the LED's and buzzer's times in units of 100 ms.
TENTHS = 0.1
# The most characters of the controller's text shown (OSDP readers have 16-32 columns).
MAX_TEXT = 64


class LedColor(IntEnum):
    """OSDP's LED colour codes (osdp_LED)."""

    BLACK = 0
    RED = 1
    GREEN = 2
    AMBER = 3
    BLUE = 4
    MAGENTA = 5
    CYAN = 6
    WHITE = 7


@dataclass(frozen=True, kw_only=True)
class LedCommand:
    temporary: bool
    """A temporary state (for ``seconds``), over the permanent one."""
    color: LedColor
    """The colour shown: the "on" colour, or the "off" one for an LED set steady off."""
    seconds: float = 0.0
    """How long a temporary state lasts."""
    cancel: bool = False
    """A temporary state ended early: back to the permanent one."""


@dataclass(frozen=True, kw_only=True)
class BuzzerCommand:
    on: bool
    seconds: float = 0.0
    """How long it sounds, repetitions included."""


@dataclass(frozen=True, kw_only=True)
class TextCommand:
    text: str
    """Printable characters only, at most MAX_TEXT."""
    temporary: bool
    seconds: float = 0.0


ReaderCommand = LedCommand | BuzzerCommand | TextCommand


class AnswerKind(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"
    WAIT = "wait"


@dataclass(frozen=True)
class ControllerAnswer:
    """The controller's answer, as the door screen shows it."""

    kind: AnswerKind
    seconds: float
    """How long it stays on the screen."""


_ANSWERS = {
    LedColor.GREEN: AnswerKind.GRANTED,
    LedColor.RED: AnswerKind.REFUSED,
    LedColor.AMBER: AnswerKind.WAIT,
}


def answer_for(led: LedCommand, shown_max_s: float) -> ControllerAnswer | None:
    """The answer a temporary LED gives (green granted, red refused, amber wait),
    shown at least a second and at most ``shown_max_s``; None for anything else."""
    if not led.temporary or led.cancel:
        return None
    kind = _ANSWERS.get(led.color)
    if kind is None:
        return None
    return ControllerAnswer(kind, min(max(led.seconds, 1.0), shown_max_s))


def printable(text: str) -> str:
    """The controller's text as the screen may show it: control characters dropped,
    at most MAX_TEXT characters."""
    return "".join(ch for ch in text if ch.isprintable())[:MAX_TEXT]
