"""The audit log on the real database: refused changes, and changes that bypass the guard."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from core.accounts.operators import Authenticator
from core.administration.audit import AuditService
from core.records import Operator
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.operator_store import SqlOperatorStore


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "door").create_first_admin(
        "alice", "tall-ladder-orange-77"
    )


@pytest.fixture
def many_events(operator_store: SqlOperatorStore, admin: Operator) -> None:
    for i in range(12):
        operator_store.update_operator("alice", admin, f"test.event{i}", disabled=False)


def as_owner(engine: Engine, *statements: str) -> None:
    """What someone holding the database owner's password could do."""
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))  # triggers off
        for statement in statements:
            connection.execute(text(statement))


def test_a_sound_log_verifies(audit_log: SqlAuditLog, admin: Operator, many_events: None) -> None:
    report = AuditService(audit_log).verify(admin)
    assert report.broken is None
    assert report.checked == 13


def test_a_row_changed_with_plain_sql_is_reported(
    audit_log: SqlAuditLog, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    as_owner(db_engine, "UPDATE audit_events SET actor = 'mallory' WHERE id = 5")
    report = AuditService(audit_log).verify(admin)
    assert report.broken is not None
    assert report.broken.event_id == 5
    assert report.checked == 4


def test_a_deleted_row_is_reported(
    audit_log: SqlAuditLog, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    as_owner(db_engine, "DELETE FROM audit_events WHERE id = 7")
    report = AuditService(audit_log).verify(admin)
    assert report.broken is not None
    assert report.broken.event_id == 8


def test_concurrent_appends_keep_one_chain(
    operator_store: SqlOperatorStore, audit_log: SqlAuditLog, admin: Operator
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def touch(i: int) -> None:
        operator_store.update_operator("alice", admin, f"test.parallel{i}", disabled=False)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(touch, range(20)))
    report = AuditService(audit_log).verify(admin)
    assert report.broken is None
    assert report.checked == 21
