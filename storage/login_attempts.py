"""The login throttle's counters: reserving an attempt before its password is checked.

The rules are core.accounts.login_throttle's; here they run with the username's
and the kiosk's rows locked (FOR UPDATE, in that order everywhere), in database
time, so parallel attempts from any process or kiosk queue on the rows and each
sees the count the one before left.

Logins are audited: a lock when an attempt starts one, the failure once the
check failed (``login.failed``), a success (``login.succeeded``), each with its
kiosk. Every audit append comes after both rows are locked: the audit chain's
lock is always a transaction's last (storage/event_chains.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.accounts.login_throttle import (
    KioskFailures,
    LoginAttempt,
    UserFailures,
    kiosk_after_success,
    reserve_attempt,
)
from core.settings import SecuritySettings
from storage import schema
from storage.audit_log import SYSTEM_ACTOR, append_audit

UNKNOWN_USERNAME = "(unknown username)"


def reserve(
    session: Session, username: str, kiosk_id: str, policy: SecuritySettings
) -> LoginAttempt:
    """Count one attempt as a failure and return it; raise LoginLocked while locked."""
    user = _locked_row(session, schema.LoginThrottle, {"username": username})
    kiosk = _locked_row(session, schema.KioskLoginThrottle, {"kiosk_id": kiosk_id})
    # Read after the locks: the wait for them may have been long.
    now = _clock(session)
    user_after, attempt = reserve_attempt(
        username,
        kiosk_id,
        UserFailures(user.consecutive_failures, user.locks, user.locked_until),
        KioskFailures(kiosk.window_started_at, kiosk.failures, kiosk.locked_until),
        now,
        policy,
    )
    user.consecutive_failures = user_after.consecutive_failures
    user.locks = user_after.locks
    user.locked_until = user_after.locked_until
    user.last_failure_at = now
    _store_kiosk(kiosk, attempt.kiosk_after)
    if attempt.locked_user:
        assert user_after.locked_until is not None
        append_audit(
            session,
            SYSTEM_ACTOR,
            "login.locked",
            _named(session, username),
            {
                "seconds": round((user_after.locked_until - now).total_seconds()),
                "failures": user_after.consecutive_failures,
            },
        )
    if attempt.locked_kiosk:
        append_audit(
            session,
            SYSTEM_ACTOR,
            "login.kiosk_locked",
            kiosk_id,
            {"seconds": policy.kiosk_login_lock_s},
        )
    return attempt


def take_back(session: Session, attempt: LoginAttempt) -> None:
    """``attempt`` succeeded: the username starts afresh and the kiosk forgets it;
    audited as a login at its kiosk."""
    user = session.get(schema.LoginThrottle, attempt.username, with_for_update=True)
    if user is not None:
        user.consecutive_failures = 0
        user.locks = 0
        user.locked_until = None
    kiosk = session.get(
        schema.KioskLoginThrottle, attempt.kiosk_id, with_for_update=True, populate_existing=True
    )
    if kiosk is not None:
        current = KioskFailures(kiosk.window_started_at, kiosk.failures, kiosk.locked_until)
        _store_kiosk(kiosk, kiosk_after_success(current, attempt))
    append_audit(
        session,
        attempt.username,
        "login.succeeded",
        attempt.username,
        {"kiosk": attempt.kiosk_id},
    )


def audit_failure(session: Session, attempt: LoginAttempt) -> None:
    """``attempt``'s check failed: audited with its kiosk. Its count was kept when it
    was reserved, so this takes no row lock (only the chain's)."""
    append_audit(
        session,
        SYSTEM_ACTOR,
        "login.failed",
        _named(session, attempt.username),
        {"kiosk": attempt.kiosk_id, "failures": attempt.failures},
    )


def _named(session: Session, username: str) -> str:
    """``username`` if an operator has it, else UNKNOWN_USERNAME: a typed username
    can be a password typed in the wrong box, so only real ones are recorded."""
    known = session.scalar(select(schema.Operator.id).where(schema.Operator.username == username))
    return username if known is not None else UNKNOWN_USERNAME


def _locked_row(session: Session, table: Any, key: dict[str, str]) -> Any:
    """The row with primary ``key``, created if missing, locked until commit."""
    defaults = {"window_started_at": func.now()} if table is schema.KioskLoginThrottle else {}
    session.execute(insert(table).values(**key, **defaults).on_conflict_do_nothing())
    (value,) = key.values()
    return session.get(table, value, with_for_update=True, populate_existing=True)


def _store_kiosk(kiosk: schema.KioskLoginThrottle, counted: KioskFailures) -> None:
    kiosk.window_started_at = counted.window_started_at
    kiosk.failures = counted.failures
    kiosk.locked_until = counted.locked_until


def _clock(session: Session) -> datetime:
    now = session.scalar(select(func.clock_timestamp()))
    assert now is not None
    return now
