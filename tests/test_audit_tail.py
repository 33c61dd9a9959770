"""The ends of the hash chains: events forged after the anchored head, the newest
events deleted, events dated out of order, and a kiosk killed between its commit and
its anchor. On the real embedded server, as a sole writer and as one of many."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from core.accounts.operators import Authenticator
from core.administration.audit import AuditService
from core.administration.chains import access_chain_hash, chain_hash
from core.records import AccessDecision, AccessOutcome, Operator
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.chain_anchor import EMBEDDED_DATABASE, ChainAnchor
from storage.database import connect
from storage.embedded import DATABASE_NAME, EmbeddedServer
from storage.event_chains import attach_anchor
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.cli_fixtures import as_json, run

CHANGES = 6


def kiosk_anchor(engine: Engine, folder: Path, *, sole_writer: bool) -> ChainAnchor:
    """The anchor a kiosk keeps in its data folder, written by every append on ``engine``."""
    folder.mkdir()
    anchor = ChainAnchor(folder / "audit", EMBEDDED_DATABASE, 5.0, sole_writer=sole_writer)
    attach_anchor(engine, anchor)
    return anchor


@pytest.fixture
def sole(db_engine: Engine, tmp_path: Path) -> ChainAnchor:
    """As on an embedded database: only this data folder's processes append."""
    return kiosk_anchor(db_engine, tmp_path / "kiosk", sole_writer=True)


@pytest.fixture
def shared(db_engine: Engine, tmp_path: Path) -> ChainAnchor:
    """As on a central database: other kiosks append too."""
    return kiosk_anchor(db_engine, tmp_path / "kiosk", sole_writer=False)


def first_admin(engine: Engine) -> Operator:
    return Authenticator(SqlOperatorStore(engine), SecuritySettings(), "door").create_first_admin(
        "alice", "tall-ladder-orange-77"
    )


def door_day(engine: Engine, admin: Operator) -> None:
    """What a kiosk appends on an ordinary day: operator changes and door decisions."""
    operators, identity = SqlOperatorStore(engine), SqlIdentityStore(engine)
    for i in range(CHANGES):
        operators.update_operator("alice", admin, f"test.change{i}", disabled=False)
        identity.record_access(
            AccessDecision(
                kiosk_id="door-1",
                outcome=AccessOutcome.UNKNOWN,
                latency_ms=30.0 + i,
                similarity=0.2,
            )
        )


def forge_audit_event(engine: Engine, *, back_s: float = 0.0) -> int:
    """Append an audit event with a valid hash, as the database owner with this
    repository's code could; dated ``back_s`` before the newest. Returns its row id."""
    with engine.begin() as connection:
        last = connection.execute(
            text("SELECT seq, hash, occurred_at FROM audit_events ORDER BY id DESC LIMIT 1")
        ).one()
        at = last.occurred_at - timedelta(seconds=back_s) if back_s else datetime.now().astimezone()
        details = {"role": "admin"}
        digest = chain_hash(last.hash, at, "alice", "operator.create", "mallory", details)
        return int(
            connection.scalar(
                text(
                    "INSERT INTO audit_events (event_id, occurred_at, actor, action, target, "
                    "details, seq, prev_hash, hash) VALUES (:event, :at, 'alice', "
                    "'operator.create', 'mallory', CAST(:details AS jsonb), :seq, :prev, :hash) "
                    "RETURNING id"
                ),
                {
                    "event": uuid.uuid4(),
                    "at": at,
                    "details": '{"role": "admin"}',
                    "seq": last.seq + 1,
                    "prev": last.hash,
                    "hash": digest,
                },
            )
        )


def forge_access_grant(engine: Engine) -> int:
    """Append a "granted" door decision with a valid hash. Returns its row id."""
    with engine.begin() as connection:
        last = connection.execute(
            text("SELECT seq, hash FROM access_events ORDER BY id DESC LIMIT 1")
        ).one()
        event, at = uuid.uuid4(), datetime.now().astimezone()
        digest = access_chain_hash(
            last.hash, event, at, "door-1", "granted", None, 0.9, 25.0, "door"
        )
        return int(
            connection.scalar(
                text(
                    "INSERT INTO access_events (event_id, occurred_at, kiosk_id, outcome, "
                    "similarity, latency_ms, source, seq, prev_hash, hash) VALUES (:event, :at, "
                    "'door-1', 'granted', 0.9, 25.0, 'door', :seq, :prev, :hash) RETURNING id"
                ),
                {"event": event, "at": at, "seq": last.seq + 1, "prev": last.hash, "hash": digest},
            )
        )


def delete_newest(engine: Engine, table: str, count: int) -> None:
    with engine.connect() as connection:
        newest = connection.scalars(
            text(f"SELECT id FROM {table} ORDER BY id DESC LIMIT :n"), {"n": count}
        ).all()
    delete_from(engine, table, min(newest))


def delete_from(engine: Engine, table: str, first_id: int) -> None:
    """Delete event ``first_id`` and every later one, as the database owner."""
    with engine.begin() as connection:
        connection.execute(text("SET session_replication_role = replica"))  # triggers off
        connection.execute(text(f"DELETE FROM {table} WHERE id >= :first"), {"first": first_id})


def verify(engine: Engine, anchor: ChainAnchor, admin: Operator):  # type: ignore[no-untyped-def]
    return AuditService(SqlAuditLog(engine, anchor)).verify(admin)


# --- a sole writer: every event must be anchored ---------------------------------------------


def test_a_normal_run_verifies(db_engine: Engine, sole: ChainAnchor) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    report = verify(db_engine, sole, admin)
    assert report.intact, report.problems
    assert report.audit.checked == CHANGES + 1
    assert report.access.checked == CHANGES
    assert report.anchor.sole_writer


def test_an_audit_event_forged_at_the_tail_is_reported_by_its_row(
    db_engine: Engine, sole: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    forged = forge_audit_event(db_engine)
    report = verify(db_engine, sole, admin)
    assert not report.intact
    assert report.audit.broken is not None
    assert report.audit.broken.event_id == forged
    assert f"audit event {forged}: is the first of 1 event(s) after the head" in report.problems[0]
    assert report.access.broken is None


def test_a_grant_forged_at_the_tail_is_reported_by_its_row(
    db_engine: Engine, sole: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    first = forge_access_grant(db_engine)
    forge_access_grant(db_engine)
    report = verify(db_engine, sole, admin)
    assert report.access.broken is not None
    assert report.access.broken.event_id == first
    assert "is the first of 2 event(s) after the head anchored" in str(report.access.broken)


def test_later_appends_never_anchor_over_forged_events(
    db_engine: Engine, sole: ChainAnchor, caplog: pytest.LogCaptureFixture
) -> None:
    admin = first_admin(db_engine)
    forged = forge_audit_event(db_engine)
    door_day(db_engine, admin)  # the kiosk goes on: its appends are not refused
    report = verify(db_engine, sole, admin)
    assert report.audit.broken is not None
    assert report.audit.broken.event_id == forged
    assert "that no process of this data folder anchored" in caplog.text


def test_deleting_the_newest_events_is_reported_with_the_counts(
    db_engine: Engine, sole: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    delete_newest(db_engine, "access_events", 2)
    report = verify(db_engine, sole, admin)
    assert report.access.broken is not None
    assert f"expects {CHANGES} event(s)" in str(report.access.broken)
    assert f"holds only {CHANGES - 2}" in str(report.access.broken)


@pytest.mark.parametrize("shared_or_sole", ["sole", "shared"])
def test_deleting_the_newest_event_alone_is_reported(
    db_engine: Engine, shared_or_sole: str, request: pytest.FixtureRequest
) -> None:
    anchor = request.getfixturevalue(shared_or_sole)
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    delete_newest(db_engine, "access_events", 1)  # the last transaction's only event
    report = verify(db_engine, anchor, admin)
    assert report.access.broken is not None
    assert f"expects {CHANGES} event(s)" in str(report.access.broken)
    assert "if its last transaction did not commit" not in str(report.access.broken)


def test_deleting_the_newest_events_and_forging_as_many_is_reported(
    db_engine: Engine, sole: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    delete_newest(db_engine, "audit_events", 1)
    forge_audit_event(db_engine)  # the count is back where the anchor has it
    report = verify(db_engine, sole, admin)
    assert report.audit.broken is not None
    assert "the log was rewritten and its hashes recomputed" in str(report.audit.broken)


def test_an_admin_re_anchors_after_looking_into_it_and_the_log_verifies_again(
    db_engine: Engine, sole: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    forge_audit_event(db_engine)
    door_day(db_engine, admin)
    before = AuditService(SqlAuditLog(db_engine, sole)).reanchor(admin)
    assert not before.intact
    after = verify(db_engine, sole, admin)
    assert after.intact, after.problems
    door_day(db_engine, admin)
    assert verify(db_engine, sole, admin).intact


APPENDER = """
import sys
from pathlib import Path
from storage.chain_anchor import ChainAnchor, EMBEDDED_DATABASE
from storage.database import connect
from storage.event_chains import attach_anchor
from storage.identity_store import SqlIdentityStore
from core.records import AccessDecision, AccessOutcome

url, folder = sys.argv[1:3]
engine = connect(url)
attach_anchor(engine, ChainAnchor(Path(folder), EMBEDDED_DATABASE, 30.0, sole_writer=True))
store = SqlIdentityStore(engine)
print("ready", flush=True)
while True:
    store.record_access(
        AccessDecision(kiosk_id="door-1", outcome=AccessOutcome.UNKNOWN, latency_ms=20.0)
    )
"""


@pytest.mark.slow
def test_a_kiosk_killed_at_any_moment_leaves_a_log_its_anchor_vouches_for(
    fresh_database: str, db_engine: Engine, sole: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    folder = Path(sole.where).parent
    for delay_s in (0.05, 0.13, 0.31, 0.57, 0.89):
        appender = subprocess.Popen(
            [sys.executable, "-c", APPENDER, fresh_database, str(folder)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert appender.stdout is not None
        assert appender.stdout.readline().strip() == "ready"
        time.sleep(delay_s)  # a moment within its stream of appends, not a wait for one
        appender.send_signal(signal.SIGKILL)
        appender.wait(timeout=30)
        report = verify(db_engine, sole, admin)
        assert report.intact, (delay_s, report.problems)
    assert report.access.checked > 0


# --- many writers (a central database): the anchor vouches for what it saw ------------------


def test_on_a_shared_database_events_after_the_anchor_are_counted_not_refused(
    db_engine: Engine, shared: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    forge_access_grant(db_engine)  # another kiosk's, as far as this one can tell
    report = verify(db_engine, shared, admin)
    assert report.intact, report.problems
    assert report.access.after_anchor == 1


def test_an_audit_event_dated_before_the_one_it_follows_is_reported(
    db_engine: Engine, shared: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    door_day(db_engine, admin)
    step_s = SecuritySettings().audit_clock_step_s
    forged = forge_audit_event(db_engine, back_s=step_s + 60)
    report = verify(db_engine, shared, admin)
    assert report.audit.broken is not None
    assert report.audit.broken.event_id == forged
    assert "before the event it follows" in str(report.audit.broken)
    assert "security.audit_clock_step_s" in str(report.audit.broken)
    # Looked into (a clock stepped back, say): re-anchoring takes it as seen.
    AuditService(SqlAuditLog(db_engine, shared)).reanchor(admin)
    assert verify(db_engine, shared, admin).intact


def test_a_clock_step_within_the_setting_is_no_alarm(
    db_engine: Engine, shared: ChainAnchor
) -> None:
    admin = first_admin(db_engine)
    forge_audit_event(db_engine, back_s=SecuritySettings().audit_clock_step_s / 2)
    door_day(db_engine, admin)
    assert verify(db_engine, shared, admin).intact


# --- kiosk-admin on a data folder with its embedded server ------------------------------------


@pytest.mark.slow
def test_kiosk_admin_verify_on_the_embedded_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "kiosk-data"
    assert run("init", "--admin", "alice", data_dir=data_dir).returncode == 0
    with EmbeddedServer(data_dir / "postgres") as server:
        server.start()
        normal = as_json(run("audit", "verify", "--operator", "alice", "--json", data_dir=data_dir))
        assert normal["intact"] is True, normal
        engine = connect(server.admin_url().replace("/postgres?", f"/{DATABASE_NAME}?"))
        try:
            forged = forge_audit_event(engine)
            tampered = run("audit", "verify", "--operator", "alice", data_dir=data_dir)
            assert tampered.returncode == 1
            refusal = tampered.stderr.strip().splitlines()[-1]
            assert refusal.startswith("kiosk-admin: error: the audit log was tampered with")
            # The forged event, then the login of this very check: neither anchored.
            assert f"audit event {forged}: is the first of 2 event(s) after the head" in refusal
            # The forged event, what followed it, and three of the kiosk's own before it.
            delete_from(engine, "audit_events", forged - 3)
        finally:
            engine.dispose()
        cut = run("audit", "verify", "--operator", "alice", data_dir=data_dir)
        assert cut.returncode == 1
        assert "its newest events were deleted, or it was emptied" in cut.stderr
