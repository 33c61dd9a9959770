"""An upgrade from the oldest schema (0001) to the newest keeps every row and both chains.

The database is made at 0001 and filled through that schema with plain SQL, as a
kiosk of that version left it: people (one deleted), templates, consent (one
withdrawn), operators, audit events and access events. The kiosk's own upgrade
(storage.migrate.upgrade, under its advisory lock) then brings it to the head.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from core.accounts.operators import OperatorService
from core.administration.audit import AuditService
from core.administration.chains import verify_access_chain, verify_chain
from core.records import Role
from core.settings import SecuritySettings
from storage import schema
from storage.audit_log import SqlAuditLog
from storage.chain_anchor import ChainAnchor
from storage.database import connect
from storage.event_chains import attach_anchor
from storage.identity_store import SqlIdentityStore
from storage.migrate import alembic_config, current_revision, head_revision, upgrade
from storage.operator_authority import operator_record
from storage.operator_store import SqlOperatorStore
from tests.conftest import url_for

pytestmark = pytest.mark.slow

OLDEST = "0001"
RNG = np.random.default_rng(5)
TABLES = {
    "people": "id, display_name, external_ref, status, created_at, last_recognized_at, deleted_at",
    "operators": "id, username, password_hash, role, disabled, created_at",
    "consent_records": "id, person_id, version, text_sha256, given_at, witnessed_by, "
    "withdrawn_at, withdrawn_by",
    "face_templates": "id, person_id, model, quality, created_at, embedding::real[]",
    "audit_events": "id, occurred_at, actor, action, target, details",
    "access_events": "id, occurred_at, kiosk_id, outcome, person_id, similarity, latency_ms",
}


@pytest.fixture
def oldest(pg_server, admin_engine: Engine) -> Iterator[Engine]:
    """A database of its own at the oldest revision; dropped afterwards."""
    name = "kiosk_at_oldest"
    with admin_engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = connect(url_for(pg_server, name))
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), OLDEST)
            connection.commit()
        yield engine
    finally:
        engine.dispose()
        with admin_engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


def unit() -> list[float]:
    vector = RNG.standard_normal(512).astype(np.float32)
    return [float(x) for x in vector / np.linalg.norm(vector)]


def fill_through_the_old_schema(engine: Engine) -> dict[str, uuid.UUID]:
    """What a kiosk at 0001 wrote; the people's ids by name."""
    ann, bo, gone = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with engine.begin() as c:
        admin = c.scalar(
            text(
                "INSERT INTO operators (username, password_hash, role) "
                "VALUES ('alice', 'bcrypt-sha256$old-hash', 'admin') RETURNING id"
            )
        )
        c.execute(
            text("INSERT INTO operators (username, password_hash, role, disabled) "
                 "VALUES ('bob', 'bcrypt-sha256$bob', 'enroller', true)")
        )  # fmt: skip
        c.execute(
            text(
                "INSERT INTO people (id, display_name, external_ref, created_at, "
                "last_recognized_at) VALUES "
                "(:ann, 'Ann Lee', 'B-1', now() - interval '400 days', now() - interval '2 days'),"
                "(:bo, 'Bo Chen', NULL, now() - interval '30 days', NULL)"
            ),
            {"ann": ann, "bo": bo},
        )
        c.execute(
            text(
                "INSERT INTO people (id, display_name, external_ref, status, deleted_at) "
                "VALUES (:gone, NULL, NULL, 'deleted', now() - interval '1 day')"
            ),
            {"gone": gone},
        )
        for person, count in ((ann, 3), (bo, 1)):
            for _ in range(count):
                c.execute(
                    text(
                        "INSERT INTO face_templates (person_id, embedding, model, quality) "
                        "VALUES (:p, CAST(:e AS vector), 'w600k_mbf@abc', 0.875)"
                    ),
                    {"p": person, "e": json.dumps(unit())},
                )
        c.execute(
            text(
                "INSERT INTO consent_records (person_id, version, text_sha256, witnessed_by, "
                "withdrawn_at, withdrawn_by) VALUES "
                "(:ann, 'v1', repeat('a', 64), :admin, NULL, NULL), "
                "(:bo, 'v1', repeat('b', 64), :admin, NULL, NULL), "
                "(:gone, 'v0', repeat('c', 64), :admin, now() - interval '1 day', :admin)"
            ),
            {"ann": ann, "bo": bo, "gone": gone, "admin": admin},
        )
        for n, (action, target, details) in enumerate(
            [
                ("operator.create", "alice", {"role": "admin"}),
                ("person.enroll", str(ann), {"templates": 3, "consent_version": "v1"}),
                ("person.enroll", str(bo), {"templates": 1, "consent_version": "v1"}),
                ("person.delete", str(gone), {"templates_deleted": 2, "consents_withdrawn": 1}),
                ("login.failed", "mallory", {"note": "ünïcode, \"quotes\" and 'apostrophes'"}),
            ]
        ):
            c.execute(
                text(
                    "INSERT INTO audit_events (occurred_at, actor, action, target, details) "
                    "VALUES (now() - make_interval(mins => :ago), 'alice', :a, :t, "
                    "CAST(:d AS jsonb))"
                ),
                {"ago": 100 - n, "a": action, "t": target, "d": json.dumps(details)},
            )
        for n, (outcome, person, similarity) in enumerate(
            [("granted", ann, 0.71234), ("unknown", None, 0.1), ("no_face", None, None),
             ("granted", bo, 0.6), ("granted", ann, 0.65)]
        ):  # fmt: skip
            c.execute(
                text(
                    "INSERT INTO access_events (occurred_at, kiosk_id, outcome, person_id, "
                    "similarity, latency_ms) VALUES (now() - make_interval(mins => :ago), "
                    "'front-door', :o, :p, :s, :l)"
                ),
                {"ago": 50 - n, "o": outcome, "p": person, "s": similarity, "l": 120.25 + n},
            )
    return {"ann": ann, "bo": bo, "gone": gone}


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(
                text(f"SELECT {columns} FROM {table} ORDER BY id")
            )]
            for table, columns in TABLES.items()
        }  # fmt: skip


def test_every_row_and_both_chains_survive_the_upgrade_from_the_oldest_schema(
    oldest: Engine, tmp_path: Path
) -> None:
    ids = fill_through_the_old_schema(oldest)
    before = snapshot(oldest)
    upgrade(oldest)
    assert current_revision(oldest) == head_revision()
    assert snapshot(oldest) == before

    with oldest.connect() as connection:
        added = connection.execute(
            text(
                "SELECT (SELECT array_agg(seq ORDER BY id) FROM audit_events), "
                "       (SELECT array_agg(seq ORDER BY id) FROM access_events), "
                "       (SELECT array_agg(DISTINCT source) FROM access_events), "
                "       (SELECT count(DISTINCT event_id) FROM access_events), "
                "       (SELECT count(*) FROM people WHERE valid_from IS NOT NULL "
                "                                       OR valid_until IS NOT NULL), "
                "       (SELECT array_agg(session_epoch) FROM operators)"
            )
        ).one()
    assert tuple(added) == ([1, 2, 3, 4, 5], [1, 2, 3, 4, 5], ["door"], 5, 0, [0, 0])

    with Session(oldest) as session:
        admin = operator_record(
            session.scalars(
                select(schema.Operator).where(schema.Operator.username == "alice")
            ).one()
        )
    log = SqlAuditLog(oldest)
    audit = verify_chain(log.audit_chain(actor=admin))
    access = verify_access_chain(log.access_chain(actor=admin))
    assert (audit.broken, audit.checked) == (None, 5)
    assert (access.broken, access.checked) == (None, 5)

    # The upgraded store works as a new one: search, enroll's chain, an anchored verify.
    store = SqlIdentityStore(oldest)
    with oldest.connect() as connection:
        ann_template = connection.scalar(
            text("SELECT embedding::real[] FROM face_templates WHERE person_id = :p LIMIT 1"),
            {"p": ids["ann"]},
        )
    found = store.nearest_people(np.array(ann_template, np.float32), "w600k_mbf@abc", 20, 100)
    assert found[0].person_id == ids["ann"]
    assert ids["gone"] not in {c.person_id for c in found}
    anchor = ChainAnchor(tmp_path / "audit", "embedded", 2.0)
    attach_anchor(oldest, anchor)
    OperatorService(SqlOperatorStore(oldest), SecuritySettings()).add(
        admin, "carol", Role.AUDITOR, "green-apple-tree-31"
    )
    report = AuditService(SqlAuditLog(oldest, anchor)).verify(admin)
    assert report.intact, report.problems
    assert report.audit.checked == 6
