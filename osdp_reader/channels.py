"""The byte pipes libosdp talks through: the RS-485 adapter, or any descriptor.

libosdp calls ``read``, ``write`` and ``flush`` from its own thread every few
milliseconds, from C: an exception there would be left pending in the interpreter,
so none of them ever raises. A failed port is closed, said once, and opened again
on a later call.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Callable

import serial
from osdp import Channel

from osdp_reader.frames import FrameInspector

log = logging.getLogger(__name__)

PortTrouble = Callable[[str | None], None]
"""Told what is wrong with the port ("" never), or None once it works again."""


class SerialChannel(Channel):
    """The controller's bus through a serial device (a USB RS-485 adapter; a
    pseudo-terminal in tests). Reads never wait; each byte read is shown to
    ``inspector`` as well as returned to libosdp."""

    def __init__(
        self,
        port: str,
        baud: int,
        inspector: FrameInspector,
        trouble: PortTrouble,
        *,
        retry_s: float,
        write_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._port = port
        self._baud = baud
        self._inspector = inspector
        self._trouble = trouble
        self._retry_s = retry_s
        self._write_timeout_s = write_timeout_s
        self._clock = clock
        self._serial: serial.Serial | None = None
        self._next_try = 0.0
        self._problem: str | None = None
        self._lock = threading.Lock()  # libosdp's thread, and close() from another

    def read(self, max_bytes: int) -> bytes:
        with self._lock:
            port = self._open()
            if port is None:
                return b""
            try:
                data = bytes(port.read(max_bytes))
            except (serial.SerialException, OSError) as error:
                self._failed(f"reading {self._port} failed: {error}")
                return b""
        if data:
            self._inspector.feed(data)
        return data

    def write(self, buf: bytes) -> int:
        with self._lock:
            port = self._open()
            if port is None:
                return -1  # libosdp drops the reply; the controller asks again
            try:
                written = port.write(buf)
            except (serial.SerialException, OSError) as error:
                self._failed(f"writing to {self._port} failed: {error}")
                return -1
        return int(written or 0)

    def flush(self) -> None:
        with self._lock:
            if self._serial is None:
                return
            try:
                self._serial.reset_input_buffer()
            except (serial.SerialException, OSError) as error:
                self._failed(f"clearing {self._port} failed: {error}")

    def close(self) -> None:
        with self._lock:
            self._close()

    def _open(self) -> serial.Serial | None:
        if self._serial is not None:
            return self._serial
        if self._clock() < self._next_try:
            return None
        try:
            self._serial = serial.Serial(
                self._port,
                self._baud,
                timeout=0,
                write_timeout=self._write_timeout_s,
                exclusive=True,  # a second program on the bus would garble both
            )
        except (serial.SerialException, OSError, ValueError) as error:
            self._failed(
                f"cannot open {self._port} ({error}); check osdp.serial_port and the adapter"
            )
            return None
        if self._problem is not None:
            log.info("OSDP port %s works again", self._port)
            self._problem = None
            self._tell(None)
        return self._serial

    def _failed(self, problem: str) -> None:
        self._close()
        self._next_try = self._clock() + self._retry_s
        if problem != self._problem:
            log.error("OSDP: %s", problem)
            self._problem = problem
            self._tell(problem)

    def _close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                log.debug("closing %s failed", self._port, exc_info=True)
            self._serial = None

    def _tell(self, problem: str | None) -> None:
        try:
            self._trouble(problem)
        except Exception:  # the listener's fault must not reach libosdp's C code
            log.exception("OSDP port trouble listener failed")


class DescriptorChannel(Channel):
    """Any non-blocking descriptor the caller owns: the controller's side of a
    pseudo-terminal, one end of a socket pair. Never raises; a broken descriptor
    reads as silence and fails writes."""

    def __init__(self, descriptor: int, inspector: FrameInspector | None = None) -> None:
        super().__init__()
        os.set_blocking(descriptor, False)
        self._descriptor = descriptor
        self._inspector = inspector

    def read(self, max_bytes: int) -> bytes:
        try:
            data = os.read(self._descriptor, max_bytes)
        except BlockingIOError:
            return b""
        except OSError as error:
            if error.errno not in (errno.EIO, errno.EBADF):  # EIO: the other side closed
                log.warning("OSDP descriptor read failed: %s", error)
            return b""
        if data and self._inspector is not None:
            self._inspector.feed(data)
        return data

    def write(self, buf: bytes) -> int:
        try:
            written = os.write(self._descriptor, buf)
        except BlockingIOError:
            return 0  # libosdp tries the same bytes again
        except OSError:
            return -1
        # libosdp takes all or nothing; what a pty or socket did not take is lost
        # like a frame garbled on the wire, and the controller asks again.
        return len(buf) if written == len(buf) else -1

    def flush(self) -> None:
        while self.read(256):
            pass
