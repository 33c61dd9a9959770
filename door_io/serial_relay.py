"""USB-serial relay boards of the LCUS type (pyserial): four bytes per command,
``A0 <channel> <state> <sum>``, e.g. ``A0 01 01 A2`` on and ``A0 01 00 A1`` off."""

from __future__ import annotations

import errno
import logging

import serial

from core.access.door_io import DoorInputs
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault

log = logging.getLogger(__name__)
_START = 0xA0
_NOT_THERE = (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO)
_NOT_ALLOWED = (errno.EACCES, errno.EPERM)


def relay_command(channel: int, on: bool) -> bytes:
    """The board's command for ``channel`` (1-8): start byte, channel, state, and the
    low byte of their sum."""
    state = 1 if on else 0
    return bytes((_START, channel, state, (_START + channel + state) & 0xFF))


class SerialRelayDoor:
    """A DoorIo on a relay board that only listens: no door contact or exit button,
    and no reply to confirm a command beyond the write completing. The port is
    opened on first use and again after a failure (the board unplugged and back).

    The board holds its relay until told otherwise: the unlock is timed here, and a
    kiosk that dies while unlocked leaves the relay on until the next start.
    """

    def __init__(self, settings: DoorIoSettings) -> None:
        self._settings = settings
        self._port: serial.Serial | None = None

    @property
    def name(self) -> str:
        return f"serial {self._settings.serial_port} relay {self._settings.serial_channel}"

    def set_lock_output(self, on: bool) -> None:
        command = relay_command(self._settings.serial_channel, on)
        try:
            port = self._open()
            port.write(command)
            port.flush()
        except (serial.SerialException, OSError) as error:
            self.close()
            raise self._fault(error) from None

    def read_inputs(self) -> DoorInputs:
        """No inputs; opening the port checks the board is still there."""
        try:
            self._open()
        except (serial.SerialException, OSError) as error:
            self.close()
            raise self._fault(error) from None
        return DoorInputs()

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            finally:
                self._port = None

    def _open(self) -> serial.Serial:
        if self._port is None:
            self._port = serial.Serial(
                self._settings.serial_port,
                self._settings.serial_baud,
                timeout=self._settings.serial_timeout_s,
                write_timeout=self._settings.serial_timeout_s,
            )
        return self._port

    def _fault(self, error: Exception) -> DoorFault:
        """The failure in plain words; pyserial's own go to the log."""
        port = self._settings.serial_port
        log.warning("relay board on %s: %s: %s", port, type(error).__name__, error)
        here = f"the relay board on {port}"
        if isinstance(error, serial.SerialTimeoutException):
            return DoorFault(
                f"{here} did not take the command within {self._settings.serial_timeout_s:g} s; "
                "check its USB cable, then unplug it and plug it in again"
            )
        # pyserial wraps a failed write's OSError in a SerialException without its errno.
        code = getattr(error, "errno", None) or getattr(error.__context__, "errno", None)
        if code in _NOT_THERE:
            return DoorFault(f"{here} is not there; check its USB cable and door_io.serial_port")
        if code in _NOT_ALLOWED:
            return DoorFault(
                f"{here} may not be opened by the kiosk's user; give that user access to "
                "the device (e.g. the dialout group)"
            )
        if code == errno.EBUSY:
            return DoorFault(f"{here} is held by another program; close that program")
        return DoorFault(
            f"{here} failed; check its USB cable and door_io.serial_port (details in the log)"
        )
