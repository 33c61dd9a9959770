"""Operators' door commands (lockdown, release, unlock for a stated time) through the
database: asked for with ``kiosk-admin door`` or a screen anywhere, taken by the
kiosk whose door it is; and each kiosk's door state reported back."""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.access.door_controller import CommandResult, DoorController
from core.access.door_status import DoorStatus
from core.accounts.permissions import Permission, authorize
from core.door_io_settings import DoorIoSettings
from core.errors import InvalidValue, KioskError, KioskIdInUse, NotFound, StoreError
from core.records import Operator
from core.settings import KIOSK_ID_MAX, KIOSK_ID_PATTERN
from core.store import DenialLog

log = logging.getLogger(__name__)
MAX_REASON = 200
_KIOSK_ID = re.compile(KIOSK_ID_PATTERN)


class DoorCommandKind(StrEnum):
    UNLOCK = "unlock"
    LOCKDOWN = "lockdown"
    RELEASE = "release"


@dataclass(frozen=True, kw_only=True)
class DoorCommandRecord:
    id: int
    kiosk_id: str
    kind: DoorCommandKind
    operator: str
    reason: str
    requested_at: datetime
    seconds: float | None = None
    """For an unlock: how long it was asked for."""
    remaining_s: float | None = None
    """For an unlock: what is left of it when the kiosk took it (0 or less: expired)."""

    @property
    def age_s(self) -> float:
        """How long before the kiosk took it the unlock was asked for (s, by the
        database's clock); 0 for a lockdown or release, which are states, not moments."""
        if self.seconds is None or self.remaining_s is None:
            return 0.0
        return max(0.0, self.seconds - self.remaining_s)


@dataclass(frozen=True, kw_only=True)
class DoorReport:
    """A kiosk's door as it last reported it."""

    kiosk_id: str
    adapter: str
    unlocked: bool
    door_open: bool | None
    lockdown: bool
    alarms: tuple[str, ...]
    fault: str | None
    stopped: bool = False
    """The kiosk's last report as it stopped cleanly: the door is no longer driven,
    its lock was forced locked (``unlocked`` False) unless ``fault`` says otherwise."""
    reported_at: datetime | None = None
    age_s: float | None = None
    """How long ago the kiosk wrote it (s, by the database's clock); None for a
    report not yet stored."""
    failed_unlocks: int = 0
    """Unlocks the lock did not take or did not confirm (door.unlock_failed,
    door.unlock_unconfirmed), in the window asked for."""
    last_failed_unlock_at: datetime | None = None

    def is_stale(self, settings: DoorIoSettings) -> bool:
        """Older than ``report_stale_s``: the kiosk is off or cannot reach the database,
        and the door may be otherwise by now. A stopped kiosk's report is not stale:
        it is known to have stopped."""
        return not self.stopped and self.age_s is not None and self.age_s > settings.report_stale_s


@dataclass(frozen=True, kw_only=True)
class DoorRequest:
    """An operator's door command, checked (DoorCommandService.check)."""

    kiosk_id: str
    kind: DoorCommandKind
    reason: str
    seconds: float | None = None


class DoorCommandStore(Protocol):
    """What a kiosk needs from the database for its door (storage.door_commands)."""

    def take_pending(self, kiosk_id: str) -> list[DoorCommandRecord]:
        """The commands not yet taken, oldest first, marked taken in the same
        transaction: each is carried out once, by the one running kiosk that holds
        the id. Raises StoreError, KioskIdInUse while another kiosk holds it."""
        ...

    def standing_lockdown(self, kiosk_id: str) -> DoorCommandRecord | None:
        """The lockdown in force (the newest lockdown or release is a lockdown)."""
        ...

    def report(self, report: DoorReport) -> None: ...


class DoorCommandRequests(DenialLog, Protocol):
    """What ``kiosk-admin door`` needs from the database."""

    def request(
        self,
        *,
        actor: Operator,
        kiosk_id: str,
        kind: DoorCommandKind,
        reason: str,
        seconds: float | None,
        via: str | None = None,
    ) -> int:
        """Stores the command and its audit event in one transaction, the actor's
        account checked (CONTROL_DOOR) in it; returns the command's id. ``via`` says
        where it came from when not a person at a screen ("mqtt:<broker user>"). Raises
        NotFound for a kiosk that never used this database, SessionExpired or
        NotAllowed as storage.operator_authority.act_as."""
        ...

    def reports(
        self, actor: Operator, *, failed_unlocks_s: float, kiosk_id: str | None = None
    ) -> list[DoorReport]:
        """Every kiosk's report (or ``kiosk_id``'s: an empty list when it has none),
        with its age and the failed unlocks of the last ``failed_unlocks_s``. Raises
        as ``request`` for VIEW_DOORS."""
        ...

    def kiosk_exists(self, kiosk_id: str) -> bool: ...


class DoorCommandService:
    """Operators' door commands, checked against their permissions and the settings."""

    def __init__(self, store: DoorCommandRequests, settings: DoorIoSettings) -> None:
        self._store = store
        self._settings = settings

    def check(
        self,
        *,
        kiosk_id: str,
        kind: DoorCommandKind,
        reason: str,
        seconds: float | None = None,
    ) -> DoorRequest:
        """The request with its reason's spaces tidied. Raises InvalidValue for a
        malformed kiosk id, a missing or unprintable reason, or seconds out of
        ``min_operator_unlock_s``-``max_operator_unlock_s``; needs no database, so
        a command line can check before it asks for a password."""
        check_kiosk_id(kiosk_id)
        reason = " ".join(reason.split())
        if not reason or len(reason) > MAX_REASON:
            raise InvalidValue(f"give a reason of 1 to {MAX_REASON} characters (--reason)")
        if any(unicodedata.category(c) in ("Cc", "Cf") for c in reason):
            raise InvalidValue("the reason may not hold control characters; type it plainly")
        if kind is not DoorCommandKind.UNLOCK:
            return DoorRequest(kiosk_id=kiosk_id, kind=kind, reason=reason)
        shortest = self._settings.min_operator_unlock_s
        longest = self._settings.max_operator_unlock_s
        if seconds is None or not math.isfinite(seconds) or not shortest <= seconds <= longest:
            raise InvalidValue(
                f"an unlock needs --seconds from {shortest:g} to {longest:g} "
                "(door_io.min_operator_unlock_s, door_io.max_operator_unlock_s)"
            )
        return DoorRequest(kiosk_id=kiosk_id, kind=kind, reason=reason, seconds=seconds)

    def request(
        self,
        operator: Operator,
        *,
        kiosk_id: str,
        kind: DoorCommandKind,
        reason: str,
        seconds: float | None = None,
        via: str | None = None,
    ) -> int:
        """Raises NotAllowed, InvalidValue (as ``check``) or NotFound (no such kiosk).
        ``via``: kept in the audit event, for a command not typed by a person."""
        authorize(operator, Permission.CONTROL_DOOR, self._store)
        checked = self.check(kiosk_id=kiosk_id, kind=kind, reason=reason, seconds=seconds)
        return self._store.request(
            actor=operator,
            kiosk_id=checked.kiosk_id,
            kind=checked.kind,
            reason=checked.reason,
            seconds=checked.seconds,
            via=via,
        )

    def reports(self, operator: Operator, kiosk_id: str | None = None) -> list[DoorReport]:
        """Every kiosk's door as last reported, or ``kiosk_id``'s. Raises NotAllowed,
        InvalidValue (a malformed id) or NotFound (no such kiosk, or it never
        reported a door)."""
        authorize(operator, Permission.VIEW_DOORS, self._store)
        if kiosk_id is not None:
            check_kiosk_id(kiosk_id)
        reports = self._store.reports(
            operator, failed_unlocks_s=self._settings.failed_unlocks_shown_s, kiosk_id=kiosk_id
        )
        if kiosk_id is not None and not reports:
            if not self._store.kiosk_exists(kiosk_id):
                raise NotFound(
                    f"no kiosk {kiosk_id!r} has used this database; kiosk-admin kiosks lists them"
                )
            raise NotFound(
                f"kiosk {kiosk_id!r} has not reported a door: its door_io.adapter is none, "
                "or it has not run since; kiosk-admin door status lists the doors"
            )
        return reports


def check_kiosk_id(kiosk_id: str) -> None:
    """Raises InvalidValue unless ``kiosk_id`` has a kiosk id's form (settings.kiosk_id)."""
    if len(kiosk_id) > KIOSK_ID_MAX or not _KIOSK_ID.fullmatch(kiosk_id):
        raise InvalidValue(
            f"a kiosk id is 1 to {KIOSK_ID_MAX} letters, digits, '.', '_' or '-' (--kiosk); "
            "kiosk-admin kiosks lists them"
        )


def last_heard(age_s: float) -> str:
    """How long ago, in words a person reads at a glance ("last heard 12 minutes ago")."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if age_s >= 2 * size:
            return f"last heard {int(age_s // size)} {unit}s ago"
    return f"last heard {int(age_s)} seconds ago"


class DoorCommandPoller:
    """Exists so that an operator's command reaches a running kiosk's door without a
    connection into the kiosk: every ``operator_poll_s`` it takes this kiosk's new
    commands from the database, carries them out on the door controller, and reports
    the door's state back: when it changed, and at least every
    ``report_heartbeat_s`` so a kiosk gone silent shows as stale. A lockdown in force
    when the kiosk starts is applied first, so a restart never ends a lockdown. The
    database being down is logged and tried again; the door goes on as it was.

    An unlock taken more than ``command_max_age_s`` after it was asked for (the kiosk
    was stopped or cut off meanwhile) is set aside by the door, audited, never carried
    out. A lockdown or release is carried out however old: each is a state the
    operator set, the newest standing (the standing lockdown above).

    When this kiosk's id turns out held by another running kiosk (KioskIdInUse), the
    door stands down (DoorController.stand_down) and nothing more is taken or reported
    under the id: the other kiosk drives the door and writes its report."""

    def __init__(
        self,
        store: DoorCommandStore,
        door: DoorController,
        settings: DoorIoSettings,
        kiosk_id: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._door = door
        self._settings = settings
        self._kiosk_id = kiosk_id
        self._clock = clock
        self._stopping = threading.Event()
        self._standing_checked = False
        self._reported: DoorReport | None = None
        """The report last stored, and when (``clock``)."""
        self._reported_at = 0.0
        self._stood_down = False
        self._thread = threading.Thread(target=self._run, name="door-commands", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def poll_once(self) -> None:
        """One round: the standing lockdown (at first), new commands, the report.
        Raises StoreError when the database cannot be reached. Does nothing once the
        door stood down (another kiosk holds the id)."""
        if self._stood_down:
            return
        try:
            self._poll()
        except KioskIdInUse as error:
            self._stood_down = True
            why = f"door left alone: {error}"
            self._door.stand_down(why).wait(self._settings.command_timeout_s)

    def report_stopped(self) -> None:
        """The last report, marked stopped, written once the door controller has
        stopped (and forced the lock locked): the door reads "stopped" at once, never
        the state it had before. Call after ``stop``. A database that cannot take it
        is logged, not raised; nothing is written under an id another kiosk holds."""
        if self._stood_down:
            return
        report = replace(report_of(self._kiosk_id, self._door.status), stopped=True)
        try:
            self._store.report(report)
        except StoreError as error:
            log.warning("the door's last report (stopped) not written: %s", error)

    def _poll(self) -> None:
        if not self._standing_checked:
            standing = self._store.standing_lockdown(self._kiosk_id)
            if standing is not None:
                self._carry_out(standing)
            self._standing_checked = True
        for command in self._store.take_pending(self._kiosk_id):
            self._carry_out(command)
        self._report()

    def _report(self) -> None:
        """Store the door's state if it changed or the heartbeat is due; a failed
        write leaves the last stored report as it was, so the next round tries again."""
        report = report_of(self._kiosk_id, self._door.status)
        now = self._clock()
        due = now - self._reported_at >= self._settings.report_heartbeat_s
        if report == self._reported and not due:
            return
        self._store.report(report)
        self._reported, self._reported_at = report, now

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except StoreError as error:
                log.warning("door commands not read: %s", error)
            except KioskError as error:  # a command the door could not carry out
                log.error("door command failed: %s", error)
            self._stopping.wait(self._settings.operator_poll_s)

    def _carry_out(self, command: DoorCommandRecord) -> None:
        door = self._door
        if command.kind is DoorCommandKind.LOCKDOWN:
            sent = door.lockdown(operator=command.operator, reason=command.reason)
        elif command.kind is DoorCommandKind.RELEASE:
            sent = door.release(operator=command.operator, reason=command.reason)
        else:
            # A stale or expired unlock is refused by the door itself, so it is audited
            # (door.unlock_refused, with the command's id), never carried out.
            sent = door.unlock_for(
                command.remaining_s or 0.0,
                operator=command.operator,
                reason=command.reason,
                age_s=command.age_s,
                command_id=command.id,
            )
        result = sent.wait(self._settings.command_timeout_s)
        if result is not CommandResult.DONE:
            log.warning("door command %d %s: %s", command.id, result.value, sent.detail)


def report_of(kiosk_id: str, status: DoorStatus) -> DoorReport:
    state = status.state
    return DoorReport(
        kiosk_id=kiosk_id,
        adapter=status.adapter,
        unlocked=state.unlocked,
        door_open=state.door_open,
        lockdown=state.lockdown,
        alarms=tuple(sorted(alarm.value for alarm in state.alarms)),
        fault=status.fault,
    )
