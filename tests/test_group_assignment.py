"""Who may put people in which access group, on the real database: an enroller only
in groups an admin opened to enrollers, checked against the stored rules and the
operator's account at each action; and an enrollment refused for a group that does
not exist is audited like any refused enrollment."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine

from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.errors import NotAllowed, UnknownGroup
from core.log_records import LogFilter
from core.records import Operator, Role
from core.rules.model import ALWAYS, AccessGroup, Door, Validity
from core.rules.rule_edits import put_group
from core.rules.rule_set import RuleSet
from core.rules.rules_file import read_rules_file
from core.rules.rules_file_text import rules_file_text
from core.settings import Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage.audit_log import DENIED_ACTION, SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.rules_store import SqlRulesStore
from tests.test_rules_store import enroll

VISITORS = AccessGroup("visitors", "always", all_doors=True, enrollers_may_assign=True)
STAFF = AccessGroup("staff", "always", frozenset({"front"}), default=True)
VAULT = AccessGroup("vault", "always", frozenset({"front"}))


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return operator_store.add_first_operator("alice", "bcrypt-sha256$unused", Role.ADMIN)


@pytest.fixture
def bob(operator_store: SqlOperatorStore, admin: Operator) -> Operator:
    return operator_store.add_operator("bob", "bcrypt-sha256$unused", Role.ENROLLER, actor=admin)


@pytest.fixture
def rules(db_engine: Engine, admin: Operator) -> SqlRulesStore:
    store = SqlRulesStore(db_engine)
    store.apply_rule_set(
        RuleSet(
            doors=(Door("front", "Front door", "Europe/Berlin"),),
            schedules=(ALWAYS,),
            groups=(STAFF, VAULT, VISITORS),
        ),
        actor=admin,
        dry_run=False,
    )
    return store


def denials(audit_log: SqlAuditLog, admin: Operator) -> list[tuple[str, str | None]]:
    found = audit_log.audit_events(100, LogFilter(action=DENIED_ACTION), actor=admin)
    return [(event.actor, event.target) for event in found]


def groups_of(rules: SqlRulesStore, person: uuid.UUID, admin: Operator) -> frozenset[str]:
    return rules.person_access(person, actor=admin)[0]


def test_an_enroller_puts_people_only_in_groups_open_to_enrollers(
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    admin: Operator,
    bob: Operator,
    audit_log: SqlAuditLog,
) -> None:
    people = identity_store.count_people()
    with pytest.raises(NotAllowed, match="may not put people in or take them out of group 'vault'"):
        enroll(identity_store, bob, "Bea", ("visitors", "vault"))
    assert identity_store.count_people() == people  # nothing of Bea was stored
    assert denials(audit_log, admin) == [("bob", "assign_access")]
    bea = enroll(identity_store, bob, "Bea", ("visitors",))
    cy = enroll(identity_store, bob, "Cy")  # no group named: the site's default, closed or not
    assert groups_of(rules, cy, admin) == {"staff"}

    with pytest.raises(NotAllowed, match="group 'staff'"):
        rules.set_person_access(bea, actor=bob, groups=frozenset({"visitors", "staff"}))
    rules.set_person_access(bea, actor=admin, groups=frozenset({"visitors", "vault"}))
    # Taking someone out of a group an admin put them in is an admin's too.
    with pytest.raises(NotAllowed, match="group 'vault'"):
        rules.set_person_access(bea, actor=bob, groups=frozenset({"visitors"}))
    assert groups_of(rules, bea, admin) == {"visitors", "vault"}
    # What an enroller may change, they change: their days, an open group kept as it is.
    rules.set_person_access(bea, actor=bob, validity=Validity(valid_until=None))
    rules.set_person_access(bea, actor=bob, groups=frozenset({"visitors", "vault"}))
    assert len(denials(audit_log, admin)) == 3

    # The rule is the stored one, read at each action: an admin opens "staff", then
    # closes it again.
    rules.edit_rule_set(
        put_group(replace(STAFF, enrollers_may_assign=True), new=False), actor=admin, what="open"
    )
    rules.set_person_access(bea, actor=bob, groups=frozenset({"visitors", "vault", "staff"}))
    rules.edit_rule_set(put_group(STAFF, new=False), actor=admin, what="close")
    with pytest.raises(NotAllowed, match="group 'staff'"):
        rules.set_person_access(bea, actor=bob, groups=frozenset({"visitors", "vault"}))
    assert groups_of(rules, bea, admin) == {"visitors", "vault", "staff"}
    assert len(denials(audit_log, admin)) == 4


def test_a_group_open_to_enrollers_is_kept_through_export_and_import(
    rules: SqlRulesStore, admin: Operator
) -> None:
    stored = rules.rule_set(actor=admin)
    text = rules_file_text(stored)
    assert "enrollers_may_assign = true" in text
    assert read_rules_file(text).rules == stored


@pytest.mark.slow
def test_an_enrollment_refused_for_a_missing_group_is_audited_without_biometric_data(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    rules: SqlRulesStore,
    admin: Operator,
    audit_log: SqlAuditLog,
    settings: Settings,
    yaoming_jpg: Path,
) -> None:
    service = EnrollmentService(face_engine, identity_store, settings.matching)
    images = [("yaoming.jpg", read_image_file(yaoming_jpg, settings.images))]
    with pytest.raises(UnknownGroup, match="no access group 'nowhere'"):
        service.enroll(admin, "Ming Yao", None, images, current_consent(), True, groups=["nowhere"])
    assert identity_store.count_people() == 0
    chain = audit_log.audit_chain(actor=admin)
    refused = [e for e in chain if e.action == "person.enroll_refused"]
    assert [(e.actor, e.target, e.details) for e in refused] == [
        ("alice", None, {"reason": "unknown_group", "images": 1})
    ]
    recorded = json.dumps([[e.actor, e.action, e.target, e.details] for e in chain]).lower()
    for personal in ("ming", "yao", "yaoming.jpg"):
        assert personal not in recorded
