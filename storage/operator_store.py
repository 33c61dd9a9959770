"""Operator accounts and the persisted login throttle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.login_throttle import KioskFailures, LoginGate, kiosk_after_failure, user_lock
from core.errors import NotAllowed, NotFound
from core.settings import SecuritySettings
from storage import schema
from storage.audit_log import SYSTEM_ACTOR, append_audit, record_denial
from storage.transactions import transaction

UNKNOWN_USERNAME = "(unknown username)"


class SqlOperatorStore:
    """Thread-safe: a Session per call. Lock times come from the database clock,
    so kiosks sharing one server agree on them."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def add_first_operator(
        self, username: str, password_hash: str, role: records.Role
    ) -> records.Operator:
        with transaction(self._sessions) as session:
            # Serialises two first-run setups racing on a fresh database.
            session.execute(text("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE"))
            if session.scalar(select(func.count()).select_from(schema.Operator)):
                raise NotAllowed("operators already exist; an admin can add more")
            return _add(session, username, password_hash, role, actor=username)

    def add_operator(
        self, username: str, password_hash: str, role: records.Role, actor: records.Operator
    ) -> records.Operator:
        with transaction(self._sessions) as session:
            session.execute(text("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE"))
            if _row(session, username) is not None:
                raise NotAllowed(f"operator {username} already exists")
            return _add(session, username, password_hash, role, actor=actor.username)

    def record_denial(self, operator: records.Operator, permission: str) -> None:
        record_denial(self._sessions, operator, permission)

    def find_operator(self, username: str) -> records.Operator | None:
        with transaction(self._sessions) as session:
            row = _row(session, username)
            return _operator(row) if row is not None else None

    def operators(self) -> list[records.OperatorSummary]:
        query = select(schema.Operator).order_by(schema.Operator.username)
        with transaction(self._sessions) as session:
            return [
                records.OperatorSummary(
                    row.username, records.Role(row.role), row.disabled, row.created_at
                )
                for row in session.scalars(query)
            ]

    def update_operator(
        self,
        username: str,
        actor: records.Operator,
        action: str,
        *,
        password_hash: str | None = None,
        role: records.Role | None = None,
        disabled: bool | None = None,
    ) -> None:
        """Change one operator; ``action`` names it in the audit log."""
        with transaction(self._sessions) as session:
            row = session.scalar(
                select(schema.Operator)
                .where(schema.Operator.username == username)
                .with_for_update()
            )
            if row is None:
                raise NotFound(f"no operator called {username}")
            details: dict[str, Any] = {}
            if password_hash is not None:
                row.password_hash = password_hash
            if role is not None:
                details["role"] = {"from": row.role, "to": role.value}
                row.role = role.value
            if disabled is not None:
                row.disabled = disabled
                details["disabled"] = disabled
            if password_hash is not None:
                # A new password lifts a lock: the admin who reset it vouches for the operator.
                session.execute(
                    update(schema.LoginThrottle)
                    .where(schema.LoginThrottle.username == username)
                    .values(consecutive_failures=0, locks=0, locked_until=None)
                )
            append_audit(session, actor.username, action, username, details)

    def login_gate(self, username: str, kiosk_id: str) -> LoginGate:
        with transaction(self._sessions) as session:
            now = _now(session)
            user = session.get(schema.LoginThrottle, username)
            kiosk = session.get(schema.KioskLoginThrottle, kiosk_id)
            return LoginGate(
                now,
                user.locked_until if user else None,
                kiosk.locked_until if kiosk else None,
            )

    def record_login_failure(
        self, username: str, kiosk_id: str, policy: SecuritySettings
    ) -> LoginGate:
        with transaction(self._sessions) as session:
            now = _now(session)
            user = _locked_row(session, schema.LoginThrottle, {"username": username})
            # Both throttle rows before any audit append: the chain lock comes last.
            kiosk = _locked_row(
                session,
                schema.KioskLoginThrottle,
                {"kiosk_id": kiosk_id},
                window_started_at=now,
            )
            user.consecutive_failures += 1
            user.last_failure_at = now
            _audit_login_failure(session, username, kiosk_id, user.consecutive_failures)
            lock = user_lock(user.consecutive_failures, user.locks, policy)
            if lock is not None:
                user.locks += 1
                user.locked_until = now + lock
                # Typed usernames can be passwords typed in the wrong box: name only real ones.
                known = _row(session, username) is not None
                append_audit(
                    session,
                    SYSTEM_ACTOR,
                    "login.locked",
                    username if known else UNKNOWN_USERNAME,
                    {"seconds": int(lock.total_seconds()), "failures": user.consecutive_failures},
                )
            counted, locked = kiosk_after_failure(
                KioskFailures(kiosk.window_started_at, kiosk.failures, kiosk.locked_until),
                now,
                policy,
            )
            kiosk.window_started_at = counted.window_started_at
            kiosk.failures = counted.failures
            kiosk.locked_until = counted.locked_until
            if locked:
                append_audit(
                    session,
                    SYSTEM_ACTOR,
                    "login.kiosk_locked",
                    kiosk_id,
                    {"seconds": policy.kiosk_login_lock_s},
                )
            return LoginGate(now, user.locked_until, kiosk.locked_until)

    def record_login_success(self, username: str, kiosk_id: str) -> None:
        with transaction(self._sessions) as session:
            session.execute(
                update(schema.LoginThrottle)
                .where(schema.LoginThrottle.username == username)
                .values(consecutive_failures=0, locks=0, locked_until=None)
            )
            _audit_login_success(session, username, kiosk_id)


def _add(
    session: Session, username: str, password_hash: str, role: records.Role, actor: str
) -> records.Operator:
    row = schema.Operator(username=username, password_hash=password_hash, role=role.value)
    session.add(row)
    session.flush()
    append_audit(session, actor, "operator.create", username, {"role": role.value})
    return _operator(row)


def _audit_login_success(session: Session, username: str, kiosk_id: str) -> None:
    append_audit(session, username, "login.succeeded", username, {"kiosk": kiosk_id})


def _audit_login_failure(session: Session, username: str, kiosk_id: str, failures: int) -> None:
    """A checked and failed login. The typed username may be a password typed in
    the wrong box: only an operator's real name is recorded."""
    known = _row(session, username) is not None
    append_audit(
        session,
        SYSTEM_ACTOR,
        "login.failed",
        username if known else UNKNOWN_USERNAME,
        {"kiosk": kiosk_id, "failures": failures},
    )


def _row(session: Session, username: str) -> schema.Operator | None:
    return session.scalar(select(schema.Operator).where(schema.Operator.username == username))


def _locked_row(session: Session, table: Any, key: dict[str, str], **defaults: Any) -> Any:
    """The row with primary ``key``, created with ``defaults`` if missing, locked until commit."""
    session.execute(insert(table).values(**key, **defaults).on_conflict_do_nothing())
    (value,) = key.values()
    return session.get(table, value, with_for_update=True, populate_existing=True)


def _now(session: Session) -> datetime:
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def _operator(row: schema.Operator) -> records.Operator:
    return records.Operator(
        row.id, row.username, records.Role(row.role), row.disabled, row.password_hash
    )
