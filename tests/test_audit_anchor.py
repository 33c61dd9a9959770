"""The anchor file: from the command line, under several processes, out of the
database server's reach, and never in the door's way."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from core.accounts.operators import Authenticator, OperatorService
from core.administration.audit import AuditService
from core.log_records import AnchorStatus
from core.records import AccessDecision, AccessOutcome, Operator, Role
from core.settings import SecuritySettings
from storage.audit_log import REANCHORED_ACTION, SqlAuditLog
from storage.chain_anchor import ChainAnchor
from storage.database import connect
from storage.embedded import EmbeddedServer
from storage.event_chains import attach_anchor
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.cli_fixtures import as_json

DATABASE = "test-database"


def as_owner(url: str, statement: str) -> None:
    """psql as the superuser, triggers off."""
    engine = connect(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SET session_replication_role = replica"))
            connection.execute(text(statement))
    finally:
        engine.dispose()


# --- kiosk-admin --------------------------------------------------------------------------


def test_verify_reports_an_emptied_log_and_an_admin_re_anchors_it(
    admin_cli, fresh_database: str, tmp_path: Path
) -> None:
    intact = as_json(admin_cli("audit", "verify", "--operator", "alice", "--json"))
    assert intact["intact"] is True
    assert intact["anchor"]["status"] == "anchored"
    anchored = intact["audit"]["expected"]["count"]
    assert anchored >= 2  # the admin's creation and this command's login

    as_owner(fresh_database, "TRUNCATE audit_events")
    broken = admin_cli("audit", "verify", "--operator", "alice")
    assert broken.returncode == 1
    assert "the audit log was tampered with" in broken.stderr
    assert f"expects {anchored} event(s)" in broken.stderr
    assert "docs/security.md" in broken.stderr

    reanchored = as_json(admin_cli("audit", "re-anchor", "--operator", "alice", "--json"))
    assert reanchored["before"]["intact"] is False
    assert reanchored["before"]["audit"]["expected"]["count"] == anchored
    again = as_json(admin_cli("audit", "verify", "--operator", "alice", "--json"))
    assert again["intact"] is True, again
    listed = as_json(
        admin_cli("audit", "--action", REANCHORED_ACTION, "--operator", "alice", "--json")
    )
    assert [e["actor"] for e in listed["events"]] == ["alice"]
    assert list((tmp_path / "audit").glob("anchor.replaced-*.json"))


def test_an_auditor_may_verify_but_not_re_anchor(
    admin_cli, fresh_database: str, tmp_path: Path
) -> None:
    engine = connect(fresh_database)
    try:
        admin = SqlOperatorStore(engine).find_operator("alice")
        assert admin is not None
        OperatorService(SqlOperatorStore(engine), SecuritySettings()).add(
            admin, "aud", Role.AUDITOR, "brown-cedar-window-9"
        )
    finally:
        engine.dispose()
    verified = admin_cli("audit", "verify", "--operator", "aud", password="brown-cedar-window-9")
    assert verified.returncode == 0, verified.stderr
    refused = admin_cli("audit", "re-anchor", "--operator", "aud", password="brown-cedar-window-9")
    assert refused.returncode == 4
    assert "may not re-anchor the audit log" in refused.stderr


# --- several processes, one anchor ----------------------------------------------------------

APPENDER = """
import json, sys
from pathlib import Path
from sqlalchemy.orm import sessionmaker
from storage.audit_log import append_audit
from storage.chain_anchor import ChainAnchor
from storage.database import connect
from storage.event_chains import attach_anchor
from storage.identity_store import SqlIdentityStore
from storage.transactions import transaction

url, folder, count, name = sys.argv[1:5]
engine = connect(url)
anchor = ChainAnchor(Path(folder), "test-database", 30.0)
attach_anchor(engine, anchor)
sessions = sessionmaker(engine)
seen = []
for i in range(int(count)):
    with transaction(sessions) as session:
        append_audit(session, name, "test.parallel", None, {"n": i})
    seen.append(anchor.read().heads["audit"].count)
engine.dispose()
print(json.dumps(seen))
"""


@pytest.mark.slow
def test_processes_appending_at_once_move_the_anchor_only_forward(
    fresh_database: str, db_engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "audit"
    anchor = ChainAnchor(folder, DATABASE, 30.0)
    processes, appends = 4, 15
    watched: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.002):  # a reading every few ms, not a busy loop
            reading = anchor.read()
            if reading.status is AnchorStatus.ANCHORED:
                watched.append(reading.heads["audit"].count)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        running = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    APPENDER,
                    fresh_database,
                    str(folder),
                    str(appends),
                    f"p{i}",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(processes)
        ]
        outputs = [p.communicate(timeout=300) for p in running]
    finally:
        done.set()
        watcher.join()
    for process, (out, err) in zip(running, outputs, strict=True):
        assert process.returncode == 0, err
        seen = json.loads(out)
        assert seen == sorted(seen), seen
    assert watched, "the watcher never saw an anchor"
    assert watched == sorted(watched)
    report = AuditService(SqlAuditLog(db_engine, anchor)).verify(_reader(db_engine))
    assert report.intact, report.problems
    assert report.audit.checked == processes * appends + 1
    assert report.audit.expected is not None
    assert report.audit.expected.count >= max(watched)


def _reader(engine: Engine) -> Operator:
    return Authenticator(SqlOperatorStore(engine), SecuritySettings(), "door").create_first_admin(
        "alice", "tall-ladder-orange-77"
    )


# --- the door never waits long on the anchor -------------------------------------------------


def test_a_held_anchor_lock_delays_an_append_at_most_its_limit(
    db_engine: Engine, operator_store: SqlOperatorStore, tmp_path: Path
) -> None:
    limit_s = 0.3
    anchor = ChainAnchor(tmp_path / "audit", DATABASE, limit_s)
    attach_anchor(db_engine, anchor)
    admin = _reader(db_engine)  # event 1, anchored
    audit = AuditService(SqlAuditLog(db_engine, anchor))
    holder = os.open(tmp_path / "audit" / "anchor.lock", os.O_RDWR)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as a stopped process holding it would
        started = time.monotonic()
        operator_store.update_operator("alice", admin, "test.while_locked", disabled=False)
        waited = time.monotonic() - started
    finally:
        os.close(holder)
    assert limit_s <= waited < limit_s + 5
    behind = audit.verify(admin)
    assert behind.intact, behind.problems
    assert behind.audit.expected is not None
    assert behind.audit.expected.count == 1
    assert behind.audit.after_anchor == 1
    operator_store.update_operator("alice", admin, "test.after", disabled=False)
    caught_up = audit.verify(admin)
    assert caught_up.audit.expected is not None
    assert caught_up.audit.expected.count == 3


# --- out of the database server's reach -----------------------------------------------------


@pytest.fixture
def reachable_data_dir(pg_server: EmbeddedServer) -> Iterator[Path]:
    """A data folder where a real one is: in folders the server's user may pass
    through (the embedded server needs that of the folders above its own)."""
    folder = pg_server.pgdata.parent / f"kiosk-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    yield folder
    shutil.rmtree(folder)


@pytest.mark.skipif(
    os.geteuid() != 0, reason="only a kiosk run as root runs its server as another user"
)
def test_the_database_superuser_can_neither_read_nor_write_the_anchor(
    reachable_data_dir: Path, db_engine: Engine
) -> None:
    anchor = ChainAnchor(reachable_data_dir / "audit", DATABASE, 5.0)
    attach_anchor(db_engine, anchor)
    _reader(db_engine)  # an append: the key and the anchor now exist
    control = reachable_data_dir / "not-secret.txt"
    control.write_text("readable")
    control.chmod(0o644)
    audit = reachable_data_dir / "audit"
    with db_engine.connect() as superuser:
        read = text("SELECT pg_read_binary_file(:path)")
        # The server reaches this folder: only the anchor's own permissions stop it.
        assert superuser.scalar(read, {"path": str(control)}) == b"readable"
        for name in ("anchor.key", "anchor.json"):
            with pytest.raises(DBAPIError, match="Permission denied"):
                superuser.execute(read, {"path": str(audit / name)})
            superuser.rollback()
        for name in ("anchor.json", "forged.json"):
            with pytest.raises(DBAPIError, match="Permission denied"):
                superuser.execute(text(f"COPY (SELECT 'forged') TO '{audit / name}'"))
            superuser.rollback()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder away needs root")
def test_an_anchor_folder_that_is_not_ours_never_stops_the_door(
    db_engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "audit"
    anchor = ChainAnchor(folder, DATABASE, 5.0)
    attach_anchor(db_engine, anchor)
    admin = _reader(db_engine)
    os.chown(folder, 65534, 65534)  # another user's now, as if planted there
    SqlIdentityStore(db_engine).record_access(
        AccessDecision(
            kiosk_id="door-1", outcome=AccessOutcome.UNKNOWN, latency_ms=20.0, similarity=0.3
        )
    )
    report = AuditService(SqlAuditLog(db_engine, anchor)).verify(admin)
    assert report.access.checked == 1
    assert report.anchor.status is AnchorStatus.UNTRUSTED
    assert "not a folder owned by this user" in " ".join(report.problems)
