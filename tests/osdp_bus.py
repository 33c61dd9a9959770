"""An OSDP bus on this machine for the reader's tests: a pseudo-terminal pair, the
kiosk's reader on its serial side (pyserial, as on an RS-485 adapter) and libosdp's
own control panel (the door controller) on the other, secure channel on."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from osdp import CommandLEDColor, ControlPanel, LibFlag, LogLevel, PDInfo

from core.access.controller_answers import ReaderCommand
from core.access.reader_status import ReaderLink
from core.osdp_settings import OsdpSettings
from osdp_reader.channels import DescriptorChannel, PortTrouble, SerialChannel
from osdp_reader.frames import FrameInspector
from osdp_reader.keys import ReaderKey, load_reader_key
from osdp_reader.reader import OsdpReader, ReaderListener

ADDRESS = 5
WAIT_S = 10.0


@dataclass
class Bus:
    """The two ends of one pseudo-terminal: the controller's descriptor and the
    reader's device path (kept open here, so the bus lives while the reader reopens)."""

    controller_end: int
    reader_path: str
    _reader_end: int

    def close(self) -> None:
        for descriptor in (self.controller_end, self._reader_end):
            with suppress(OSError):
                os.close(descriptor)


@contextmanager
def pty_bus() -> Iterator[Bus]:
    controller_end, reader_end = os.openpty()
    bus = Bus(controller_end, os.ttyname(reader_end), reader_end)
    try:
        yield bus
    finally:
        bus.close()


def write_key(folder: Path, key: bytes) -> Path:
    path = folder / "osdp.scbk"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(key.hex() + "\n")
    return path


def reader_settings(bus: Bus, key_file: Path, **values: Any) -> OsdpSettings:
    return port_settings(bus.reader_path, key_file, **values)


def port_settings(port: str, key_file: Path, **values: Any) -> OsdpSettings:
    """The reader's settings on serial device ``port``, its key in ``key_file``."""
    return OsdpSettings.model_validate(
        {
            "enabled": True,
            "serial_port": port,
            "baud": 115200,
            "address": ADDRESS,
            "scbk_file": key_file,
            **values,
        }
    )


@dataclass
class Heard:
    """A ReaderListener (our own Protocol) that keeps what it is told, for the test."""

    commands: list[ReaderCommand] = field(default_factory=list)
    links: list[ReaderLink] = field(default_factory=list)
    troubles: list[str | None] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def command_received(self, command: ReaderCommand) -> None:
        with self._changed:
            self.commands.append(command)
            self._changed.notify_all()

    def link_changed(self, link: ReaderLink) -> None:
        with self._changed:
            self.links.append(link)
            self._changed.notify_all()

    def port_trouble(self, trouble: str | None) -> None:
        with self._changed:
            self.troubles.append(trouble)
            self._changed.notify_all()

    def grant_not_sent(self, reason: str) -> None:
        with self._changed:
            self.not_sent.append(reason)
            self._changed.notify_all()

    def wait(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        """Until ``condition`` holds: woken by what the reader tells, and every 50 ms
        for what it only counts (ReaderStatus)."""
        assert self.holds_within(condition, timeout_s), "the condition never came true"

    def holds_within(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Whether ``condition`` comes true within ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.05))
        return True


def start_reader(
    osdp: OsdpSettings, listener: ReaderListener, kiosk_id: str = "door-1"
) -> OsdpReader:
    """The kiosk's reader on the bus's serial side, its key from ``osdp.scbk_file``."""
    key: ReaderKey = load_reader_key(osdp, kiosk_id)

    def serial(inspector: FrameInspector, trouble: PortTrouble) -> SerialChannel:
        return SerialChannel(
            osdp.serial_port,
            osdp.baud,
            inspector,
            trouble,
            retry_s=osdp.port_retry_s,
            write_timeout_s=osdp.write_timeout_s,
        )

    reader = OsdpReader(osdp, key, serial, listener, serial_number=kiosk_id)
    reader.start()
    return reader


class Controller:
    """libosdp's control panel on the bus's other end, the door controller's part."""

    def __init__(self, bus: Bus, key: bytes) -> None:
        info = PDInfo(
            ADDRESS, DescriptorChannel(bus.controller_end), scbk=key, flags=[LibFlag.EnforceSecure]
        )
        self.panel = ControlPanel([info], log_level=LogLevel.Warning)
        self.panel.start()
        self._running = True

    def wait_secure(self) -> None:
        deadline = time.monotonic() + WAIT_S
        while not self.panel.is_sc_active(ADDRESS):
            assert time.monotonic() < deadline, "no secure channel with the reader"
            time.sleep(0.05)

    def next_event(self, timeout_s: float = WAIT_S) -> dict[str, Any] | None:
        event: dict[str, Any] | None = self.panel.get_event(ADDRESS, timeout=timeout_s)
        return event

    def led(self, color: int, *, tenths: int = 30, temporary: bool = True) -> None:
        command: dict[str, Any] = {
            "command": 2,  # osdp.Command.LED
            "reader": 0,
            "led_number": 0,
            "control_code": 2 if temporary else 1,
            "on_count": 10,
            "off_count": 0,
            "on_color": color,
            "off_color": CommandLEDColor.Black,
            "temporary": temporary,
        }
        if temporary:
            command["timer_count"] = tenths
        assert self.panel.submit_command(ADDRESS, command)

    def stop(self) -> None:
        if self._running:
            self._running = False
            self.panel.teardown()
