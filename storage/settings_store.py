"""Settings kept in the database: read by every kiosk, changed by admins, audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import sessionmaker

from core.records import Operator
from storage import schema
from storage.audit_log import append_audit, record_denial
from storage.transactions import transaction

ALL_KIOSKS = "*"


class SqlSettingsStore:
    """Thread-safe: a Session per call."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(self, operator: Operator, permission: str) -> None:
        record_denial(self._sessions, operator, permission)

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
