"""Requests to the door controller (core.access.door_controller) from other threads:
what each asks of the door's control, and how it ended."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from core.access.door_control import DoorControl
from core.access.door_events import (
    DoorEvent,
    UnlockCause,
    Unlocked,
    UnlockFailed,
    UnlockRefused,
    UnlockUnconfirmed,
)
from core.errors import DoorFault


class CommandResult(StrEnum):
    DONE = "done"
    REFUSED = "refused"
    """Refused by the door's rules (lockdown, a late grant): not a fault."""
    FAILED = "failed"
    """The hardware did not take it."""
    UNCONFIRMED = "unconfirmed"
    """An unlock whose outcome is unknown: the door may have been unlocked."""


@dataclass(eq=False)
class DoorCommand:
    """One request to the door; ``done`` is set once it was carried out or failed."""

    apply: Callable[[DoorControl, float], list[DoorEvent]]
    event_id: uuid.UUID | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: CommandResult = CommandResult.DONE
    detail: str = ""

    def wait(self, timeout_s: float) -> CommandResult:
        """Raises DoorFault if it was not carried out within ``timeout_s``."""
        if not self.done.wait(timeout_s):
            raise DoorFault(
                f"the door hardware did not answer within {timeout_s:g} s; "
                "check its power and connection (door_io settings)"
            )
        return self.result


def give_up_unlock(
    control: DoorControl,
    now: float,
    command: DoorCommand | None,
    events: Sequence[DoorEvent],
    detail: str,
    *,
    confirmed: bool = True,
) -> list[DoorEvent]:
    """The unlocks in ``events`` (asked for by ``command``, if any) did not take:
    given up in ``control``, never sent late, and reported in their place as
    UnlockFailed when the hardware is known not to have taken them (it reads back
    locked, or was never reached), or as UnlockUnconfirmed when it may have
    (``confirmed`` False): the door may have been unlocked."""
    control.abandon_unlock(now)
    unlocks = [e for e in events if isinstance(e, Unlocked)]
    grant = next((e.event_id for e in unlocks if e.cause is UnlockCause.GRANT), None)
    kept = [e for e in events if not isinstance(e, Unlocked)]
    failed: DoorEvent
    if confirmed:
        result = CommandResult.FAILED
        failed = UnlockFailed(at_s=now, event_id=grant, detail=detail)
    else:
        result = CommandResult.UNCONFIRMED
        failed = UnlockUnconfirmed(at_s=now, event_id=grant, detail=detail)
    if command is not None:
        command.result, command.detail = result, detail
    return [*kept, failed]


def refuse(command: DoorCommand, now: float, why: str) -> list[DoorEvent]:
    """``command`` refused without a look at the door (it is no longer driven); a
    grant's refusal is an event, so the person at the door is told."""
    command.result, command.detail = CommandResult.REFUSED, why
    if command.event_id is None:
        return []
    return [UnlockRefused(at_s=now, cause=UnlockCause.GRANT, why=why, event_id=command.event_id)]
