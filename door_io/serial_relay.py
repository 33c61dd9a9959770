"""USB-serial relay boards of the LCUS type (pyserial): four bytes per command,
``A0 <channel> <state> <sum>``, e.g. ``A0 01 01 A2`` on and ``A0 01 00 A1`` off."""

from __future__ import annotations

import errno
import logging
import os
import select
import termios

import serial

from core.access.door_io import DoorInputs
from core.door_io_settings import DoorIoSettings
from core.errors import DoorFault, DoorNotApplied

log = logging.getLogger(__name__)
_START = 0xA0
_NOT_THERE = (errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO)
_NOT_ALLOWED = (errno.EACCES, errno.EPERM)
# An unplugged USB-serial adapter (or a pty whose other end closed) hangs up its open
# descriptor: poll() reports it at once, with nothing written.
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL
# What pyserial lets through: its own, the OS's, and tcdrain's (flush) termios.error.
_SERIAL_ERRORS = (serial.SerialException, OSError, termios.error)


class _Replugged(Exception):
    """The port's name now leads to another device than the one opened."""


def relay_command(channel: int, on: bool) -> bytes:
    """The board's command for ``channel`` (1-8): start byte, channel, state, and the
    low byte of their sum."""
    state = 1 if on else 0
    return bytes((_START, channel, state, (_START + channel + state) & 0xFF))


class SerialRelayDoor:
    """A DoorIo on a relay board that only listens: no door contact or exit button,
    and no reply to confirm a command beyond the write completing (``read_lock_output``
    is None). The port is opened on first use and again after a failure.

    Each poll (``read_inputs``) checks the board is still there although nothing is
    written: its descriptor hung up (unplugged), or its name gone or leading to
    another device (unplugged and plugged back, under a udev name) is a DoorFault,
    so the door shows the fault at once and the controller sets the relay again on
    the board that comes back, which powers up with its relay off.

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
        except _SERIAL_ERRORS as error:
            self.close()
            raise self._fault(error, DoorNotApplied) from None
        try:
            port.write(command)
            port.flush()
        except _SERIAL_ERRORS as error:
            self.close()
            # Gone: nothing reached it. Else (a time-out) part of the command may have.
            gone = _errno(error) in _NOT_THERE
            raise self._fault(error, DoorNotApplied if gone else DoorFault) from None

    def read_inputs(self) -> DoorInputs:
        """No inputs; checks that the board opened is still there (a DoorFault if not)."""
        try:
            self._check_present(self._open())
        except _Replugged:
            self.close()
            raise DoorFault(
                f"the relay board on {self._settings.serial_port} was unplugged and plugged "
                "in again; its relay is set again"
            ) from None
        except _SERIAL_ERRORS as error:
            self.close()
            raise self._fault(error) from None
        return DoorInputs()

    def read_lock_output(self) -> None:
        """The board never says what its relay is doing."""
        return None

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

    def _check_present(self, port: serial.Serial) -> None:
        """Raises OSError (ENODEV, ENOENT) when the board went away, _Replugged when
        its name leads to another device now; bytes the board sent are dropped."""
        descriptor = port.fileno()
        watch = select.poll()
        watch.register(descriptor, select.POLLIN)
        for _fd, happened in watch.poll(0):
            if happened & _GONE:
                raise OSError(errno.ENODEV, "the device hung up")
            port.reset_input_buffer()  # some boards echo; nothing here reads it
        opened = os.fstat(descriptor).st_rdev
        if os.stat(self._settings.serial_port).st_rdev != opened:  # OSError if gone
            raise _Replugged

    def _fault(self, error: Exception, kind: type[DoorFault] = DoorFault) -> DoorFault:
        """The failure in plain words, as a ``kind``; pyserial's own go to the log."""
        port = self._settings.serial_port
        log.warning("relay board on %s: %s: %s", port, type(error).__name__, error)
        here = f"the relay board on {port}"
        if isinstance(error, serial.SerialTimeoutException):
            return kind(
                f"{here} did not take the command within {self._settings.serial_timeout_s:g} s; "
                "check its USB cable, then unplug it and plug it in again"
            )
        code = _errno(error)
        if code in _NOT_THERE:
            return kind(f"{here} is not there; check its USB cable and door_io.serial_port")
        if code in _NOT_ALLOWED:
            return kind(
                f"{here} may not be opened by the kiosk's user; give that user access to "
                "the device (e.g. the dialout group)"
            )
        if code == errno.EBUSY:
            return kind(f"{here} is held by another program; close that program")
        return kind(
            f"{here} failed; check its USB cable and door_io.serial_port (details in the log)"
        )


def _errno(error: Exception) -> int | None:
    if isinstance(error, termios.error) and error.args and isinstance(error.args[0], int):
        return error.args[0]
    # pyserial wraps a failed write's OSError in a SerialException without its errno.
    code = getattr(error, "errno", None) or getattr(error.__context__, "errno", None)
    return code if isinstance(code, int) else None
