"""API keys (core.accounts.api_keys): each key's hash, expiry and revocation beside the
operator account it acts through."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.api_keys import ApiKeyInfo, key_name
from core.accounts.permissions import Permission
from core.errors import InvalidValue, NameTaken, NotFound
from storage import schema
from storage.audit_log import append_audit, record_denial
from storage.operator_authority import act_as, operator_record
from storage.transactions import transaction


class SqlApiKeyStore:
    """Thread-safe: a Session per call. Expiry is judged by the database's clock, so
    every server on one database agrees on it."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def add_api_key(
        self,
        *,
        account: str,
        role: records.Role,
        secret_sha256: str,
        expires_at: datetime,
        password_hash: str,
        actor: records.Operator,
    ) -> ApiKeyInfo:
        with transaction(self._sessions) as session:
            # The actor's row first, then the table: the order every writer of operators keeps.
            act_as(session, actor, Permission.MANAGE_OPERATORS, self)
            session.execute(text("LOCK TABLE operators IN SHARE ROW EXCLUSIVE MODE"))
            taken = session.scalar(
                select(schema.Operator.id).where(schema.Operator.username == account)
            )
            if taken is not None:
                raise NameTaken(
                    f"an API key or operator called {account} already exists; choose another name"
                )
            now = _now(session)
            if expires_at <= now:
                raise InvalidValue("expires_at is in the past; give a later one")
            operator = schema.Operator(
                username=account, password_hash=password_hash, role=role.value
            )
            session.add(operator)
            session.flush()
            key = schema.ApiKey(
                operator_id=operator.id,
                secret_sha256=secret_sha256,
                created_by=actor.username,
                expires_at=expires_at,
            )
            session.add(key)
            session.flush()
            append_audit(
                session,
                actor.username,
                "api_key.created",
                account,
                {"role": role.value, "expires_at": expires_at.isoformat()},
            )
            return _info(key, operator)

    def api_keys(self, *, actor: records.Operator) -> list[ApiKeyInfo]:
        query = (
            select(schema.ApiKey, schema.Operator)
            .join(schema.Operator, schema.Operator.id == schema.ApiKey.operator_id)
            .order_by(schema.ApiKey.created_at.desc(), schema.ApiKey.id.desc())
        )
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.MANAGE_OPERATORS, self)
            return [_info(key, operator) for key, operator in session.execute(query).all()]

    def revoke_api_key(self, account: str, *, actor: records.Operator) -> ApiKeyInfo:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.MANAGE_OPERATORS, self)
            found = session.execute(
                select(schema.ApiKey, schema.Operator)
                .join(schema.Operator, schema.Operator.id == schema.ApiKey.operator_id)
                .where(schema.Operator.username == account)
                .with_for_update()
            ).first()
            if found is None:
                raise NotFound(f"no API key called {key_name(account)}")
            key, operator = found
            if key.revoked_at is None:
                key.revoked_at = _now(session)
                key.revoked_by = actor.username
                # Its account too, with its sessions: an action that already read the
                # key's account is refused by the store when it checks the epoch.
                operator.disabled = True
                operator.session_epoch += 1
                append_audit(session, actor.username, "api_key.revoked", account, {})
            return _info(key, operator)

    def key_operator(self, secret_sha256: str) -> records.Operator | None:
        query = (
            select(schema.Operator)
            .join(schema.ApiKey, schema.ApiKey.operator_id == schema.Operator.id)
            .where(
                schema.ApiKey.secret_sha256 == secret_sha256,
                schema.ApiKey.revoked_at.is_(None),
                schema.ApiKey.expires_at > func.now(),
                schema.Operator.disabled.is_(False),
            )
        )
        with transaction(self._sessions) as session:
            row = session.scalar(query)
            return operator_record(row) if row is not None else None


def _now(session: Session) -> datetime:
    now = session.scalar(select(func.now()))
    assert now is not None
    return now


def _info(key: schema.ApiKey, operator: schema.Operator) -> ApiKeyInfo:
    return ApiKeyInfo(
        name=key_name(operator.username),
        role=records.Role(operator.role),
        created_by=key.created_by,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        revoked_by=key.revoked_by,
    )
