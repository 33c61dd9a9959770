"""The access rules on the real database: the upgrade keeps everyone granted, a rule
set is stored and read back whole, the door's read answers per person and door,
and a refusal is stored, chained and verified like any decision."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import Engine, text

from core.access.door_access import DoorAccess
from core.administration.chains import verify_access_chain
from core.errors import NotAllowed, NotFound
from core.records import (
    AccessOutcome,
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
    Refusal,
    Role,
    access_decision,
)
from core.rules.model import (
    ALWAYS,
    AccessGroup,
    Door,
    HolidayCalendar,
    Schedule,
    TimeRange,
    Validity,
    Weekday,
)
from core.rules.public_holidays import PublicHolidays
from core.rules.rule_set import RuleSet, RuleSetError
from storage.audit_log import SqlAuditLog
from storage.embedded import EmbeddedServer
from storage.identity_store import SqlIdentityStore
from storage.migrate import upgrade
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore

MODEL = "test-model@000000000000"
RNG = np.random.default_rng(12)
OFFICE = Schedule("office", {d: (TimeRange.parse("08:00-18:00"),) for d in list(Weekday)[:5]})


def template() -> NewTemplate:
    vector = RNG.standard_normal(512)
    return NewTemplate((vector / np.linalg.norm(vector)).astype(np.float32), MODEL, 0.9)


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def rules(db_engine: Engine) -> SqlRulesStore:
    return SqlRulesStore(db_engine)


def enroll(
    store: SqlIdentityStore,
    witness: Operator,
    name: str,
    groups: tuple[str, ...] | None = None,
    validity: Validity = Validity(),  # noqa: B008 - frozen
) -> uuid.UUID:
    return store.enroll(
        Enrollment(
            display_name=name,
            external_ref=None,
            consent=ConsentGrant("v1", "ab" * 32, witness),
            templates=(template(),),
            groups=groups,
            valid_from=validity.valid_from,
            valid_until=validity.valid_until,
        )
    )


def berlin(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=ZoneInfo("Europe/Berlin"))


def door_at(rules: SqlRulesStore, kiosk_id: str, moment: datetime) -> DoorAccess:
    return DoorAccess(kiosk_id=kiosk_id, rules=rules, holidays=PublicHolidays(), now=lambda: moment)


def test_a_fresh_database_puts_new_people_in_the_default_group_at_every_door(
    identity_store: SqlIdentityStore, rules: SqlRulesStore, admin: Operator
) -> None:
    person = enroll(identity_store, admin, "Ada")
    groups, validity = rules.person_access(person, actor=admin)
    assert groups == {"everyone"}
    assert validity == Validity()
    for door in ("front", "never-registered"):
        assert door_at(rules, door, berlin("2026-12-25 03:00")).check(person) is None


def test_a_rule_set_is_stored_and_read_back_whole(
    identity_store: SqlIdentityStore, rules: SqlRulesStore, admin: Operator
) -> None:
    ada = enroll(identity_store, admin, "Ada")
    rules.ensure_door(Door("front", "Front door", "Europe/Berlin"))
    wanted = RuleSet(
        doors=(
            Door("front", "Front door", "Europe/Berlin", "bavaria"),
            Door("lab", "Lab", "America/New_York"),
        ),
        schedules=(ALWAYS, OFFICE),
        calendars=(HolidayCalendar("bavaria", "DE", "BY", frozenset({date(2026, 12, 28)})),),
        groups=(
            AccessGroup("everyone", "always", all_doors=True, default=True),
            AccessGroup("staff", "office", frozenset({"front", "lab"}), holiday_schedule="always"),
        ),
        members={"everyone": frozenset(), "staff": frozenset({ada})},
    )
    change = rules.apply_rule_set(wanted, actor=admin, dry_run=False)
    assert change.added == {"door": 1, "schedule": 1, "calendar": 1, "group": 1}
    assert change.changed == {"door": 1, "schedule": 0, "calendar": 0, "group": 0}
    assert change.members_added == 1
    assert change.members_removed == 1  # Ada left "everyone"
    assert rules.rule_set(actor=admin) == wanted
    # Applied again: nothing changes.
    again = rules.apply_rule_set(wanted, actor=admin, dry_run=False)
    assert sum(again.added.values()) + sum(again.changed.values()) == 0


def test_a_dry_run_and_a_bad_rule_set_change_nothing(
    identity_store: SqlIdentityStore, rules: SqlRulesStore, admin: Operator, db_engine: Engine
) -> None:
    rules.ensure_door(Door("front", "Front door", "Europe/Berlin"))
    before = rules.rule_set(actor=admin)
    staff = AccessGroup("staff", "office", frozenset({"front"}))
    good = RuleSet(schedules=(OFFICE,), groups=(staff,), doors=before.doors)
    rules.apply_rule_set(good, actor=admin, dry_run=True)
    assert rules.rule_set(actor=admin) == before
    stranger = uuid.uuid4()
    bad = RuleSet(schedules=(OFFICE,), groups=(staff,), members={"staff": frozenset({stranger})})
    with pytest.raises(RuleSetError, match="not an enrolled person"):
        rules.apply_rule_set(bad, actor=admin, dry_run=False)
    assert rules.rule_set(actor=admin) == before
    with db_engine.connect() as connection:
        imported = connection.scalar(
            text("SELECT count(*) FROM audit_events WHERE action = 'rules.imported'")
        )
    assert imported == 0


def test_the_door_reads_each_persons_groups_validity_and_holidays(
    identity_store: SqlIdentityStore, rules: SqlRulesStore, admin: Operator
) -> None:
    rules.ensure_door(Door("front", "Front door", "Europe/Berlin"))
    rules.ensure_door(Door("lab", "Lab", "Europe/Berlin"))
    current = rules.rule_set(actor=admin)
    rules.apply_rule_set(
        RuleSet(
            doors=(Door("front", "Front door", "Europe/Berlin", "bavaria"), current.doors[1]),
            schedules=(ALWAYS, OFFICE),
            calendars=(HolidayCalendar("bavaria", "DE", "BY"),),
            groups=(
                AccessGroup("everyone", "always", all_doors=True, default=True),
                AccessGroup("staff", "office", frozenset({"front"})),
            ),
        ),
        actor=admin,
        dry_run=False,
    )
    staff = enroll(identity_store, admin, "Ada", groups=("staff",))
    visitor = enroll(
        identity_store, admin, "Bea", validity=Validity(date(2026, 12, 1), date(2026, 12, 1))
    )
    weekday = berlin("2026-12-01 09:00")
    assert door_at(rules, "front", weekday).check(staff) is None
    assert door_at(rules, "front", berlin("2026-12-01 22:00")).check(staff) == (
        Refusal.OUTSIDE_SCHEDULE
    )
    assert door_at(rules, "lab", weekday).check(staff) == Refusal.NO_GROUP_FOR_DOOR
    assert door_at(rules, "front", berlin("2026-12-25 09:00")).check(staff) == Refusal.HOLIDAY
    assert door_at(rules, "lab", weekday).check(visitor) is None
    assert door_at(rules, "lab", berlin("2026-12-02 09:00")).check(visitor) == Refusal.EXPIRED
    locked = DoorAccess(
        kiosk_id="front",
        rules=rules,
        holidays=PublicHolidays(),
        locked_down=lambda: True,
        now=lambda: weekday,
    )
    assert locked.check(staff) == Refusal.LOCKDOWN
    # A change applies to the very next decision: nothing is cached.
    rules.set_person_access(staff, actor=admin, groups=frozenset())
    assert door_at(rules, "front", weekday).check(staff) == Refusal.NO_GROUP_FOR_DOOR


def test_a_deleted_person_is_in_no_group(
    identity_store: SqlIdentityStore, rules: SqlRulesStore, admin: Operator
) -> None:
    person = enroll(identity_store, admin, "Ada")
    identity_store.delete_person(person, admin)
    assert door_at(rules, "front", berlin("2026-12-01 09:00")).check(person) == (
        Refusal.NO_GROUP_FOR_DOOR
    )


def test_an_enroller_sets_access_only_for_the_people_they_enrolled(
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    operator_store: SqlOperatorStore,
    admin: Operator,
    db_engine: Engine,
) -> None:
    bob = operator_store.add_operator("bob", "bcrypt-sha256$unused", Role.ENROLLER, actor=admin)
    carol = operator_store.add_operator("carol", "bcrypt-sha256$unused", Role.ENROLLER, actor=admin)
    ada = enroll(identity_store, bob, "Ada")
    rules.set_person_access(ada, actor=bob, validity=Validity(None, date(2027, 1, 31)))
    assert rules.person_access(ada, actor=bob)[1] == Validity(None, date(2027, 1, 31))
    with pytest.raises(NotAllowed, match="only for the people they enrolled"):
        rules.set_person_access(ada, actor=carol, groups=frozenset())
    with db_engine.connect() as connection:
        denials = connection.execute(
            text("SELECT actor, target FROM audit_events WHERE action = 'permission.denied'")
        ).all()
    assert denials == [("carol", "assign_access")]
    with pytest.raises(NotFound, match="no access group 'nobody'"):
        rules.set_person_access(ada, actor=bob, groups=frozenset({"nobody"}))
    assert rules.person_access(ada, actor=admin)[0] == {"everyone"}


def test_a_refusal_is_stored_with_its_rule_and_the_chain_verifies(
    identity_store: SqlIdentityStore, admin: Operator, audit_log: SqlAuditLog
) -> None:
    person = enroll(identity_store, admin, "Ada")
    refused = access_decision(
        kiosk_id="front",
        outcome=AccessOutcome.REFUSED,
        latency_ms=12.5,
        refusal=Refusal.OUTSIDE_SCHEDULE,
    )
    identity_store.record_access(replace(refused, person_id=person, similarity=0.7))
    (entry,) = audit_log.access_events(10, actor=admin)
    assert entry.outcome is AccessOutcome.REFUSED
    assert entry.refusal is Refusal.OUTSIDE_SCHEDULE
    report = verify_access_chain(audit_log.access_chain(actor=admin))
    assert report.broken is None


def test_a_refused_outcome_without_its_rule_cannot_be_made() -> None:
    with pytest.raises(ValueError, match="refusal"):
        access_decision(kiosk_id="front", outcome=AccessOutcome.REFUSED, latency_ms=1.0)
    with pytest.raises(ValueError, match="refusal"):
        access_decision(
            kiosk_id="front",
            outcome=AccessOutcome.GRANTED,
            latency_ms=1.0,
            refusal=Refusal.LOCKDOWN,
        )


@pytest.fixture
def database_at_0011(pg_server: EmbeddedServer, admin_engine: Engine) -> Iterator[Engine]:
    from alembic import command

    from storage.database import connect
    from storage.migrate import alembic_config
    from tests.conftest import url_for

    name = "kiosk_rules_upgrade"
    with admin_engine.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    engine = connect(url_for(pg_server, name))
    try:
        with engine.connect() as connection:
            command.upgrade(alembic_config(connection), "0011")
            connection.commit()
        yield engine
    finally:
        engine.dispose()
        with admin_engine.connect() as connection:
            connection.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))


def test_an_upgraded_installation_keeps_granting_everyone_it_granted(
    database_at_0011: Engine,
) -> None:
    engine = database_at_0011
    with engine.begin() as connection:
        active = [
            connection.execute(
                text("INSERT INTO people (display_name) VALUES (:n) RETURNING id"), {"n": n}
            ).scalar_one()
            for n in ("Ada", "Bea")
        ]
        gone = connection.execute(
            text(
                "INSERT INTO people (display_name, status, deleted_at) "
                "VALUES (NULL, 'deleted', now()) RETURNING id"
            )
        ).scalar_one()
    upgrade(engine)
    rules = SqlRulesStore(engine)
    admin = SqlOperatorStore(engine).add_first_operator("alice", "x", Role.ADMIN)
    stored = rules.rule_set(actor=admin)
    (group,) = stored.groups
    assert group.name == "everyone"
    assert group.all_doors
    assert group.default
    assert stored.members["everyone"] == frozenset(active)
    assert gone not in stored.members["everyone"]
    night = datetime(2026, 12, 25, 3, 0, tzinfo=UTC)
    for person in active:
        assert door_at(rules, "any-kiosk", night).check(person) is None


def test_enrollments_during_rules_imports_neither_fail_nor_lose_their_group(
    identity_store: SqlIdentityStore, rules: SqlRulesStore, admin: Operator
) -> None:
    """An import replaces every group, and with them every membership: an enrollment
    joining the default group meanwhile waits for it, instead of naming a group the
    import is deleting (an integrity error that would refuse the enrollment)."""
    site = rules.rule_set(actor=admin)
    failures: list[BaseException] = []

    def import_again() -> None:
        try:
            for _ in range(20):
                rules.apply_rule_set(site, actor=admin, dry_run=False)
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    importer = threading.Thread(target=import_again)
    importer.start()
    try:
        enrolled = [enroll(identity_store, admin, f"Person {n}") for n in range(20)]
    finally:
        importer.join(60)
    assert not failures
    # Each import re-applied a file naming none of them: whoever enrolled before the
    # last import left "everyone", as the file says; the rest are in it.
    groups = [rules.person_access(p, actor=admin)[0] for p in enrolled]
    assert all(g in ({"everyone"}, frozenset()) for g in groups)
    later = enroll(identity_store, admin, "After")
    assert rules.person_access(later, actor=admin)[0] == {"everyone"}
