"""The door's control logic: when the lock is released and when it relocks, and
the held-open and forced-open alarms. Pure: no threads, no hardware, no clock of
its own; each call takes the door clock's reading ``now`` (s) and returns the
events it caused (core.access.door_events), so every path runs on a fake clock.

The rules, in the field's terms:

- Locked at start and at a clean stop, whatever it was before.
- A grant (a recognised face) releases the lock for ``unlock_s``; so does the
  request-to-exit button (REX) and an operator's "unlock now" for a stated time.
  The lock relocks when the door closes after it was opened, or when the time runs
  out, whichever comes first.
- Held open: the door stays open ``held_open_s`` after an authorised opening.
- Forced open: the door opens while locked and no REX was pressed within
  ``unlock_s`` before. Both alarms clear when the door closes.
- Lockdown: grants and operator unlocks are refused and the lock stays locked
  until released. REX still unlocks when ``rex_in_lockdown`` (free egress);
  otherwise it only excuses the opening (mechanical egress) from the forced-open
  alarm.
- A grant older than ``grant_max_age_s`` when it reaches the door is refused: a
  door that opens long after the face was seen opens for whoever stands there.
  So is an operator's unlock older than ``command_max_age_s`` (stale: asked of a
  kiosk that was stopped or cut off from the database).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.access.door_events import (
    Alarm,
    AlarmCleared,
    AlarmRaised,
    DoorClosed,
    DoorEvent,
    DoorOpened,
    ExitRequested,
    LockdownEnded,
    LockdownStarted,
    RelockCause,
    Relocked,
    UnlockCause,
    Unlocked,
    UnlockRefused,
)
from core.door_io_settings import DoorIoSettings

LOCKDOWN_REFUSAL = "the door is in lockdown"
LATE_REFUSAL = "the decision reached the door too late"
EXPIRED_REFUSAL = "the unlock's time ran out before the door took it"
STALE_REFUSAL = "the unlock command is stale, set aside"


@dataclass(frozen=True, kw_only=True)
class DoorState:
    """The door as its control sees it at one moment."""

    unlocked: bool
    """The lock is released (the output driven to unlock)."""
    unlock_cause: UnlockCause | None
    unlocked_until_s: float | None
    door_open: bool | None
    """From the door contact; None when no contact is wired or it was never read."""
    lockdown: bool
    alarms: frozenset[Alarm]


class DoorControl:
    """The state machine of one door. Not thread-safe: owned by one thread (the
    kiosk's core.access.door_controller.DoorController), or a test."""

    def __init__(self, settings: DoorIoSettings) -> None:
        self._settings = settings
        self._unlocked_until: float | None = None
        self._cause: UnlockCause | None = None
        self._opened_while_unlocked = False
        self._open: bool | None = None
        self._held_open_at: float | None = None
        """When an authorised opening becomes held open, while the door is open."""
        self._exit_excused_until = float("-inf")
        self._lockdown = False
        self._alarms: set[Alarm] = set()

    @property
    def state(self) -> DoorState:
        return DoorState(
            unlocked=self._unlocked_until is not None,
            unlock_cause=self._cause,
            unlocked_until_s=self._unlocked_until,
            door_open=self._open,
            lockdown=self._lockdown,
            alarms=frozenset(self._alarms),
        )

    def next_deadline(self) -> float | None:
        """The next clock reading at which ``tick`` has something to do, if any."""
        deadlines = [t for t in (self._unlocked_until, self._held_open_at) if t is not None]
        return min(deadlines) if deadlines else None

    # ---- start and stop --------------------------------------------------------------------

    def start(self, now: float) -> list[DoorEvent]:
        """Locked, whatever the lock output was before (a crash, a power cut)."""
        self._relock_state()
        return [Relocked(at_s=now, cause=RelockCause.START)]

    def stop(self, now: float) -> list[DoorEvent]:
        """Locked on a clean stop."""
        self._relock_state()
        return [Relocked(at_s=now, cause=RelockCause.STOP)]

    def abandon_unlock(self, now: float) -> list[DoorEvent]:
        """The hardware did not take the unlock: give it up rather than open late."""
        if self._unlocked_until is None:
            return []
        self._relock_state()
        return [Relocked(at_s=now, cause=RelockCause.FAULT)]

    # ---- requests to unlock ----------------------------------------------------------------

    def grant(self, now: float, *, event_id: uuid.UUID, age_s: float) -> list[DoorEvent]:
        """A recognised face: ``event_id`` is its access decision, ``age_s`` how long
        ago it was decided."""
        if self._lockdown:
            return [
                UnlockRefused(
                    at_s=now, cause=UnlockCause.GRANT, why=LOCKDOWN_REFUSAL, event_id=event_id
                )
            ]
        if age_s > self._settings.grant_max_age_s:
            return [
                UnlockRefused(
                    at_s=now, cause=UnlockCause.GRANT, why=LATE_REFUSAL, event_id=event_id
                )
            ]
        return [self._unlock(now, self._settings.unlock_s, UnlockCause.GRANT, event_id=event_id)]

    def request_exit(self, now: float) -> list[DoorEvent]:
        """The REX button was pressed."""
        events: list[DoorEvent] = [ExitRequested(at_s=now)]
        self._exit_excused_until = now + self._settings.unlock_s
        if self._lockdown and not self._settings.rex_in_lockdown:
            return events
        events.append(self._unlock(now, self._settings.unlock_s, UnlockCause.EXIT_REQUEST))
        return events

    def unlock_for(
        self,
        now: float,
        *,
        seconds: float,
        operator: str,
        reason: str,
        age_s: float = 0.0,
        command_id: int | None = None,
    ) -> list[DoorEvent]:
        """An operator's "unlock now" for ``seconds``, asked for ``age_s`` ago (as door
        command ``command_id``, if it came through the database). Refused when older
        than ``command_max_age_s`` (stale: asked of a kiosk that was stopped or cut
        off), in lockdown, and when ``seconds`` is not above 0 (its time ran out before
        the door took it)."""

        def refused(why: str) -> list[DoorEvent]:
            return [
                UnlockRefused(
                    at_s=now,
                    cause=UnlockCause.OPERATOR,
                    why=why,
                    operator=operator,
                    command_id=command_id,
                )
            ]

        limit = self._settings.command_max_age_s
        if age_s > limit:
            return refused(
                f"{STALE_REFUSAL}: asked for {age_s:.0f} s before the kiosk took it, "
                f"more than door_io.command_max_age_s ({limit:g} s); ask again"
            )
        if self._lockdown:
            return refused(f"{LOCKDOWN_REFUSAL}: release it first")
        if seconds <= 0:
            return refused(EXPIRED_REFUSAL)
        return [self._unlock(now, seconds, UnlockCause.OPERATOR, operator=operator, reason=reason)]

    def _unlock(
        self,
        now: float,
        seconds: float,
        cause: UnlockCause,
        *,
        event_id: uuid.UUID | None = None,
        operator: str | None = None,
        reason: str | None = None,
    ) -> Unlocked:
        # A second unlock while released extends it; it never shortens an operator's.
        until = now + seconds
        if self._unlocked_until is not None and self._unlocked_until > until:
            until = self._unlocked_until
        else:
            self._cause = cause
        if self._unlocked_until is None:
            self._opened_while_unlocked = False
        self._unlocked_until = until
        return Unlocked(
            at_s=now,
            cause=cause,
            until_s=until,
            event_id=event_id,
            operator=operator,
            reason=reason,
        )

    # ---- operator states -------------------------------------------------------------------

    def lockdown(self, now: float, *, operator: str, reason: str) -> list[DoorEvent]:
        """Every grant refused and the lock kept locked until ``release``."""
        if self._lockdown:
            return []
        self._lockdown = True
        events: list[DoorEvent] = [LockdownStarted(at_s=now, operator=operator, reason=reason)]
        if self._unlocked_until is not None:
            self._relock_state()
            events.append(Relocked(at_s=now, cause=RelockCause.LOCKDOWN))
        return events

    def release(self, now: float, *, operator: str, reason: str) -> list[DoorEvent]:
        if not self._lockdown:
            return []
        self._lockdown = False
        return [LockdownEnded(at_s=now, operator=operator, reason=reason)]

    # ---- the door contact and time ---------------------------------------------------------

    def door_contact(self, now: float, *, is_open: bool) -> list[DoorEvent]:
        """The door contact's debounced reading; a repeat of the last one does nothing."""
        if self._open is is_open:
            return []
        first_reading = self._open is None
        self._open = is_open
        if is_open:
            return self._opened(now)
        if first_reading:
            return []
        return self._closed(now)

    def _opened(self, now: float) -> list[DoorEvent]:
        events: list[DoorEvent] = [DoorOpened(at_s=now)]
        authorised = self._unlocked_until is not None or now < self._exit_excused_until
        if authorised:
            self._opened_while_unlocked = self._unlocked_until is not None
            self._held_open_at = now + self._settings.held_open_s
        elif Alarm.FORCED_OPEN not in self._alarms:
            self._alarms.add(Alarm.FORCED_OPEN)
            events.append(AlarmRaised(at_s=now, alarm=Alarm.FORCED_OPEN))
        return events

    def _closed(self, now: float) -> list[DoorEvent]:
        events: list[DoorEvent] = [DoorClosed(at_s=now)]
        self._held_open_at = None
        for alarm in sorted(self._alarms):
            events.append(AlarmCleared(at_s=now, alarm=alarm))
        self._alarms.clear()
        if self._unlocked_until is not None and self._opened_while_unlocked:
            self._relock_state()
            events.append(Relocked(at_s=now, cause=RelockCause.DOOR_CLOSED))
        return events

    def tick(self, now: float) -> list[DoorEvent]:
        """The time-outs due by ``now``: the unlock running out, the held-open alarm."""
        events: list[DoorEvent] = []
        if self._unlocked_until is not None and now >= self._unlocked_until:
            self._relock_state()
            events.append(Relocked(at_s=now, cause=RelockCause.TIME_UP))
        if self._held_open_at is not None and now >= self._held_open_at:
            self._held_open_at = None
            if self._open and Alarm.HELD_OPEN not in self._alarms:
                self._alarms.add(Alarm.HELD_OPEN)
                events.append(AlarmRaised(at_s=now, alarm=Alarm.HELD_OPEN))
        return events

    def _relock_state(self) -> None:
        self._unlocked_until = None
        self._cause = None
        self._opened_while_unlocked = False
