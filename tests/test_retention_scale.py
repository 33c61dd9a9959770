"""The retention purge and consent withdrawal with 100,000 people, on the real database."""

from __future__ import annotations

import math
import time
import uuid

import pytest
from sqlalchemy import Engine, text

from core.administration.chains import verify_chain
from core.people.people import PeopleService
from core.records import Operator, Role
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

pytestmark = pytest.mark.slow

PEOPLE = 100_000
WITH_TEMPLATES = 2_000
BATCH = 1_000


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


def load_site(engine: Engine, admin: Operator, people: int) -> None:
    """``people`` people, each with consent and in the default group; three in five
    enrolled 2,000 days ago (past a 3-year retention) of whom one in ten was recognised
    5 days ago; the first WITH_TEMPLATES have two templates each. ``n`` in R-n."""
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO people (display_name, external_ref, created_at, last_recognized_at) "
                "SELECT 'person ' || n, 'R-' || n, "
                "       now() - make_interval(days => CASE WHEN n % 5 < 3 THEN 2000 ELSE 10 END), "
                "       CASE WHEN n % 50 = 0 THEN now() - interval '5 days' END "
                "FROM generate_series(1, :people) AS n"
            ),
            {"people": people},
        )
        connection.execute(
            text(
                "INSERT INTO consent_records (person_id, version, text_sha256, witnessed_by) "
                "SELECT id, 'v1', repeat('ab', 32), :admin FROM people"
            ),
            {"admin": admin.id},
        )
        connection.execute(
            text(
                "INSERT INTO group_members (group_id, person_id) "
                "SELECT g.id, p.id FROM access_groups g CROSS JOIN people p WHERE g.is_default"
            )
        )
        connection.execute(
            text(
                "INSERT INTO face_templates (person_id, embedding, model, quality) "
                "SELECT p.id, ARRAY(SELECT random()::real FROM generate_series(1, 512) "
                "                   WHERE copy > 0)::vector, 'm@1', 0.9 "
                "FROM people p CROSS JOIN generate_series(1, 2) AS copy "
                "WHERE substr(p.external_ref, 3)::int <= :templated"
            ),
            {"templated": WITH_TEMPLATES},
        )
        connection.execute(text("ANALYZE"))


def expired_ids(engine: Engine) -> set[uuid.UUID]:
    with engine.connect() as connection:
        return set(
            connection.scalars(
                text(
                    "SELECT id FROM people WHERE status = 'active' AND "
                    "coalesce(last_recognized_at, created_at) + interval '1095 days' < now()"
                )
            )
        )


def test_purging_60000_of_100000_people_is_correct_batched_and_each_deletion_audited(
    db_engine: Engine, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    load_site(db_engine, admin, PEOPLE)
    expected = expired_ids(db_engine)
    assert len(expected) == PEOPLE * 3 // 5 - PEOPLE // 50
    with db_engine.connect() as connection:
        templates_of_expired = connection.scalar(
            text(
                "SELECT count(*) FROM face_templates t JOIN people p ON p.id = t.person_id "
                "WHERE p.external_ref IS NOT NULL AND substr(p.external_ref, 3)::int % 5 < 3 "
                "AND substr(p.external_ref, 3)::int % 50 <> 0"
            )
        )
    people = PeopleService(
        identity_store, SecuritySettings(retention_days=1095, purge_batch_people=BATCH)
    )
    began = time.perf_counter()
    purged = people.purge_expired(admin)
    seconds = time.perf_counter() - began
    print(f"purged {len(purged):,} of {PEOPLE:,} people in {seconds:.1f} s")  # noqa: T201

    assert set(purged) == expected
    assert len(purged) == len(expected)
    with db_engine.connect() as connection:
        state = connection.execute(
            text(
                "SELECT count(*) FILTER (WHERE status = 'deleted'), "
                "       count(*) FILTER (WHERE status = 'deleted' AND (display_name IS NOT NULL "
                "                        OR external_ref IS NOT NULL OR deleted_at IS NULL)), "
                "       (SELECT count(*) FROM face_templates t JOIN people d "
                "        ON d.id = t.person_id WHERE d.status = 'deleted'), "
                "       (SELECT count(*) FROM group_members m JOIN people d "
                "        ON d.id = m.person_id WHERE d.status = 'deleted'), "
                "       (SELECT count(*) FROM consent_records c JOIN people d "
                "        ON d.id = c.person_id WHERE (d.status = 'deleted') "
                "        <> (c.withdrawn_at IS NOT NULL AND c.withdrawn_by = :admin)), "
                "       (SELECT count(*) FROM face_templates) "
                "FROM people"
            ),
            {"admin": admin.id},
        ).one()
        events = connection.execute(
            text(
                "SELECT count(*), count(DISTINCT target), count(DISTINCT occurred_at), "
                "       sum((details->>'templates_deleted')::int), "
                "       sum((details->>'consents_withdrawn')::int) "
                "FROM audit_events WHERE action = 'person.purge' AND actor = 'alice'"
            )
        ).one()
        targets = set(
            connection.scalars(
                text("SELECT target::uuid FROM audit_events WHERE action = 'person.purge'")
            )
        )
    deleted, identity_left, templates_left, memberships_left, consents_wrong, templates = state
    assert (deleted, identity_left, templates_left, memberships_left, consents_wrong) == (
        len(expected), 0, 0, 0, 0,
    )  # fmt: skip
    assert templates == 2 * WITH_TEMPLATES - templates_of_expired
    assert targets == expected
    assert events == (
        len(expected),
        len(expected),
        math.ceil(len(expected) / BATCH),  # one transaction per batch, one time each
        templates_of_expired,
        len(expected),
    )
    report = verify_chain(SqlAuditLog(db_engine).audit_chain(actor=admin))
    assert report.broken is None
    assert report.checked == len(expected) + 1  # and the admin's creation
    assert people.purge_expired(admin) == []


def test_withdrawals_among_100000_people_take_only_that_persons_rows(
    db_engine: Engine, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    load_site(db_engine, admin, PEOPLE)
    with db_engine.connect() as connection:
        chosen = list(
            connection.scalars(
                text(
                    "SELECT id FROM people WHERE substr(external_ref, 3)::int <= 20 "
                    "ORDER BY created_at"
                )
            )
        )
    people = PeopleService(identity_store, SecuritySettings())
    began = time.perf_counter()
    deletions = [people.withdraw_consent(admin, person) for person in chosen]
    per_person_ms = (time.perf_counter() - began) * 1000 / len(chosen)
    print(f"consent withdrawn in {per_person_ms:.1f} ms per person at {PEOPLE:,}")  # noqa: T201
    assert [(d.templates_deleted, d.consents_withdrawn) for d in deletions] == [(2, 1)] * 20
    with db_engine.connect() as connection:
        left = connection.execute(
            text(
                "SELECT (SELECT count(*) FROM face_templates), "
                "       (SELECT count(*) FROM consent_records WHERE withdrawn_at IS NOT NULL), "
                "       (SELECT count(*) FROM people WHERE status = 'active'), "
                "       (SELECT count(*) FROM audit_events "
                "        WHERE action = 'person.consent_withdrawn')"
            )
        ).one()
    assert tuple(left) == (2 * WITH_TEMPLATES - 40, 20, PEOPLE, 20)


def test_a_person_a_door_holds_is_left_for_the_next_purge(
    db_engine: Engine, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    load_site(db_engine, admin, 50)
    expected = expired_ids(db_engine)
    held = sorted(expected)[0]
    people = PeopleService(identity_store, SecuritySettings(purge_batch_people=7))
    with db_engine.connect() as door:
        door.execute(text("SELECT 1 FROM people WHERE id = :id FOR UPDATE"), {"id": held})
        first = people.purge_expired(admin)
        door.rollback()
    assert set(first) == expected - {held}
    assert people.purge_expired(admin) == [held]


def test_the_benchs_retention_figure_counts_what_the_purge_did(db_engine: Engine) -> None:
    from bench import retention

    found = retention.run(db_engine, 1_000, 20, 5)
    assert found.purged == 1_000 * 3 // 5 - 1_000 // 50
    assert found.audit_events == found.purged
    assert found.withdrawal.count == 5
    assert found.purge_s > 0
