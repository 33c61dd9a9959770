"""Settings kept in the database: read by every kiosk, changed by admins, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import sessionmaker

from core.accounts.permissions import Permission
from core.records import Operator
from storage import schema
from storage.audit_log import SYSTEM_ACTOR, append_audit, record_denial
from storage.operator_authority import act_as
from storage.transactions import transaction

ALL_KIOSKS = "*"
LOCAL_VALUES_ACTION = "settings.local"
# Any fixed number: kiosks starting together record their local values one at a time.
_LOCAL_VALUES_LOCK = 7_301_520_117


class SqlSettingsStore:
    """Thread-safe: a Session per call."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(
        self, operator: Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def stored_settings(self, kiosk_id: str) -> dict[str, Any]:
        table = schema.StoredSetting
        query = select(table).where(table.scope.in_((ALL_KIOSKS, kiosk_id)))
        with transaction(self._sessions) as session:
            rows = list(session.scalars(query))
        # The kiosk's own value goes over the shared one.
        rows.sort(key=lambda row: row.scope != ALL_KIOSKS)
        return {row.key: row.value for row in rows}

    def save_settings(self, changes: dict[str, tuple[str, Any, Any]], actor: Operator) -> None:
        table = schema.StoredSetting
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.CHANGE_SETTINGS, self)
            for key, (scope, _old, new) in changes.items():
                statement = insert(table).values(
                    scope=scope, key=key, value=new, updated_by=actor.username
                )
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=[table.scope, table.key],
                        set_={"value": new, "updated_by": actor.username, "updated_at": func.now()},
                    )
                )
            append_audit(
                session,
                actor.username,
                "settings.change",
                ", ".join(sorted(changes)),
                {
                    key: {"scope": scope, "old": old, "new": new}
                    for key, (scope, old, new) in changes.items()
                },
            )

    def record_local_values(self, kiosk_id: str, values: dict[str, Any]) -> bool:
        table = schema.AuditEvent
        last_recorded = (
            select(table.details)
            .where(table.action == LOCAL_VALUES_ACTION, table.target == kiosk_id)
            .order_by(table.id.desc())
            .limit(1)
        )
        with transaction(self._sessions) as session:
            session.execute(select(func.pg_advisory_xact_lock(_LOCAL_VALUES_LOCK)))
            if (session.scalar(last_recorded) or {}) == values:
                return False
            return append_audit(session, SYSTEM_ACTOR, LOCAL_VALUES_ACTION, kiosk_id, values)
