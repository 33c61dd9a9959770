"""The login throttle, persisted in the real embedded PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from core.accounts.operators import Authenticator, OperatorService
from core.errors import AuthenticationFailed, LoginLocked
from core.records import Operator, Role
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.database import connect
from storage.operator_store import SqlOperatorStore

PASSWORD = "tall-ladder-orange-77"
POLICY = SecuritySettings()


@pytest.fixture
def authenticator(operator_store: SqlOperatorStore) -> Authenticator:
    return Authenticator(operator_store, POLICY, "door-1")


@pytest.fixture
def admin(authenticator: Authenticator) -> Operator:
    return authenticator.create_first_admin("alice", PASSWORD)


def fail(authenticator: Authenticator, username: str) -> AuthenticationFailed:
    with pytest.raises(AuthenticationFailed) as raised:
        authenticator.authenticate(username, "wrong password, again")
    return raised.value


def expire_locks(engine: Engine) -> None:
    """Let the locks run out without waiting for them."""
    with engine.begin() as connection:
        connection.execute(text("UPDATE login_throttle SET locked_until = now() - interval '1 s'"))


def test_five_failures_lock_and_the_sixth_is_told_when_to_retry(
    authenticator: Authenticator, admin: Operator
) -> None:
    for _ in range(4):
        assert not isinstance(fail(authenticator, "alice"), LoginLocked)
    fifth = fail(authenticator, "alice")
    assert isinstance(fifth, LoginLocked)
    assert "unknown username or wrong password" in str(fifth)
    sixth = fail(authenticator, "alice")
    assert isinstance(sixth, LoginLocked)
    assert "try again after" in str(sixth)
    with pytest.raises(LoginLocked):  # even the right password waits
        authenticator.authenticate("alice", PASSWORD)


def test_the_lock_survives_a_restart_of_the_store(
    authenticator: Authenticator, admin: Operator, fresh_database: str
) -> None:
    for _ in range(5):
        fail(authenticator, "alice")
    engine = connect(fresh_database)  # a new engine and new services: as after a restart
    try:
        restarted = Authenticator(SqlOperatorStore(engine), POLICY, "door-2")
        with pytest.raises(LoginLocked, match="try again after"):
            restarted.authenticate("alice", PASSWORD)
    finally:
        engine.dispose()


def test_backoff_doubles_then_success_resets(
    authenticator: Authenticator, admin: Operator, db_engine: Engine
) -> None:
    for _ in range(5):
        fail(authenticator, "alice")
    seconds = []
    for _ in range(3):
        expire_locks(db_engine)
        locked = fail(authenticator, "alice")
        assert isinstance(locked, LoginLocked)
        with db_engine.connect() as connection:
            seconds.append(
                connection.scalar(
                    # From the attempt that locked it: the lock starts before the check.
                    text(
                        "SELECT round(extract(epoch FROM locked_until - last_failure_at)) "
                        "FROM login_throttle"
                    )
                )
            )
    assert [int(s) for s in seconds] == [60, 120, 240]
    expire_locks(db_engine)
    assert authenticator.authenticate("alice", PASSWORD).username == "alice"
    for _ in range(4):  # the count starts again from zero
        assert not isinstance(fail(authenticator, "alice"), LoginLocked)


def test_unknown_usernames_lock_the_same_way_and_locks_are_audited(
    authenticator: Authenticator, admin: Operator, audit_log: SqlAuditLog
) -> None:
    for username in ("alice", "ghost"):
        messages = [str(fail(authenticator, username)) for _ in range(6)]
        assert messages[3] == "unknown username or wrong password"
        assert "try again after" in messages[5]
    locks = [e for e in audit_log.audit_events(50, actor=admin) if e.action == "login.locked"]
    assert {e.target for e in locks} == {"alice", "(unknown username)"}
    assert all(e.actor == "system" for e in locks)


def test_password_spraying_locks_the_kiosk(
    operator_store: SqlOperatorStore, admin: Operator, audit_log: SqlAuditLog
) -> None:
    policy = SecuritySettings(kiosk_login_max_failures=8)
    kiosk = Authenticator(operator_store, policy, "door-9")
    for i in range(8):  # different usernames: none reaches its own limit
        fail(kiosk, f"user{i}")
    with pytest.raises(LoginLocked, match="at this kiosk"):
        kiosk.authenticate("alice", PASSWORD)
    other_kiosk = Authenticator(operator_store, policy, "door-10")
    assert other_kiosk.authenticate("alice", PASSWORD).username == "alice"
    assert any(e.action == "login.kiosk_locked" for e in audit_log.audit_events(50, actor=admin))


def test_a_password_reset_lifts_the_lock(
    authenticator: Authenticator, admin: Operator, operator_store: SqlOperatorStore
) -> None:
    service = OperatorService(operator_store, POLICY)
    service.add(admin, "bob", Role.ENROLLER, "quiet-river-stone-42")
    for _ in range(5):
        fail(authenticator, "bob")
    service.reset_password(admin, "bob", "brown-cedar-window-9")
    assert authenticator.authenticate("bob", "brown-cedar-window-9").username == "bob"
