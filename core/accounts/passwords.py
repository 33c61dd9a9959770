"""Operator password hashing and the minimum password policy."""

from __future__ import annotations

import base64
import hashlib
import importlib.resources
import math
import time
from functools import cache

import bcrypt

from core.errors import PasswordRejected

SCHEME = "bcrypt-sha256$"
MIN_PASSWORD_LENGTH = 12
DEFAULT_ROUNDS = 12
_PROBE_ROUNDS = 10
_MAX_ROUNDS = 20


def check_password_policy(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejected(
            f"password has {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}"
        )
    folded = _fold(password)
    if folded in _common_passwords():
        raise PasswordRejected("that password is on the list of common passwords; choose another")
    if username and _fold(username) in folded:
        raise PasswordRejected("the password contains the username; choose another")


@cache
def calibrated_rounds(target_ms: float, min_rounds: int) -> int:
    """The bcrypt cost whose hash takes closest to ``target_ms`` here, at least ``min_rounds``.

    Measured once per process at a cheap cost and scaled: each round doubles the time.
    """
    started = time.perf_counter()
    bcrypt.hashpw(b"calibration", bcrypt.gensalt(_PROBE_ROUNDS))
    probe_ms = max((time.perf_counter() - started) * 1000, 1e-3)
    ideal = _PROBE_ROUNDS + math.log2(target_ms / probe_ms)
    return max(min_rounds, min(_MAX_ROUNDS, round(ideal)))


def hash_for_policy(password: str, target_ms: float, min_rounds: int) -> str:
    """Hash at the cost calibrated for this machine."""
    return hash_password(password, calibrated_rounds(target_ms, min_rounds))


def hash_password(password: str, rounds: int = DEFAULT_ROUNDS) -> str:
    return SCHEME + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def verify_password(password: str, stored: str) -> bool:
    if not stored.startswith(SCHEME):
        return False
    try:
        return bcrypt.checkpw(_prehash(password), stored[len(SCHEME) :].encode("ascii"))
    except ValueError:  # a malformed stored hash never matches
        return False


def _fold(text: str) -> str:
    return "".join(text.lower().split())


@cache
def _common_passwords() -> frozenset[str]:
    listing = importlib.resources.files("resources") / "passwords" / "common.txt"
    lines = listing.read_text(encoding="utf-8").splitlines()
    return frozenset(_fold(line) for line in lines if line.strip() and not line.startswith("#"))


def _prehash(password: str) -> bytes:
    # bcrypt reads only 72 bytes. OWASP: pre-hash, then base64 so no NUL byte
    # reaches bcrypt; every password, long or short, goes the same way.
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())
