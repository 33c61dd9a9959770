"""Operator accounts: logging in (throttled) and managing accounts."""

from __future__ import annotations

import re
from functools import cache
from typing import Protocol

from core.accounts.passwords import (
    calibrated_rounds,
    check_password_policy,
    hash_for_policy,
    hash_password,
    verify_password,
)
from core.accounts.permissions import Permission, authorize
from core.accounts.store import OperatorStore
from core.errors import AuthenticationFailed, InvalidValue, LoginLocked, NotAllowed
from core.records import Operator, OperatorSummary, Role
from core.settings import SecuritySettings

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
MAX_USERNAME_LENGTH = 63
BAD_CREDENTIALS = "unknown username or wrong password"


class PasswordVerifier(Protocol):
    def verify(self, password: str, stored: str) -> bool:
        """Whether ``password`` matches the ``stored`` hash."""
        ...


class BcryptVerifier:
    def verify(self, password: str, stored: str) -> bool:
        return verify_password(password, stored)


class Authenticator:
    """Checks credentials at one kiosk, with the login throttle in front.

    An unknown username is answered exactly like a wrong password: the same
    message, the same bcrypt work, and the same throttle, which counts
    failures per typed username whether or not that operator exists. Each
    attempt is counted before its password is checked, so parallel guesses get
    no more checks than sequential ones.
    """

    def __init__(
        self,
        store: OperatorStore,
        policy: SecuritySettings,
        kiosk_id: str,
        verifier: PasswordVerifier | None = None,
    ) -> None:
        self._store = store
        self._policy = policy
        self._kiosk_id = kiosk_id
        self._verifier: PasswordVerifier = verifier if verifier is not None else BcryptVerifier()

    def create_first_admin(self, username: str, password: str) -> Operator:
        username = normalise_username(username)
        check_password_policy(password, username)
        return self._store.add_first_operator(username, self._hash(password), Role.ADMIN)

    def authenticate(self, username: str, password: str) -> Operator:
        """The operator, with the session epoch their session will carry.

        Raises LoginLocked (before any check) while the username or this kiosk
        is locked, AuthenticationFailed (or LoginLocked, if this failure locked
        it) for a wrong password, an unknown username or a disabled account.
        """
        key = throttle_key(username)
        attempt = self._store.reserve_login_attempt(key, self._kiosk_id, self._policy)
        operator = self._store.find_operator(key)
        stored = (
            operator.password_hash
            if operator is not None
            else _decoy_hash(
                calibrated_rounds(self._policy.bcrypt_target_ms, self._policy.bcrypt_min_rounds)
            )
        )
        valid = self._verifier.verify(password, stored)
        if operator is None or not valid or operator.disabled:
            self._store.record_login_failure(attempt)
            try:
                attempt.gate.check()
            except LoginLocked as locked:
                raise LoginLocked(f"{BAD_CREDENTIALS}; {locked}", locked.retry_at) from None
            raise AuthenticationFailed(BAD_CREDENTIALS)
        self._store.record_login_success(attempt)
        return operator

    def _hash(self, password: str) -> str:
        return _hash(password, self._policy)


class OperatorService:
    """Adding, changing and disabling operators; admins only, except one's own password."""

    def __init__(self, store: OperatorStore, policy: SecuritySettings) -> None:
        self._store = store
        self._policy = policy

    def add(self, actor: Operator, username: str, role: Role, password: str) -> Operator:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        username = normalise_username(username)
        check_password_policy(password, username)
        return self._store.add_operator(username, self._hash(password), role, actor)

    def operators(self, actor: Operator) -> list[OperatorSummary]:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        return self._store.operators(actor=actor)

    def reset_password(self, actor: Operator, username: str, password: str) -> None:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        username = normalise_username(username)
        check_password_policy(password, username)
        self._store.update_operator(
            username, actor, "operator.reset_password", password_hash=self._hash(password)
        )

    def set_role(self, actor: Operator, username: str, role: Role) -> None:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        username = normalise_username(username)
        if username == actor.username and role is not Role.ADMIN:
            raise NotAllowed("an admin cannot take away their own admin role; ask another admin")
        self._store.update_operator(username, actor, "operator.set_role", role=role)

    def set_disabled(self, actor: Operator, username: str, disabled: bool) -> None:
        authorize(actor, Permission.MANAGE_OPERATORS, self._store)
        username = normalise_username(username)
        if disabled and username == actor.username:
            raise NotAllowed("an admin cannot disable their own account; ask another admin")
        action = "operator.disable" if disabled else "operator.enable"
        self._store.update_operator(username, actor, action, disabled=disabled)

    def change_own_password(self, actor: Operator, new_password: str) -> None:
        """Any operator, for their own account; ``actor`` has just proven the old password."""
        if actor.disabled:
            self._store.record_denial(actor, "change_own_password")
            raise NotAllowed(f"operator {actor.username} is disabled")
        check_password_policy(new_password, actor.username)
        if verify_password(new_password, actor.password_hash):
            raise InvalidValue("the new password is the same as the old one")
        self._store.update_operator(
            actor.username,
            actor,
            "operator.change_password",
            password_hash=self._hash(new_password),
        )

    def _hash(self, password: str) -> str:
        return _hash(password, self._policy)


def _hash(password: str, policy: SecuritySettings) -> str:
    return hash_for_policy(password, policy.bcrypt_target_ms, policy.bcrypt_min_rounds)


@cache
def _decoy_hash(rounds: int) -> str:
    """Checked when the username is unknown, at the cost real hashes have, so timing
    reveals nothing."""
    return hash_password("decoy password that never matches", rounds)


def throttle_key(username: str) -> str:
    """The typed username as the throttle counts it, valid or not."""
    return username.strip().lower()[:MAX_USERNAME_LENGTH]


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise InvalidValue(
            f"username {username!r} is not valid: use 2-63 lower-case letters, digits, '.', '_'"
            " or '-', starting with a letter or digit"
        )
    return name
