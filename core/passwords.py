"""Operator password hashing and the minimum password policy."""

from __future__ import annotations

import base64
import hashlib

import bcrypt

from core.errors import InputRejected

SCHEME = "bcrypt-sha256$"
MIN_PASSWORD_LENGTH = 12
DEFAULT_ROUNDS = 12


class PasswordRejected(InputRejected):
    pass


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(
            f"password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}"
        )


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    return SCHEME + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, stored: str) -> bool:
    if not stored.startswith(SCHEME):
        return False
    try:
        return bcrypt.checkpw(_prehash(password), stored[len(SCHEME) :].encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


def _prehash(password: str) -> bytes:
    # bcrypt reads only 72 bytes. OWASP: pre-hash, then base64 so no NUL byte
    # reaches bcrypt; every password, long or short, goes the same way.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())
