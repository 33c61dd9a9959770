"""What the door control needs from the door hardware, and how the lock's state
becomes an output level and an input level becomes the door's state.

The adapters (the ``door_io`` package: simulated, Modbus-TCP, USB-serial relay)
implement ``DoorIo``; nothing in ``core`` imports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from core.door_io_settings import DoorIoSettings, FailMode
from core.errors import DoorFault

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DoorInputs:
    """The raw input levels (True: on); None for an input not wired or not readable."""

    contact: bool | None = None
    exit_button: bool | None = None
    lock_output: bool | None = None
    """The lock output as the hardware reports it, where it can: a module that
    restarted and reset its output is found and set again."""


class DoorIo(Protocol):
    """One door's hardware: the lock output and, where wired, the door contact and the
    exit button. Called from one thread at a time (the LockHold's at start, then
    the DoorController's); every call returns within the adapter's own time-out."""

    @property
    def name(self) -> str:
        """The adapter's kind as door_io.adapter names it, then where it is, for logs and
        the screens ("modbus 10.0.0.7:502"); only the kind leaves the kiosk."""
        ...

    def set_lock_output(self, on: bool) -> None:
        """Drive the lock output on or off. Raises DoorFault if the hardware did not
        take it (unreachable, refused, timed out)."""
        ...

    def read_inputs(self) -> DoorInputs:
        """Raises DoorFault if the hardware cannot be read."""
        ...

    def read_lock_output(self) -> bool | None:
        """The lock output's level as the hardware reports it, read back after each
        write: a module that acknowledges a write it did not carry out, or whose
        answer was lost, is found out. None where the hardware cannot tell (a relay
        board that only listens). Raises DoorFault if the hardware cannot be read."""
        ...

    def close(self) -> None:
        """Release the connection; the output keeps its last level (hardware-dependent)."""
        ...


def guarded(io: DoorIo, call: Callable[[], T]) -> T:
    """``call`` (one of ``io``'s methods) with any exception but DoorFault turned into
    a DoorFault, its trace logged: an adapter's bug must not end the thread that
    drives the lock, or the lock would stay as it was, unlocked perhaps."""
    try:
        return call()
    except DoorFault:
        raise
    except Exception as error:
        log.exception("door hardware %s failed unexpectedly", io.name)
        raise DoorFault(
            f"the door hardware ({io.name}) failed unexpectedly; details in the kiosk's log"
        ) from error


def not_as_written(adapter: str, written: bool, read_back: bool) -> str:
    """The fault of hardware that took a write of the lock output but reads back the
    other level, in words for the door report and the audit log."""
    return (
        f"the door hardware ({adapter}) took the lock output {_level(written)} but reads "
        f"it back {_level(read_back)}; check that its outputs are enabled (not in a manual "
        "or test mode) and the relay is not stuck"
    )


def _level(on: bool) -> str:
    return "on" if on else "off"


def lock_output_on(unlocked: bool, settings: DoorIoSettings) -> bool:
    """The output level for the lock: fail-secure energises to unlock, fail-safe to
    lock; ``lock_active_high`` false inverts the level at the output."""
    energised = unlocked if settings.fail_mode is FailMode.SECURE else not unlocked
    return energised if settings.lock_active_high else not energised


def door_is_open(contact: bool, settings: DoorIoSettings) -> bool:
    return not contact if settings.contact_on_when_closed else contact


class DebouncedInput:
    """An input that takes a new level only once it has held it ``debounce_s``, so a
    bouncing contact is one change, not many. The first reading counts at once."""

    def __init__(self, debounce_s: float) -> None:
        self._debounce_s = debounce_s
        self.level: bool | None = None
        self._candidate: bool | None = None
        self._since = 0.0

    def update(self, level: bool, now: float) -> bool:
        """Returns whether the debounced level changed with this reading."""
        if self.level is None:
            self.level = level
            return True
        if level == self.level:
            self._candidate = None
            return False
        if self._candidate != level:
            self._candidate, self._since = level, now
        if now - self._since >= self._debounce_s:
            self.level, self._candidate = level, None
            return True
        return False
