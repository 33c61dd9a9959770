"""What happens at a door, as typed events: each transition and alarm of the door
control (core.access.door_control) and each fault of its hardware.

Times are seconds on the door's monotonic clock (``at_s``); the wall-clock time is
set when an event is made, for the logs and the audit trail. ``action`` is the
audit log's name for the event ("door.unlock"); None for those not audited (the
door opening and closing in normal use).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import ClassVar


class UnlockCause(StrEnum):
    GRANT = "grant"
    """A face recognised at the door."""
    EXIT_REQUEST = "exit_request"
    """The request-to-exit (REX) button inside."""
    OPERATOR = "operator"
    """An operator's "unlock now" for a stated time."""


class RelockCause(StrEnum):
    DOOR_CLOSED = "door_closed"
    """The door closed after it was opened."""
    TIME_UP = "time_up"
    """The unlock time ran out."""
    LOCKDOWN = "lockdown"
    START = "start"
    """Forced locked when the door control started."""
    STOP = "stop"
    """Forced locked when the door control stopped cleanly."""
    FAULT = "fault"
    """An unlock the hardware did not take is given up, never sent late."""


class Alarm(StrEnum):
    HELD_OPEN = "held_open"
    """Open longer than held_open_s after an unlock."""
    FORCED_OPEN = "forced_open"
    """Opened while locked, without the exit button."""


@dataclass(frozen=True, kw_only=True)
class DoorEvent:
    at_s: float
    """The door clock's reading when it happened (s)."""
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    action: ClassVar[str | None] = None

    def details(self) -> dict[str, object]:
        """What the audit log keeps of it: plain JSON values, no biometric data."""
        return {}


@dataclass(frozen=True, kw_only=True)
class Unlocked(DoorEvent):
    cause: UnlockCause
    until_s: float
    """Relocked at this clock reading at the latest."""
    event_id: uuid.UUID | None = None
    """The access decision that granted it (cause GRANT)."""
    operator: str | None = None
    reason: str | None = None
    action: ClassVar[str | None] = "door.unlock"

    def details(self) -> dict[str, object]:
        return _present(
            cause=self.cause.value,
            seconds=round(self.until_s - self.at_s, 3),
            access_event_id=str(self.event_id) if self.event_id else None,
            operator=self.operator,
            reason=self.reason,
        )


@dataclass(frozen=True, kw_only=True)
class UnlockRefused(DoorEvent):
    cause: UnlockCause
    why: str
    event_id: uuid.UUID | None = None
    operator: str | None = None
    command_id: int | None = None
    """The operator's door command (kiosk-admin door) refused: set aside, never carried out."""
    action: ClassVar[str | None] = "door.unlock_refused"

    def details(self) -> dict[str, object]:
        return _present(
            cause=self.cause.value,
            why=self.why,
            access_event_id=str(self.event_id) if self.event_id else None,
            operator=self.operator,
            command_id=self.command_id,
        )


@dataclass(frozen=True, kw_only=True)
class Relocked(DoorEvent):
    cause: RelockCause
    action: ClassVar[str | None] = "door.relock"

    def details(self) -> dict[str, object]:
        return {"cause": self.cause.value}


@dataclass(frozen=True, kw_only=True)
class ExitRequested(DoorEvent):
    """The REX button was pressed (it unlocks, unless lockdown keeps it locked)."""

    action: ClassVar[str | None] = "door.exit_request"


@dataclass(frozen=True, kw_only=True)
class DoorOpened(DoorEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class DoorClosed(DoorEvent):
    pass


@dataclass(frozen=True, kw_only=True)
class AlarmRaised(DoorEvent):
    alarm: Alarm
    action: ClassVar[str | None] = "door.alarm"

    def details(self) -> dict[str, object]:
        return {"alarm": self.alarm.value}


@dataclass(frozen=True, kw_only=True)
class AlarmCleared(DoorEvent):
    alarm: Alarm
    action: ClassVar[str | None] = "door.alarm_cleared"

    def details(self) -> dict[str, object]:
        return {"alarm": self.alarm.value}


@dataclass(frozen=True, kw_only=True)
class LockdownStarted(DoorEvent):
    operator: str
    reason: str
    action: ClassVar[str | None] = "door.lockdown"

    def details(self) -> dict[str, object]:
        return {"operator": self.operator, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class LockdownEnded(DoorEvent):
    operator: str
    reason: str
    action: ClassVar[str | None] = "door.release"

    def details(self) -> dict[str, object]:
        return {"operator": self.operator, "reason": self.reason}


@dataclass(frozen=True, kw_only=True)
class DoorFaulted(DoorEvent):
    """The door hardware did not answer or refused; retried until it does."""

    detail: str
    action: ClassVar[str | None] = "door.fault"

    def details(self) -> dict[str, object]:
        return {"detail": self.detail[:300]}


@dataclass(frozen=True, kw_only=True)
class DoorFaultCleared(DoorEvent):
    action: ClassVar[str | None] = "door.fault_cleared"


@dataclass(frozen=True, kw_only=True)
class UnlockFailed(DoorEvent):
    """A grant's unlock could not be sent to the lock: the person is told to call staff."""

    event_id: uuid.UUID | None
    detail: str
    action: ClassVar[str | None] = "door.unlock_failed"

    def details(self) -> dict[str, object]:
        return _present(
            access_event_id=str(self.event_id) if self.event_id else None,
            detail=self.detail[:300],
        )


@dataclass(frozen=True, kw_only=True)
class UnlockUnconfirmed(DoorEvent):
    """An unlock sent to the lock whose outcome is unknown: the hardware's answer was
    lost, late or garbled and the output could not be read back, so the door may have
    been unlocked. Never reported as "did not open": the lock is written locked and
    read back until confirmed (LockConfirmed), and the person is told to call staff."""

    event_id: uuid.UUID | None
    """The access decision whose unlock it was (a grant's); None for the exit button's
    or an operator's."""
    detail: str
    action: ClassVar[str | None] = "door.unlock_unconfirmed"

    def details(self) -> dict[str, object]:
        return _present(
            access_event_id=str(self.event_id) if self.event_id else None,
            detail=self.detail[:300],
        )


@dataclass(frozen=True, kw_only=True)
class LockConfirmed(DoorEvent):
    """The lock output reads back locked (or, on hardware that cannot be read back,
    was written locked without an error) after a write that left the door possibly
    unlocked: an unconfirmed unlock or relock, or a relock the hardware did not take."""

    action: ClassVar[str | None] = "door.lock_confirmed"


def _present(**values: object) -> dict[str, object]:
    return {key: value for key, value in values.items() if value is not None}
