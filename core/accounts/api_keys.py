"""API keys for machine clients of kiosk-server (an HR system, a camera, a dashboard).

A key is a random secret shown once, when an admin creates it; only its SHA-256 is
stored. Each key acts through an operator account of its own, named
``apikey.<name>``, with the key's role and a password no login can match: so every
permission check, in the services and again in each store transaction, reads that
account's row exactly as it reads a person's, and the audit log names the key as
the actor. Revoking a key disables that account and ends its sessions in the same
transaction, so a request that races the revocation is refused by the store.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from core.accounts.permissions import Permission, authorize
from core.errors import AuthenticationFailed, InvalidValue, NotAllowed
from core.records import Operator, Role
from core.store import DenialLog

KEY_PREFIX = "fkk_"
"""What every key starts with, so a client (and a secret scanner) tells it from a token."""
ACCOUNT_PREFIX = "apikey."
"""The key's operator account is ACCOUNT_PREFIX + its name."""
NO_PASSWORD = "!api-key: this account never logs in with a password"
"""The key account's password hash: not a bcrypt hash, so no password verifies."""
_SECRET_BYTES = 32
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{1,40}$")
# A presented key is at most this long; anything longer is refused unhashed.
_MAX_KEY_CHARS = 128
BAD_KEY = "the API key is unknown, revoked or expired; ask an admin for a new one"


@dataclass(frozen=True)
class ApiKeyInfo:
    """A key as it is listed: never its secret."""

    name: str
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None

    @property
    def account(self) -> str:
        return ACCOUNT_PREFIX + self.name


@dataclass(frozen=True)
class NewApiKey:
    info: ApiKeyInfo
    secret: str
    """The key itself: shown to the admin once, never stored or logged."""


class ApiKeyStore(DenialLog, Protocol):
    """What API keys need from storage (storage.api_key_store); each call one transaction."""

    def add_api_key(
        self,
        *,
        account: str,
        role: Role,
        secret_sha256: str,
        expires_at: datetime,
        password_hash: str,
        actor: Operator,
    ) -> ApiKeyInfo:
        """The key and its operator account, audited (``api_key.created``). Raises
        NotAllowed if ``actor`` may not manage operators now or the name is taken,
        InvalidValue if ``expires_at`` is not after the database's clock."""
        ...

    def api_keys(self, *, actor: Operator) -> list[ApiKeyInfo]:
        """Every key, revoked and expired ones included, newest first."""
        ...

    def revoke_api_key(self, account: str, *, actor: Operator) -> ApiKeyInfo:
        """Revoke the key and disable its account (its sessions end), audited
        (``api_key.revoked``). Raises NotFound for no such key."""
        ...

    def key_operator(self, secret_sha256: str) -> Operator | None:
        """The account of the key with this hash if it is neither revoked nor expired
        (by the database's clock) and its account is enabled; else None."""
        ...


def key_hash(secret: str) -> str:
    """The hex SHA-256 kept for ``secret``. A random 256-bit secret needs no salt or
    slow hash: nothing about it can be guessed from a dictionary."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def check_key_name(name: str) -> str:
    """``name`` as a key is named: 2-41 lower-case letters, digits, '_' or '-'."""
    cleaned = name.strip().lower()
    if not _NAME.match(cleaned):
        raise InvalidValue(
            f"API key name {name!r} is not valid: use 2-41 lower-case letters, digits, '_' "
            "or '-', starting with a letter or digit (e.g. hr-sync)"
        )
    return cleaned


def is_api_key(operator: Operator) -> bool:
    """Whether ``operator`` is a key's account (a machine client), not a person's."""
    return operator.username.startswith(ACCOUNT_PREFIX)


def key_name(account: str) -> str:
    """The key's name from its account's username."""
    return account.removeprefix(ACCOUNT_PREFIX)


class ApiKeyService:
    """Creating, listing and revoking keys (admins), and finding a key's account."""

    def __init__(self, store: ApiKeyStore) -> None:
        self._store = store

    def create(self, actor: Operator, name: str, role: Role, expires_at: datetime) -> NewApiKey:
        """A new key; ``expires_at`` must be timezone-aware. Raises NotAllowed (also
        when ``actor`` is itself an API key: only a person logged in as an admin makes
        keys, so a leaked admin key cannot mint others that outlive its revocation),
        InvalidValue (a bad name, an expiry without a zone or in the past)."""
        if is_api_key(actor):
            raise NotAllowed(
                f"{actor.username} is an API key, and an API key may not create API keys: "
                "an admin logs in (POST /token or kiosk-admin) to make one"
            )
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        cleaned = check_key_name(name)
        if expires_at.tzinfo is None:
            raise InvalidValue("an API key's expiry needs a time zone")
        secret = KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)
        info = self._store.add_api_key(
            account=ACCOUNT_PREFIX + cleaned,
            role=role,
            secret_sha256=key_hash(secret),
            expires_at=expires_at,
            password_hash=NO_PASSWORD,
            actor=actor,
        )
        return NewApiKey(info, secret)

    def keys(self, actor: Operator) -> list[ApiKeyInfo]:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        return self._store.api_keys(actor=actor)

    def revoke(self, actor: Operator, name: str) -> ApiKeyInfo:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        return self._store.revoke_api_key(ACCOUNT_PREFIX + check_key_name(name), actor=actor)

    def authenticate(self, presented: str) -> Operator:
        """The account ``presented`` acts as; raises AuthenticationFailed for a key that
        is malformed, unknown, revoked or expired, or whose account is disabled."""
        if not presented.startswith(KEY_PREFIX) or len(presented) > _MAX_KEY_CHARS:
            raise AuthenticationFailed(BAD_KEY)
        operator = self._store.key_operator(key_hash(presented))
        if operator is None:
            raise AuthenticationFailed(BAD_KEY)
        return operator
