"""Operators' door commands and the kiosks' door reports (core.access.door_commands)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import sessionmaker

from core.access.door_commands import DoorCommandKind, DoorCommandRecord, DoorReport
from core.accounts.permissions import Permission
from core.errors import NotFound
from core.records import Operator
from storage import schema
from storage.audit_log import append_audit, record_denial
from storage.kiosk_claim import KioskClaim
from storage.operator_authority import act_as
from storage.transactions import transaction

COMMAND_ACTION = "door.command"
UNLOCK_FAILED_ACTION = "door.unlock_failed"  # core.access.door_events.UnlockFailed.action
# core.access.door_events.UnlockUnconfirmed.action: counted with the failed unlocks.
UNLOCK_UNCONFIRMED_ACTION = "door.unlock_unconfirmed"


class SqlDoorCommands:
    """Thread-safe: a Session per call."""

    def __init__(self, engine: Engine, claim: KioskClaim | None = None) -> None:
        """``claim``: the running kiosk's hold on its id, checked whenever it takes
        commands (None: kiosk-admin, which takes none)."""
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._claim = claim

    def record_denial(
        self, operator: Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

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
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.CONTROL_DOOR, self)
            if session.get(schema.Kiosk, kiosk_id) is None:
                raise NotFound(
                    f"no kiosk {kiosk_id!r} has used this database; "
                    "kiosk-admin door status lists the doors"
                )
            command = schema.DoorCommand(
                kiosk_id=kiosk_id,
                kind=kind.value,
                seconds=seconds,
                reason=reason,
                operator=actor.username,
            )
            session.add(command)
            session.flush()
            details: dict[str, Any] = {
                "command_id": command.id,
                "kind": kind.value,
                "reason": reason,
            }
            if seconds is not None:
                details["seconds"] = seconds
            if via is not None:
                details["via"] = via
            append_audit(session, actor.username, COMMAND_ACTION, kiosk_id, details)
            return command.id

    def take_pending(self, kiosk_id: str) -> list[DoorCommandRecord]:
        table = schema.DoorCommand
        with transaction(self._sessions) as session:
            if self._claim is not None:
                # Only the kiosk that holds the id takes its commands (KioskIdInUse).
                self._claim.confirm(session)
            now = session.scalar(select(func.now()))
            # Locked rows are another process's take of the same kiosk: skipped, never twice.
            rows = session.scalars(
                select(table)
                .where(table.kiosk_id == kiosk_id, table.taken_at.is_(None))
                .order_by(table.id)
                .with_for_update(skip_locked=True)
            ).all()
            taken = []
            for row in rows:
                row.taken_at = now
                elapsed = (now - row.requested_at).total_seconds() if now else 0.0
                remaining = None if row.seconds is None else row.seconds - elapsed
                taken.append(_record(row, remaining))
            return taken

    def standing_lockdown(self, kiosk_id: str) -> DoorCommandRecord | None:
        table = schema.DoorCommand
        with transaction(self._sessions) as session:
            newest = session.scalars(
                select(table)
                .where(
                    table.kiosk_id == kiosk_id,
                    table.kind.in_([DoorCommandKind.LOCKDOWN.value, DoorCommandKind.RELEASE.value]),
                )
                .order_by(table.id.desc())
                .limit(1)
            ).first()
            if newest is None or newest.kind != DoorCommandKind.LOCKDOWN.value:
                return None
            return _record(newest, None)

    def report(self, report: DoorReport) -> None:
        values = {
            "adapter": report.adapter[:128],
            "unlocked": report.unlocked,
            "door_open": report.door_open,
            "lockdown": report.lockdown,
            "alarms": list(report.alarms),
            "fault": report.fault[:300] if report.fault else None,
            "stopped": report.stopped,
            "reported_at": func.now(),
        }
        statement = pg_insert(schema.DoorReport).values(kiosk_id=report.kiosk_id, **values)
        statement = statement.on_conflict_do_update(
            index_elements=[schema.DoorReport.kiosk_id], set_=values
        )
        with transaction(self._sessions) as session:
            session.execute(statement)

    def reports(
        self, actor: Operator, *, failed_unlocks_s: float, kiosk_id: str | None = None
    ) -> list[DoorReport]:
        table = schema.DoorReport
        audit = schema.AuditEvent
        # The failed unlocks come from the audit log (door.unlock_failed and
        # door.unlock_unconfirmed, target the kiosk), found through its occurred_at
        # index: no copy to keep in step.
        failed = (
            select(
                audit.target.label("kiosk_id"),
                func.count().label("count"),
                func.max(audit.occurred_at).label("last"),
            )
            .where(
                audit.action.in_((UNLOCK_FAILED_ACTION, UNLOCK_UNCONFIRMED_ACTION)),
                audit.occurred_at >= func.now() - timedelta(seconds=failed_unlocks_s),
            )
            .group_by(audit.target)
            .subquery()
        )
        query = (
            select(
                table,
                func.extract("epoch", func.now() - table.reported_at),
                failed.c.count,
                failed.c.last,
            )
            .outerjoin(failed, failed.c.kiosk_id == table.kiosk_id)
            .order_by(table.kiosk_id)
        )
        if kiosk_id is not None:
            query = query.where(table.kiosk_id == kiosk_id)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VIEW_DOORS, self)
            return [
                DoorReport(
                    kiosk_id=row.kiosk_id,
                    adapter=row.adapter,
                    unlocked=row.unlocked,
                    door_open=row.door_open,
                    lockdown=row.lockdown,
                    alarms=tuple(row.alarms),
                    fault=row.fault,
                    stopped=row.stopped,
                    reported_at=row.reported_at,
                    age_s=max(0.0, float(age)),
                    failed_unlocks=count or 0,
                    last_failed_unlock_at=last,
                )
                for row, age, count, last in session.execute(query)
            ]

    def kiosk_exists(self, kiosk_id: str) -> bool:
        with transaction(self._sessions) as session:
            return session.get(schema.Kiosk, kiosk_id) is not None


def _record(row: schema.DoorCommand, remaining_s: float | None) -> DoorCommandRecord:
    return DoorCommandRecord(
        id=row.id,
        kiosk_id=row.kiosk_id,
        kind=DoorCommandKind(row.kind),
        operator=row.operator,
        reason=row.reason,
        requested_at=row.requested_at,
        seconds=row.seconds,
        remaining_s=remaining_s,
    )
