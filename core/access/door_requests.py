"""Requests to the door controller (core.access.door_controller) from other threads:
what each asks of the door's control, and how it ended."""

from __future__ import annotations

import contextlib
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
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
from core.records import AccessDecision


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

    def fail(self, detail: str) -> None:
        """Not carried out, for ``detail``; whoever waits on it is told at once."""
        self.result, self.detail = CommandResult.FAILED, detail
        self.done.set()

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


def grant_request(decision: AccessDecision, wall_clock: Callable[[], datetime]) -> DoorCommand:
    """Unlock for ``decision``, a grant. It is aged when the door's thread takes it, not
    when it was sent: a grant that waited behind a slow hardware call is refused, never
    opened late."""

    def apply(control: DoorControl, now: float) -> list[DoorEvent]:
        age_s = (wall_clock() - decision.occurred_at).total_seconds()
        return control.grant(now, event_id=decision.event_id, age_s=age_s)

    return DoorCommand(apply, event_id=decision.event_id)


def timed_unlock_request(
    sent: float,
    seconds: float,
    *,
    operator: str,
    reason: str,
    age_s: float,
    command_id: int | None,
) -> DoorCommand:
    """Unlock until ``seconds`` after ``sent`` (the door's clock, s): taken later, it
    lasts only what is left; ``age_s`` counts its wait before ``sent`` too."""
    until = sent + seconds
    return DoorCommand(
        lambda control, now: control.unlock_for(
            now,
            seconds=until - now,
            operator=operator,
            reason=reason,
            age_s=age_s + (now - sent),
            command_id=command_id,
        )
    )


def lockdown_request(*, operator: str, reason: str) -> DoorCommand:
    return DoorCommand(lambda control, now: control.lockdown(now, operator=operator, reason=reason))


def release_request(*, operator: str, reason: str) -> DoorCommand:
    return DoorCommand(lambda control, now: control.release(now, operator=operator, reason=reason))


def fail_waiting(commands: queue.Queue[object], detail: str) -> None:
    """Every request still in ``commands`` fails with ``detail``: whoever waits on one
    is told at once, not left hanging."""
    while True:
        try:
            pending = commands.get_nowait()
        except queue.Empty:
            return
        if isinstance(pending, DoorCommand):
            pending.fail(detail)


@contextlib.contextmanager
def answered(command: DoorCommand | None) -> Iterator[None]:
    """Whoever waits on ``command`` is told once the block ends; if it ends in an error
    (a bug of ours on the door's thread), the command failed."""
    try:
        yield
    except BaseException:
        if command is not None:
            command.result, command.detail = CommandResult.FAILED, "the door control failed"
        raise
    finally:
        if command is not None:
            command.done.set()


def stop_arrives(commands: queue.Queue[object], timeout_s: float, stop: object) -> bool:
    """Whether ``stop`` comes in ``commands`` within ``timeout_s``; a request that comes
    meanwhile fails at once (the door's control has stopped)."""
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        try:
            item = commands.get(timeout=left)
        except queue.Empty:
            return False
        if item is stop:
            return True
        if isinstance(item, DoorCommand):
            item.fail("the door control failed")
    return False
