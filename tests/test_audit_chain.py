"""The audit and access chains on the real database, tampered with as its superuser.

Every tampering here runs as psql would: plain SQL on a raw connection as the
embedded server's superuser, with the append-only triggers switched off.
"""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from core.accounts.operators import Authenticator
from core.administration.audit import AuditService
from core.administration.chains import (
    GENESIS_HASH,
    access_chain_hash,
    chain_hash,
    verify_access_chain,
    verify_chain,
)
from core.errors import NotAllowed
from core.log_records import AnchorStatus
from core.records import AccessDecision, AccessOutcome, DecisionSource, Operator
from core.settings import SecuritySettings, SpoolSettings
from storage.audit_log import REANCHORED_ACTION, SqlAuditLog
from storage.chain_anchor import ChainAnchor
from storage.embedded import EmbeddedServer
from storage.event_chains import EVENT_CHAINS_LOCK, attach_anchor
from storage.event_log import ResilientEventLog
from storage.identity_store import SqlIdentityStore
from storage.migrate import alembic_config, upgrade
from storage.operator_store import SqlOperatorStore
from storage.spool import EventSpool

AUDIT_EVENTS = 13  # the admin's creation and 12 changes


@pytest.fixture
def anchor(db_engine: Engine, tmp_path: Path) -> ChainAnchor:
    """The anchor a kiosk keeps in its data folder, advanced by every append on db_engine."""
    data_dir = tmp_path / "kiosk-data"
    data_dir.mkdir()
    kept = ChainAnchor(data_dir / "audit", "test-database", lock_timeout_s=5.0)
    attach_anchor(db_engine, kept)
    return kept


@pytest.fixture
def audit(db_engine: Engine, anchor: ChainAnchor) -> AuditService:
    return AuditService(SqlAuditLog(db_engine, anchor))


@pytest.fixture
def admin(operator_store: SqlOperatorStore, anchor: ChainAnchor) -> Operator:
    return Authenticator(operator_store, SecuritySettings(), "door").create_first_admin(
        "alice", "tall-ladder-orange-77"
    )


@pytest.fixture
def many_events(operator_store: SqlOperatorStore, admin: Operator) -> None:
    for i in range(12):
        operator_store.update_operator("alice", admin, f"test.event{i}", disabled=False)


@pytest.fixture
def person(db_engine: Engine) -> uuid.UUID:
    with db_engine.begin() as connection:
        found = connection.scalar(
            text("INSERT INTO people (display_name) VALUES ('Pat') RETURNING id")
        )
    assert isinstance(found, uuid.UUID)
    return found


def decision(
    outcome: AccessOutcome,
    person: uuid.UUID | None,
    similarity: float | None,
    latency_ms: float,
    source: DecisionSource = DecisionSource.DOOR,
) -> AccessDecision:
    return AccessDecision(
        kiosk_id="door-1",
        outcome=outcome,
        latency_ms=latency_ms,
        person_id=person,
        similarity=similarity,
        source=source,
    )


@pytest.fixture
def decisions(
    identity_store: SqlIdentityStore, anchor: ChainAnchor, person: uuid.UUID
) -> list[AccessDecision]:
    made = [
        *(decision(AccessOutcome.UNKNOWN, None, 0.21 + i / 100, 40.0 + i) for i in range(6)),
        decision(AccessOutcome.GRANTED, person, 0.81, 52.5),
        decision(AccessOutcome.GRANTED, person, 0.83, 70.0, DecisionSource.CLI),
        decision(AccessOutcome.LIVENESS_FAILED, person, 0.79, 61.25),
    ]
    for made_here in made:
        identity_store.record_access(made_here)
    return made


def as_owner(engine: Engine, *statements: str) -> None:
    """What someone holding the database superuser's password could do."""
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))  # triggers off
        for statement in statements:
            connection.execute(text(statement))


def rewrite_audit_and_rechain(engine: Engine, event_id: int, actor: str) -> None:
    """Change one audit event and recompute every later hash, as an attacker with
    this repository's code would."""
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))
        connection.execute(
            text("UPDATE audit_events SET actor = :actor WHERE id = :id"),
            {"actor": actor, "id": event_id},
        )
        rows = connection.execute(
            text(
                "SELECT id, occurred_at, actor, action, target, details "
                "FROM audit_events ORDER BY id"
            )
        ).all()
        prev = GENESIS_HASH
        for row in rows:
            digest = chain_hash(
                prev, row.occurred_at, row.actor, row.action, row.target, row.details
            )
            connection.execute(
                text("UPDATE audit_events SET prev_hash = :prev, hash = :hash WHERE id = :id"),
                {"prev": prev, "hash": digest, "id": row.id},
            )
            prev = digest


def rewrite_access_and_rechain(engine: Engine, event_id: int, outcome: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))
        connection.execute(
            text("UPDATE access_events SET outcome = :outcome WHERE id = :id"),
            {"outcome": outcome, "id": event_id},
        )
        rows = connection.execute(text("SELECT * FROM access_events ORDER BY id")).all()
        prev = GENESIS_HASH
        for row in rows:
            digest = access_chain_hash(
                prev,
                row.event_id,
                row.occurred_at,
                row.kiosk_id,
                row.outcome,
                row.person_id,
                row.similarity,
                row.latency_ms,
                row.source,
            )
            connection.execute(
                text("UPDATE access_events SET prev_hash = :prev, hash = :hash WHERE id = :id"),
                {"prev": prev, "hash": digest, "id": row.id},
            )
            prev = digest


def newest_ids(engine: Engine, table: str, count: int) -> list[int]:
    with engine.connect() as connection:
        return list(
            connection.scalars(
                text(f"SELECT id FROM {table} ORDER BY id DESC LIMIT :n"), {"n": count}
            )
        )


# --- links: what the chain shows by itself ---------------------------------------------------


def test_a_sound_log_verifies_against_its_anchor(
    audit: AuditService, admin: Operator, many_events: None, decisions: list[AccessDecision]
) -> None:
    report = audit.verify(admin)
    assert report.intact, report.problems
    assert report.anchor.status is AnchorStatus.ANCHORED
    assert report.audit.checked == AUDIT_EVENTS
    assert report.audit.expected is not None
    assert report.audit.expected.count == AUDIT_EVENTS
    assert report.access.checked == len(decisions)
    assert report.access.expected is not None
    assert report.access.expected.count == len(decisions)


def test_a_row_changed_with_plain_sql_is_reported(
    audit: AuditService, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    as_owner(db_engine, "UPDATE audit_events SET actor = 'mallory' WHERE id = 5")
    report = audit.verify(admin).audit
    assert report.broken is not None
    assert report.broken.event_id == 5
    assert report.checked == 4


def test_a_deleted_row_is_reported(
    audit: AuditService, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    as_owner(db_engine, "DELETE FROM audit_events WHERE id = 7")
    report = audit.verify(admin).audit
    assert report.broken is not None
    assert report.broken.event_id == 8


def test_an_access_decision_changed_with_plain_sql_is_reported(
    audit: AuditService, admin: Operator, decisions: list[AccessDecision], db_engine: Engine
) -> None:
    (target,) = newest_ids(db_engine, "access_events", len(decisions))[-3:-2]
    as_owner(db_engine, f"UPDATE access_events SET outcome = 'granted' WHERE id = {target}")
    report = audit.verify(admin)
    assert report.access.broken is not None
    assert report.access.broken.event_id == target
    assert f"access event {target}" in " ".join(report.problems)


@pytest.mark.parametrize(
    "change",
    [
        "similarity = 0.93",
        "latency_ms = 1.5",
        "kiosk_id = 'door-9'",
        "occurred_at = occurred_at - interval '1 hour'",
        "event_id = gen_random_uuid()",
        "person_id = NULL",
        "outcome = 'granted'",
        "source = 'cli'",
    ],
)
def test_every_field_of_an_access_event_is_covered(
    change: str,
    audit: AuditService,
    admin: Operator,
    decisions: list[AccessDecision],
    db_engine: Engine,
) -> None:
    (target,) = newest_ids(db_engine, "access_events", 1)
    as_owner(db_engine, f"UPDATE access_events SET {change} WHERE id = {target}")
    broken = audit.verify(admin).access.broken
    assert broken is not None
    assert broken.event_id == target


def test_a_cli_identification_made_a_door_decision_is_reported(
    audit: AuditService,
    admin: Operator,
    decisions: list[AccessDecision],
    db_engine: Engine,
) -> None:
    """Only a door's grant extends a person's retention: the source is hashed, so
    turning ``kiosk-admin identify`` into a door's grant with psql shows."""
    with db_engine.connect() as connection:
        (cli,) = connection.scalars(text("SELECT id FROM access_events WHERE source = 'cli'"))
    as_owner(db_engine, f"UPDATE access_events SET source = 'door' WHERE id = {cli}")
    broken = audit.verify(admin).access.broken
    assert broken is not None
    assert broken.event_id == cli


# --- the anchor: what links alone cannot show -------------------------------------------------


def test_deleting_the_newest_audit_events_is_reported_with_the_counts(
    audit: AuditService, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    newest = newest_ids(db_engine, "audit_events", 3)
    as_owner(db_engine, f"DELETE FROM audit_events WHERE id IN ({', '.join(map(str, newest))})")
    report = audit.verify(admin)
    broken = report.audit.broken
    assert broken is not None
    assert broken.against_anchor
    assert report.audit.expected is not None
    assert report.audit.expected.count == AUDIT_EVENTS
    assert report.audit.end.count == AUDIT_EVENTS - 3
    assert f"expects {AUDIT_EVENTS} event(s)" in str(broken)
    assert f"holds only {AUDIT_EVENTS - 3}" in str(broken)


@pytest.mark.parametrize("table", ["audit_events", "access_events"])
def test_emptying_a_log_with_truncate_is_reported(
    table: str,
    audit: AuditService,
    admin: Operator,
    many_events: None,
    decisions: list[AccessDecision],
    db_engine: Engine,
) -> None:
    as_owner(db_engine, f"TRUNCATE {table}")
    report = audit.verify(admin)
    chain = report.audit if table == "audit_events" else report.access
    assert chain.broken is not None
    assert chain.broken.against_anchor
    assert chain.end.count == 0
    assert "holds only 0" in str(chain.broken)
    assert not report.intact


def test_rewriting_an_audit_event_and_every_later_hash_is_reported(
    audit: AuditService, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    rewrite_audit_and_rechain(db_engine, 5, "mallory")
    report = audit.verify(admin).audit
    assert report.checked == AUDIT_EVENTS  # every link holds: only the anchor shows it
    assert report.broken is not None
    assert report.broken.against_anchor
    assert report.expected is not None
    assert report.found is not None
    assert report.found.count == report.expected.count == AUDIT_EVENTS
    assert report.found.hash != report.expected.hash
    assert "rewritten" in str(report.broken)


def test_rewriting_an_access_decision_and_every_later_hash_is_reported(
    audit: AuditService, admin: Operator, decisions: list[AccessDecision], db_engine: Engine
) -> None:
    first = min(newest_ids(db_engine, "access_events", len(decisions)))
    rewrite_access_and_rechain(db_engine, first, "granted")
    report = audit.verify(admin).access
    assert report.checked == len(decisions)
    assert report.broken is not None
    assert report.broken.against_anchor
    assert "rewritten" in str(report.broken)


def test_a_cut_log_is_never_anchored_over_by_later_appends(
    audit: AuditService,
    admin: Operator,
    many_events: None,
    operator_store: SqlOperatorStore,
    db_engine: Engine,
) -> None:
    as_owner(db_engine, "TRUNCATE audit_events")
    for i in range(AUDIT_EVENTS + 5):  # the log grows back past the anchored count
        operator_store.update_operator("alice", admin, f"test.after{i}", disabled=False)
    report = audit.verify(admin).audit
    assert report.broken is not None
    assert report.broken.against_anchor
    assert report.expected is not None
    assert report.expected.count == AUDIT_EVENTS


def test_an_anchor_file_edited_without_the_key_is_reported(
    audit: AuditService, admin: Operator, many_events: None, anchor: ChainAnchor
) -> None:
    path = Path(anchor.where)
    document = json.loads(path.read_text())
    document["databases"]["test-database"]["audit"]["count"] = 3
    path.write_text(json.dumps(document))
    report = audit.verify(admin)
    assert report.anchor.status is AnchorStatus.UNTRUSTED
    assert "fails its signature" in " ".join(report.problems)
    assert not report.intact


def test_a_deleted_anchor_file_is_reported(
    audit: AuditService, admin: Operator, many_events: None, anchor: ChainAnchor
) -> None:
    Path(anchor.where).unlink()
    report = audit.verify(admin)
    assert report.anchor.status is AnchorStatus.UNTRUSTED
    assert "missing although its key" in " ".join(report.problems)


def test_the_anchor_is_owner_only(admin: Operator, anchor: ChainAnchor) -> None:
    folder = Path(anchor.where).parent
    assert folder.stat().st_mode & 0o777 == 0o700
    for name in ("anchor.json", "anchor.key", "anchor.lock"):
        assert (folder / name).stat().st_mode & 0o777 == 0o600, name


# --- re-anchoring: the way back once a failure was dealt with ---------------------------------


def test_an_admin_re_anchors_an_emptied_log_and_it_verifies_again(
    audit: AuditService,
    admin: Operator,
    many_events: None,
    db_engine: Engine,
    audit_log: SqlAuditLog,
    anchor: ChainAnchor,
) -> None:
    as_owner(db_engine, "TRUNCATE audit_events")
    before = audit.reanchor(admin)
    assert before.audit.broken is not None
    after = audit.verify(admin)
    assert after.intact, after.problems
    (event,) = audit_log.audit_events(10, actor=admin)
    assert event.action == REANCHORED_ACTION
    assert event.details["audit"] == {
        "expected": {"count": AUDIT_EVENTS, "hash": before.audit.expected.hash},  # type: ignore[union-attr]
        "found": {"count": 0, "hash": GENESIS_HASH},
        "problem": str(before.audit.broken),
    }
    kept = [p for p in Path(anchor.where).parent.iterdir() if p.name.startswith("anchor.replaced")]
    assert len(kept) == 1


def test_re_anchoring_is_refused_while_a_link_is_broken(
    audit: AuditService, admin: Operator, many_events: None, db_engine: Engine
) -> None:
    as_owner(db_engine, "UPDATE audit_events SET actor = 'mallory' WHERE id = 5")
    with pytest.raises(NotAllowed, match="cannot re-anchor: audit event 5"):
        audit.reanchor(admin)


# --- appends in parallel ----------------------------------------------------------------------


@pytest.mark.slow
def test_concurrent_appends_keep_one_chain_and_its_anchor(
    operator_store: SqlOperatorStore,
    identity_store: SqlIdentityStore,
    audit: AuditService,
    admin: Operator,
) -> None:
    def touch(i: int) -> None:
        if i % 2:
            operator_store.update_operator("alice", admin, f"test.parallel{i}", disabled=False)
        else:
            identity_store.record_access(decision(AccessOutcome.NO_FACE, None, None, 9.0))

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(touch, range(40)))
    report = audit.verify(admin)
    assert report.intact, report.problems
    assert report.audit.checked == 21
    assert report.access.checked == 20
    assert report.audit.expected is not None
    assert report.access.expected is not None


def test_a_grant_waits_for_an_erasure_of_its_person_without_holding_the_chain(
    identity_store: SqlIdentityStore,
    audit: AuditService,
    admin: Operator,
    person: uuid.UUID,
    db_engine: Engine,
) -> None:
    """An erasure locks the person, then appends to the chain. A grant for that
    person must wait for the person before taking the chain lock; holding the
    chain while it waits, each would wait for the other (a deadlock)."""
    grant = decision(AccessOutcome.GRANTED, person, 0.8, 9.0)
    with db_engine.connect() as erasure, ThreadPoolExecutor(max_workers=1) as pool:
        erasure.execute(text("SELECT id FROM people WHERE id = :id FOR UPDATE"), {"id": person})
        door = pool.submit(identity_store.record_access, grant)
        wait_until_a_backend_waits_for_a_lock(db_engine)
        erasure.execute(text("SET LOCAL lock_timeout = '10s'"))
        erasure.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_CHAINS_LOCK})
        erasure.commit()
        door.result(timeout=30)
    report = audit.verify(admin)
    assert report.intact, report.problems
    assert report.access.checked == 1


def test_a_spooled_batch_waits_for_its_people_before_taking_the_chain(
    db_engine: Engine,
    audit: AuditService,
    admin: Operator,
    person: uuid.UUID,
    tmp_path: Path,
) -> None:
    """A flush stores its batch in one transaction: every person it names is locked
    before its first append, so a batch whose first event names no one does not hold
    the chain while it waits for an erasure that waits for the chain."""
    batch = [
        decision(AccessOutcome.UNKNOWN, None, 0.2, 30.0),
        decision(AccessOutcome.GRANTED, person, 0.8, 31.0),
    ]
    with EventSpool(tmp_path / "spool" / "events.jsonl", SpoolSettings()) as spool:
        for spooled in batch:
            spool.append(spooled)
        events = ResilientEventLog(db_engine, spool, "door-1")
        with db_engine.connect() as erasure, ThreadPoolExecutor(max_workers=1) as pool:
            erasure.execute(text("SELECT id FROM people WHERE id = :id FOR UPDATE"), {"id": person})
            flushing = pool.submit(events.flush)
            wait_until_a_backend_waits_for_a_lock(db_engine)
            erasure.execute(text("SET LOCAL lock_timeout = '10s'"))
            erasure.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVENT_CHAINS_LOCK})
            erasure.commit()
            assert flushing.result(timeout=30) == len(batch)
    report = audit.verify(admin)
    assert report.intact, report.problems
    assert report.access.checked == len(batch)


def wait_until_a_backend_waits_for_a_lock(engine: Engine) -> None:
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + 30
    with engine.connect() as watcher:
        while not watcher.scalar(query):
            assert time.monotonic() < deadline, "the grant never waited for the person"
            watcher.rollback()
            time.sleep(0.01)


# --- migration 0010 on a database that already holds events ----------------------------------


def test_upgrading_numbers_and_chains_the_events_already_stored(
    pg_server: EmbeddedServer, admin_engine: Engine
) -> None:
    from tests.test_store import database_at

    old_access = 2_500  # more than one batch of the migration
    with database_at(pg_server, admin_engine, "0009") as engine:
        with engine.begin() as connection:
            prev = GENESIS_HASH
            for i in range(3):
                at = connection.scalar(text("SELECT clock_timestamp()"))
                digest = chain_hash(prev, at, "alice", f"old.event{i}", None, {"n": i})
                connection.execute(
                    text(
                        "INSERT INTO audit_events (occurred_at, actor, action, details, "
                        "prev_hash, hash) VALUES (:at, 'alice', :action, :details, :prev, :hash)"
                    ),
                    {
                        "at": at,
                        "action": f"old.event{i}",
                        "details": json.dumps({"n": i}),
                        "prev": prev,
                        "hash": digest,
                    },
                )
                prev = digest
            # Every tenth one a CLI identification: the chain must cover the source.
            connection.execute(
                text(
                    "INSERT INTO access_events (kiosk_id, outcome, similarity, latency_ms, source) "
                    "SELECT 'door-1', 'unknown', random(), random() * 100, "
                    "CASE WHEN n % 10 = 0 THEN 'cli' ELSE 'door' END "
                    "FROM generate_series(1, :n) AS n"
                ),
                {"n": old_access},
            )
            # Who reads the chains; an operator row as 0009 holds it, written without an event.
            connection.execute(
                text(
                    "INSERT INTO operators (username, password_hash, role) "
                    "VALUES ('alice', 'not a hash', 'admin')"
                )
            )
        upgrade(engine)
        reader = SqlOperatorStore(engine).find_operator("alice")
        assert reader is not None
        log = SqlAuditLog(engine)
        audit = verify_chain(log.audit_chain(actor=reader))
        access = verify_access_chain(log.access_chain(actor=reader))
        assert (audit.broken, audit.checked) == (None, 3)
        assert (access.broken, access.checked) == (None, old_access)
        with engine.connect() as connection:
            for table, count in (("audit_events", 3), ("access_events", old_access)):
                numbers = connection.scalars(text(f"SELECT seq FROM {table} ORDER BY id")).all()
                assert numbers == list(range(1, count + 1))
            (first_cli,) = connection.scalars(
                text("SELECT min(id) FROM access_events WHERE source = 'cli'")
            )
        with engine.begin() as connection:  # as as_owner, but not left on a pooled connection
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            connection.execute(
                text("UPDATE access_events SET source = 'door' WHERE id = :id"), {"id": first_cli}
            )
        changed = verify_access_chain(log.access_chain(actor=reader))
        assert changed.broken is not None
        assert changed.broken.event_id == first_cli
        with engine.connect() as connection:
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text("DELETE FROM access_events"))
            connection.rollback()
            command.downgrade(alembic_config(connection), "0009")
            connection.commit()
