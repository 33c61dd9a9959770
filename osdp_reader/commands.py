"""The controller's commands as libosdp hands them over (dicts), as our records."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from osdp import Command

from core.access.controller_answers import (
    TENTHS,
    BuzzerCommand,
    LedColor,
    LedCommand,
    ReaderCommand,
    TextCommand,
    printable,
)

# osdp_BUZ: 1 off, 2 the default tone. osdp_TEXT: 1-2 permanent, 3-4 temporary.
_BUZZER_ON = 2
_TEXT_TEMPORARY = (3, 4)
# osdp_LED temporary control code 1: cancel the temporary state.
_LED_CANCEL = 1


def reader_command(command: Mapping[str, Any]) -> ReaderCommand | None:
    """The record for a LED, buzzer or text command; None for any other kind.
    Raises KeyError or ValueError for a malformed one."""
    kind = command["command"]
    if kind == Command.LED:
        return _led(command)
    if kind == Command.Buzzer:
        on = int(command["control_code"]) == _BUZZER_ON
        cycle = int(command["on_count"]) + int(command["off_count"])
        repeats = max(int(command["rep_count"]), 1)
        return BuzzerCommand(on=on, seconds=cycle * repeats * TENTHS if on else 0.0)
    if kind == Command.Text:
        temporary = int(command["control_code"]) in _TEXT_TEMPORARY
        return TextCommand(
            text=printable(str(command["data"])),
            temporary=temporary,
            seconds=float(command["temp_time"]) if temporary else 0.0,
        )
    return None


def _led(command: Mapping[str, Any]) -> LedCommand:
    temporary = bool(command["temporary"])
    cancel = bool(command.get("cancel_temporary")) or (
        temporary and int(command["control_code"]) == _LED_CANCEL
    )
    # An LED set with no "on" time shows its "off" colour steadily.
    steady_off = int(command["on_count"]) == 0 and int(command["off_count"]) > 0
    color = LedColor(int(command["off_color" if steady_off else "on_color"]))
    seconds = int(command.get("timer_count", 0)) * TENTHS if temporary else 0.0
    return LedCommand(
        temporary=temporary and not cancel, color=color, seconds=seconds, cancel=cancel
    )
