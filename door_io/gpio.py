"""Linux GPIO character-device lines (libgpiod's ``gpiod``, v2 API): the lock relay
on an output line, the door contact and the exit button on input lines."""

from __future__ import annotations

from collections.abc import Iterable

import gpiod
from gpiod.line import Bias, Direction, Value

from core.access.door_io import DoorInputs
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault

_CONSUMER = "face-kiosk-door"


class GpioDoor:
    """A DoorIo on one GPIO chip. The lines are requested on first use: the lock
    line as an output starting at the level first asked for (no glitch to the
    other level), or left as it is when only the inputs are read (a health check
    never drives the lock). Input lines get the chip's pull-up when they are
    active-low (a switch to ground), else its pull-down.

    When the process ends the kernel releases the lines; whether the lock line
    keeps its level is up to the GPIO controller (docs/door-wiring.md: a pull-down
    on the relay driver's input makes an undriven line "off").
    """

    def __init__(self, settings: DoorIoSettings) -> None:
        assert settings.gpio_lock_line is not None  # the settings' validator requires it
        self._settings = settings
        self._lock_line = settings.gpio_lock_line
        self._request: gpiod.LineRequest | None = None
        self._driving = False

    @property
    def name(self) -> str:
        return f"gpio {self._settings.gpio_chip} line {self._lock_line}"

    def set_lock_output(self, on: bool) -> None:
        level = Value.ACTIVE if on else Value.INACTIVE
        try:
            if not self._driving:
                self.close()
                self._request = self._request_lines(drive=level)
                self._driving = True
            else:
                assert self._request is not None
                self._request.set_value(self._lock_line, level)
        except OSError as error:
            self.close()
            raise self._fault(error) from error

    def read_inputs(self) -> DoorInputs:
        settings = self._settings
        try:
            if self._request is None:
                self._request = self._request_lines(drive=None)
            request = self._request

            def level(line: int | None) -> bool | None:
                return None if line is None else request.get_value(line) is Value.ACTIVE

            return DoorInputs(
                contact=level(settings.gpio_contact_line),
                exit_button=level(settings.gpio_exit_line),
                lock_output=level(self._lock_line) if self._driving else None,
            )
        except OSError as error:
            self.close()
            raise self._fault(error) from error

    def close(self) -> None:
        request, self._request, self._driving = self._request, None, False
        if request is not None:
            request.release()

    def _request_lines(self, drive: Value | None) -> gpiod.LineRequest:
        settings = self._settings
        inputs = gpiod.LineSettings(
            direction=Direction.INPUT,
            active_low=settings.gpio_inputs_active_low,
            bias=Bias.PULL_UP if settings.gpio_inputs_active_low else Bias.PULL_DOWN,
        )
        lock = (
            gpiod.LineSettings(direction=Direction.AS_IS)
            if drive is None
            else gpiod.LineSettings(direction=Direction.OUTPUT, output_value=drive)
        )
        config: dict[Iterable[int | str] | int | str, gpiod.LineSettings | None] = {
            self._lock_line: lock
        }
        for line in (settings.gpio_contact_line, settings.gpio_exit_line):
            if line is not None:
                config[line] = inputs
        return gpiod.request_lines(settings.gpio_chip, config=config, consumer=_CONSUMER)

    def _fault(self, error: OSError) -> DoorFault:
        return DoorFault(
            f"GPIO {self._settings.gpio_chip} failed ({error}); check door_io.gpio_chip and "
            "the line numbers, and that no other program holds the lines"
        )
