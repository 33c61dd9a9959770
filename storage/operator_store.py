"""Operator accounts and the persisted login throttle."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.login_throttle import LoginAttempt
from core.accounts.permissions import Permission, permission_to_change
from core.errors import NotAllowed, NotFound, StoreError
from core.settings import SecuritySettings
from storage import login_attempts, schema
from storage.audit_log import append_audit, record_denial, write_apart
from storage.operator_authority import act_as, authorize_in, lock_actor_and_target, operator_record
from storage.transactions import transaction


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
            # The actor's row first, then the table: the order every writer keeps.
            act_as(session, actor, Permission.MANAGE_OPERATORS, self)
            session.execute(text("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE"))
            if _row(session, username) is not None:
                raise NotAllowed(f"operator {username} already exists")
            return _add(session, username, password_hash, role, actor=actor.username)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def find_operator(self, username: str) -> records.Operator | None:
        with transaction(self._sessions) as session:
            row = _row(session, username)
            return operator_record(row) if row is not None else None

    def has_operators(self) -> bool:
        """Whether any operator exists: the kiosk's first run creates the first admin."""
        with transaction(self._sessions) as session:
            return session.scalar(select(schema.Operator.id).limit(1)) is not None

    def operators(self, *, actor: records.Operator) -> list[records.OperatorSummary]:
        query = select(schema.Operator).order_by(schema.Operator.username)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.MANAGE_OPERATORS, self)
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
        """Change one operator; ``action`` names it in the audit log.

        Disabling, a new role or a new password moves the operator's session
        epoch on, which ends every session they have open."""
        needed = permission_to_change(
            actor, username, only_password=role is None and disabled is None
        )
        with transaction(self._sessions) as session:
            actor_row, row = lock_actor_and_target(session, actor, username)
            authorize_in(session, actor, actor_row, needed, self)
            if row is None:
                raise NotFound(f"no operator called {username}")
            details: dict[str, Any] = {}
            ends_sessions = False
            if password_hash is not None:
                row.password_hash = password_hash
                ends_sessions = True
            if role is not None and role.value != row.role:
                details["role"] = {"from": row.role, "to": role.value}
                row.role = role.value
                ends_sessions = True
            if disabled is not None:
                details["disabled"] = disabled
                ends_sessions = ends_sessions or disabled != row.disabled
                row.disabled = disabled
            if ends_sessions:
                row.session_epoch += 1
            if password_hash is not None:
                # A new password lifts a lock: the admin who reset it vouches for the operator.
                session.execute(
                    update(schema.LoginThrottle)
                    .where(schema.LoginThrottle.username == username)
                    .values(consecutive_failures=0, locks=0, locked_until=None)
                )
            append_audit(session, actor.username, action, username, details)

    # --- the login throttle (storage/login_attempts.py) ----------------------------------

    def reserve_login_attempt(
        self, username: str, kiosk_id: str, policy: SecuritySettings
    ) -> LoginAttempt:
        """Count the attempt as a failure before its password is checked.

        Raises LoginLocked while locked; StoreError (fail closed: no password may
        be checked) if the count could not be stored, e.g. lost to a deadlock."""
        try:
            with transaction(self._sessions) as session:
                return login_attempts.reserve(session, username, kiosk_id, policy)
        except StoreError as error:
            raise type(error)(
                f"the login attempt could not be counted, so no password was checked: {error}"
            ) from error

    def record_login_failure(self, attempt: LoginAttempt) -> None:
        write_apart(
            self._sessions,
            lambda session: login_attempts.audit_failure(session, attempt),
            "a failed login",
        )

    def record_login_success(self, attempt: LoginAttempt) -> None:
        with transaction(self._sessions) as session:
            login_attempts.take_back(session, attempt)


def _add(
    session: Session, username: str, password_hash: str, role: records.Role, actor: str
) -> records.Operator:
    row = schema.Operator(username=username, password_hash=password_hash, role=role.value)
    session.add(row)
    session.flush()
    append_audit(session, actor, "operator.create", username, {"role": role.value})
    return operator_record(row)


def _row(session: Session, username: str) -> schema.Operator | None:
    return session.scalar(select(schema.Operator).where(schema.Operator.username == username))
