"""Linux GPIO character-device lines (libgpiod's ``gpiod``, v2 API): the lock relay
on an output line, the door contact and the exit button on input lines."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable

import gpiod
from gpiod.line import Bias, Direction, Value

from core.access.door_io import DoorInputs
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault, DoorNotApplied

log = logging.getLogger(__name__)
_CONSUMER = "face-kiosk-door"
_NOT_A_CHIP = (errno.ENOTTY, errno.ENODEV)
# gpiod raises ValueError for a line number past the chip's lines and for a line
# named twice, and RequestReleasedError (an Exception) for a request used after a
# release: none may end the door's thread, so each is a DoorFault too.
_GPIO_ERRORS = (OSError, ValueError, gpiod.RequestReleasedError)


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
        if not self._driving:
            self.close()
            try:
                self._request = self._request_lines(drive=level)
            except _GPIO_ERRORS as error:  # the line was never ours to drive
                raise self._fault(error, DoorNotApplied) from None
            self._driving = True
            return
        try:
            assert self._request is not None
            self._request.set_value(self._lock_line, level)
        except _GPIO_ERRORS as error:
            self.close()
            raise self._fault(error) from None

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
        except _GPIO_ERRORS as error:
            self.close()
            raise self._fault(error) from None

    def read_lock_output(self) -> bool | None:
        """The level the line is driven at, as the chip reports it; None before the
        kiosk drives it (the line is not requested as an output yet)."""
        if not self._driving:
            return None
        try:
            assert self._request is not None
            return self._request.get_value(self._lock_line) is Value.ACTIVE
        except _GPIO_ERRORS as error:
            self.close()
            raise self._fault(error) from None

    def close(self) -> None:
        request, self._request, self._driving = self._request, None, False
        if request is not None:
            try:
                request.release()
            except OSError as error:  # the chip went away: nothing left to release
                log.warning("GPIO lines not released: %s", error)

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

    def _fault(self, error: Exception, kind: type[DoorFault] = DoorFault) -> DoorFault:
        """The failure in plain words, as a ``kind``; gpiod's own go to the log."""
        chip = self._settings.gpio_chip
        log.warning("GPIO %s: %s: %s", chip, type(error).__name__, error)
        code = getattr(error, "errno", None)
        if code == errno.ENOENT:
            return kind(f"GPIO chip {chip} is not there; check door_io.gpio_chip")
        if code in _NOT_A_CHIP:
            return kind(f"{chip} is not a GPIO chip; check door_io.gpio_chip")
        if code in (errno.EACCES, errno.EPERM):
            return kind(
                f"GPIO chip {chip} may not be opened by the kiosk's user; give that user "
                "access to it (e.g. the gpio group)"
            )
        if code == errno.EBUSY:
            # A line has one holder: kiosk-admin health beside a running kiosk meets this.
            return kind(
                f"a GPIO line on {chip} is held by another program (the running kiosk, "
                "for kiosk-admin health); stop that program or pick other lines"
            )
        if isinstance(error, ValueError):
            return kind(
                f"GPIO chip {chip} has no such line; check door_io.gpio_lock_line, "
                "gpio_contact_line and gpio_exit_line"
            )
        return kind(
            f"GPIO chip {chip} failed; check door_io.gpio_chip and the line numbers "
            "(details in the log)"
        )
