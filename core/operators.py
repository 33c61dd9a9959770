"""Operator accounts: the first admin and password authentication."""

from __future__ import annotations

import re
from functools import cache

from core.errors import AuthenticationFailed, InvalidValue, NotAllowed
from core.passwords import check_password_policy, hash_password, verify_password
from core.records import Operator, Role
from core.store import IdentityStore

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,62}$")
_BAD_CREDENTIALS = "unknown username or wrong password"


class Authenticator:
    """Checks operator credentials; an unknown user costs the same as a wrong password."""

    def __init__(self, store: IdentityStore) -> None:
        self._store = store

    def create_first_admin(self, username: str, password: str) -> Operator:
        username = normalise_username(username)
        check_password_policy(password)
        return self._store.add_first_operator(username, hash_password(password), Role.ADMIN)

    def authenticate(self, username: str, password: str) -> Operator:
        operator = self._store.find_operator(username.strip().lower())
        stored = operator.password_hash if operator is not None else _decoy_hash()
        valid = verify_password(password, stored)
        if operator is None or not valid or operator.disabled:
            raise AuthenticationFailed(_BAD_CREDENTIALS)
        return operator


@cache
def _decoy_hash() -> str:
    """Checked when the username is unknown, so timing reveals nothing."""
    return hash_password("decoy password that never matches")


def normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME_PATTERN.match(name):
        raise InvalidValue(
            f"username {username!r} is not valid: use 2-63 lower-case letters, digits, '.', '_'"
            " or '-', starting with a letter or digit"
        )
    return name


def require_role(operator: Operator, action: str, allowed: frozenset[Role]) -> None:
    if operator.role not in allowed:
        raise NotAllowed(f"operator {operator.username} ({operator.role}) may not {action}")
