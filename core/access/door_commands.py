"""Operators' door commands (lockdown, release, unlock for a stated time) through the
database: asked for with ``kiosk-admin door`` or a screen anywhere, taken by the
kiosk whose door it is; and each kiosk's door state reported back."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from core.access.door_controller import CommandResult, DoorController, DoorStatus
from core.accounts.permissions import Permission, authorize
from core.door_io_settings import DoorIoSettings
from core.errors import InvalidValue, KioskError, StoreError
from core.records import Operator
from core.store import DenialLog

log = logging.getLogger(__name__)
MAX_REASON = 200


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
    reported_at: datetime | None = None


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
    ) -> int:
        """Stores the command and its audit event in one transaction, the actor's
        account checked (CONTROL_DOOR) in it; returns the command's id. Raises
        NotFound for a kiosk that never used this database, SessionExpired or
        NotAllowed as storage.operator_authority.act_as."""
        ...

    def reports(self, actor: Operator) -> list[DoorReport]:
        """Raises as ``request`` for VIEW_DOORS."""
        ...


class DoorCommandService:
    """Operators' door commands, checked against their permissions and the settings."""

    def __init__(self, store: DoorCommandRequests, settings: DoorIoSettings) -> None:
        self._store = store
        self._settings = settings

    def request(
        self,
        operator: Operator,
        *,
        kiosk_id: str,
        kind: DoorCommandKind,
        reason: str,
        seconds: float | None = None,
    ) -> int:
        """Raises NotAllowed, InvalidValue (a missing reason, seconds out of range) or
        NotFound (no such kiosk)."""
        authorize(operator, Permission.CONTROL_DOOR, self._store)
        reason = " ".join(reason.split())
        if not reason or len(reason) > MAX_REASON:
            raise InvalidValue(f"give a reason of 1 to {MAX_REASON} characters (--reason)")
        longest = self._settings.max_operator_unlock_s
        if kind is DoorCommandKind.UNLOCK:
            if seconds is None or not 0 < seconds <= longest:
                raise InvalidValue(
                    f"an unlock needs --seconds between 1 and {longest:g} "
                    "(door_io.max_operator_unlock_s)"
                )
        else:
            seconds = None
        return self._store.request(
            actor=operator, kiosk_id=kiosk_id, kind=kind, reason=reason, seconds=seconds
        )

    def reports(self, operator: Operator) -> list[DoorReport]:
        authorize(operator, Permission.VIEW_DOORS, self._store)
        return self._store.reports(operator)


class DoorCommandPoller:
    """Exists so that an operator's command reaches a running kiosk's door without a
    connection into the kiosk: every ``operator_poll_s`` it takes this kiosk's new
    commands from the database, carries them out on the door controller, and reports
    the door's state back. A lockdown in force when the kiosk starts is applied
    first, so a restart never ends a lockdown. The database being down is logged
    and tried again; the door goes on as it was."""

    def __init__(
        self,
        store: DoorCommandStore,
        door: DoorController,
        settings: DoorIoSettings,
        kiosk_id: str,
    ) -> None:
        self._store = store
        self._door = door
        self._settings = settings
        self._kiosk_id = kiosk_id
        self._stopping = threading.Event()
        self._standing_checked = False
        self._thread = threading.Thread(target=self._run, name="door-commands", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def poll_once(self) -> None:
        """One round: the standing lockdown (at first), new commands, the report.
        Raises StoreError when the database cannot be reached."""
        if not self._standing_checked:
            standing = self._store.standing_lockdown(self._kiosk_id)
            if standing is not None:
                self._carry_out(standing)
            self._standing_checked = True
        for command in self._store.take_pending(self._kiosk_id):
            self._carry_out(command)
        self._store.report(report_of(self._kiosk_id, self._door.status))

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
        elif command.remaining_s is None or command.remaining_s <= 0:
            log.warning("door command %d expired before the kiosk took it", command.id)
            return
        else:
            sent = door.unlock_for(
                command.remaining_s, operator=command.operator, reason=command.reason
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
