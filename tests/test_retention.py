"""Consent withdrawal and the retention purge on the real database."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.people.people import PeopleService
from core.people.retention import is_expired
from core.records import ConsentGrant, Enrollment, NewTemplate, Operator, PersonStatus, Role
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

RNG = np.random.default_rng(3)


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def people(identity_store: SqlIdentityStore) -> PeopleService:
    return PeopleService(identity_store, SecuritySettings(retention_days=1095))


def enroll(store: SqlIdentityStore, admin: Operator, name: str) -> object:
    vector = RNG.standard_normal(512).astype(np.float32)
    return store.enroll(
        Enrollment(
            name,
            None,
            ConsentGrant("v1", "ab" * 32, admin),
            (NewTemplate(vector / np.linalg.norm(vector), "m@1", 0.9),),
        )
    )


def age(engine: Engine, person_id: object, days: int, recognised: bool = False) -> None:
    column = "last_recognized_at" if recognised else "created_at"
    with engine.begin() as connection:
        connection.execute(
            text(
                f"UPDATE people SET {column} = now() - make_interval(days => :days) WHERE id = :id"
            ),
            {"days": days, "id": person_id},
        )


def test_withdrawal_deletes_templates_and_keeps_the_person_listed(
    people: PeopleService, identity_store: SqlIdentityStore, admin: Operator
) -> None:
    person_id = enroll(identity_store, admin, "Withdrawn Person")
    deletion = people.withdraw_consent(admin, person_id)  # type: ignore[arg-type]
    assert deletion.templates_deleted == 1
    view = people.show(admin, person_id)  # type: ignore[arg-type]
    assert view.detail.summary.template_count == 0
    assert view.detail.summary.status is PersonStatus.ACTIVE
    assert view.detail.consents[0].withdrawn_at is not None


def test_show_gives_the_retention_deadline(
    people: PeopleService, identity_store: SqlIdentityStore, admin: Operator, db_engine: Engine
) -> None:
    person_id = enroll(identity_store, admin, "Someone")
    view = people.show(admin, person_id)  # type: ignore[arg-type]
    assert view.retention_deadline is not None
    delta = view.retention_deadline - view.detail.summary.created_at
    assert delta.days == 1095
    age(db_engine, person_id, 10, recognised=True)
    recognised = people.show(admin, person_id)  # type: ignore[arg-type]
    assert recognised.retention_deadline is not None
    assert recognised.detail.last_recognized_at is not None
    assert recognised.retention_deadline == recognised.detail.last_recognized_at + (
        view.retention_deadline - view.detail.summary.created_at
    )


def test_purge_deletes_only_people_past_retention_and_audits_it(
    people: PeopleService,
    identity_store: SqlIdentityStore,
    admin: Operator,
    db_engine: Engine,
    audit_log: SqlAuditLog,
) -> None:
    stale = enroll(identity_store, admin, "Not Seen For Years")
    seen = enroll(identity_store, admin, "Enrolled Long Ago, Seen Lately")
    fresh = enroll(identity_store, admin, "Enrolled Today")
    age(db_engine, stale, 1100)
    age(db_engine, seen, 1100)
    age(db_engine, seen, 5, recognised=True)
    purged = people.purge_expired(admin)
    assert purged == [stale]
    assert identity_store.person(stale, actor=admin).summary.status is PersonStatus.DELETED  # type: ignore[arg-type]
    assert {p.id for p in identity_store.people(None, 10, actor=admin)} == {seen, fresh}
    purge_events = [
        e for e in audit_log.audit_events(20, actor=admin) if e.action == "person.purge"
    ]
    assert [e.target for e in purge_events] == [str(stale)]
    assert people.purge_expired(admin) == []  # nothing left to purge


def test_the_sql_purge_keeps_the_python_retention_rule_at_its_boundary(
    people: PeopleService,
    identity_store: SqlIdentityStore,
    admin: Operator,
    db_engine: Engine,
) -> None:
    """Both sides of the deadline, by both clocks a person can be aged by: the purge
    deletes exactly those core.people.retention.is_expired calls expired."""
    retention = timedelta(days=1095)
    cases = {
        "enrolled long ago": (1096, False),
        "enrolled just inside": (1094, False),
        "seen long ago": (1096, True),
        "seen just inside": (1094, True),
    }
    ids = {}
    for name, (days, recognised) in cases.items():
        person_id = enroll(identity_store, admin, name)
        if recognised:
            age(db_engine, person_id, 2000)  # enrolled far beyond; seen decides
        age(db_engine, person_id, days, recognised)
        ids[name] = person_id
    with db_engine.connect() as connection:
        now = connection.execute(text("SELECT now()")).scalar_one()
        rows = connection.execute(
            text("SELECT id, last_recognized_at, created_at FROM people")
        ).all()
    expected = {pid for pid, seen, made in rows if is_expired(seen, made, retention, now)}
    assert expected == {ids["enrolled long ago"], ids["seen long ago"]}
    assert set(people.purge_expired(admin)) == expected
