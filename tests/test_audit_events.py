"""What the audit log records besides changes: logins, refusals, refused enrollments.

None of it may hold a password, a typed-in unknown username, a person's name or
anything biometric.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from core.accounts.operators import Authenticator, OperatorService
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.errors import (
    AlreadyEnrolled,
    AuthenticationFailed,
    ConsentMissing,
    LoginLocked,
    NotAllowed,
    QualityRejected,
    SessionExpired,
)
from core.log_records import AuditEntry
from core.people.people import PeopleService
from core.records import Operator, Role
from core.settings import SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file
from storage.audit_log import SqlAuditLog
from storage.identity_store import SqlIdentityStore
from storage.login_attempts import UNKNOWN_USERNAME
from storage.operator_store import SqlOperatorStore

POLICY = SecuritySettings()
ADMIN_PASSWORD = "tall-ladder-orange-77"
ENROLLER_PASSWORD = "quiet-river-stone-42"
KIOSK_ADMIN = str(Path(sys.executable).with_name("kiosk-admin"))


@pytest.fixture
def admin(operator_store: SqlOperatorStore) -> Operator:
    return Authenticator(operator_store, POLICY, "door").create_first_admin("alice", ADMIN_PASSWORD)


@pytest.fixture
def enroller(operator_store: SqlOperatorStore, admin: Operator) -> Operator:
    return OperatorService(operator_store, POLICY).add(
        admin, "erin", Role.ENROLLER, ENROLLER_PASSWORD
    )


def everything_recorded(audit_log: SqlAuditLog, reader: Operator) -> str:
    return json.dumps(
        [[e.actor, e.action, e.target, e.details] for e in audit_log.audit_chain(actor=reader)],
        ensure_ascii=False,
    ).lower()


def events_named(audit_log: SqlAuditLog, reader: Operator, action: str) -> list[AuditEntry]:
    return [e for e in audit_log.audit_chain(actor=reader) if e.action == action]


def test_a_login_is_audited_with_its_kiosk(
    operator_store: SqlOperatorStore, admin: Operator, audit_log: SqlAuditLog
) -> None:
    Authenticator(operator_store, POLICY, "door-3").authenticate("Alice", ADMIN_PASSWORD)
    (login,) = events_named(audit_log, admin, "login.succeeded")
    assert (login.actor, login.target, login.details) == ("alice", "alice", {"kiosk": "door-3"})
    assert ADMIN_PASSWORD not in everything_recorded(audit_log, admin)


def test_failed_logins_are_audited_without_what_was_typed(
    operator_store: SqlOperatorStore, admin: Operator, audit_log: SqlAuditLog
) -> None:
    door = Authenticator(operator_store, POLICY, "door-3")
    wrong_password = "not-the-right-one-17"
    password_in_the_username_box = "Velvet-Harbour-Lamp-99"
    with pytest.raises(AuthenticationFailed):
        door.authenticate("alice", wrong_password)
    with pytest.raises(AuthenticationFailed):
        door.authenticate(password_in_the_username_box, "anything at all")
    failures = events_named(audit_log, admin, "login.failed")
    assert [(e.actor, e.target) for e in failures] == [
        ("system", "alice"),
        ("system", UNKNOWN_USERNAME),
    ]
    assert all(e.details["kiosk"] == "door-3" for e in failures)
    recorded = everything_recorded(audit_log, admin)
    for secret in (wrong_password, password_in_the_username_box, "anything at all"):
        assert secret.lower() not in recorded


class WrongEveryTime:
    """A password check that always fails, without bcrypt's cost."""

    def verify(self, password: str, stored: str) -> bool:
        return False


def test_a_failure_that_locks_is_audited_as_the_lock_and_the_failure(
    operator_store: SqlOperatorStore, admin: Operator, audit_log: SqlAuditLog
) -> None:
    """The lock is written when the attempt is reserved, the failure once its check failed."""
    door = Authenticator(operator_store, POLICY, "door-3", WrongEveryTime())
    for _ in range(POLICY.login_max_failures - 1):
        with pytest.raises(AuthenticationFailed):
            door.authenticate("alice", "wrong")
    with pytest.raises(LoginLocked):
        door.authenticate("alice", "wrong")
    logins = [e for e in audit_log.audit_chain(actor=admin) if e.action.startswith("login.")]
    assert [(e.action, e.details.get("failures")) for e in logins] == [
        *(("login.failed", n) for n in range(1, POLICY.login_max_failures)),
        ("login.locked", POLICY.login_max_failures),
        ("login.failed", POLICY.login_max_failures),
    ]
    assert all(e.target == "alice" for e in logins)


def test_a_permission_refused_is_audited_before_the_refusal(
    identity_store: SqlIdentityStore, admin: Operator, enroller: Operator, audit_log: SqlAuditLog
) -> None:
    people = PeopleService(identity_store, POLICY)
    with pytest.raises(NotAllowed, match="may not purge people"):
        people.purge_expired(enroller)
    (denial,) = events_named(audit_log, admin, "permission.denied")
    assert (denial.actor, denial.target) == ("erin", "purge_expired")
    assert denial.details == {"role": "enroller", "disabled": False}


def test_a_disabled_operator_refused_is_audited(
    operator_store: SqlOperatorStore,
    admin: Operator,
    enroller: Operator,
    audit_log: SqlAuditLog,
) -> None:
    service = OperatorService(operator_store, POLICY)
    service.set_disabled(admin, "erin", disabled=True)
    disabled = operator_store.find_operator("erin")
    assert disabled is not None
    with pytest.raises(NotAllowed, match="disabled"):
        service.operators(disabled)
    with pytest.raises(NotAllowed, match="disabled"):
        service.change_own_password(disabled, "green-apple-tree-31")
    denials = events_named(audit_log, admin, "permission.denied")
    assert [(e.target, e.details["disabled"]) for e in denials] == [
        ("manage_operators", True),
        ("change_own_password", True),
    ]


def test_a_refusal_found_in_the_actions_own_transaction_is_audited_apart(
    operator_store: SqlOperatorStore,
    identity_store: SqlIdentityStore,
    admin: Operator,
    enroller: Operator,
    audit_log: SqlAuditLog,
) -> None:
    """The service's check passes on the session's record; the store's, on the account
    as it is now, refuses. Recorded in the action's transaction, the denial would roll
    back with it."""
    session = Authenticator(operator_store, POLICY, "door-3").authenticate(
        "erin", ENROLLER_PASSWORD
    )
    OperatorService(operator_store, POLICY).set_disabled(admin, "erin", disabled=True)
    with pytest.raises(SessionExpired):
        PeopleService(identity_store, POLICY).find(session, None, 10)
    (denial,) = events_named(audit_log, admin, "permission.denied")
    assert (denial.actor, denial.target) == ("erin", "view_people")
    assert denial.details == {"role": "enroller", "disabled": True, "session_ended": True}


def test_a_store_call_refused_in_its_transaction_is_audited(
    identity_store: SqlIdentityStore,
    admin: Operator,
    enroller: Operator,
    audit_log: SqlAuditLog,
) -> None:
    with pytest.raises(NotAllowed, match="may not delete people"):
        identity_store.delete_person(uuid.uuid4(), enroller)
    (denial,) = events_named(audit_log, admin, "permission.denied")
    assert (denial.actor, denial.target) == ("erin", "delete_people")
    assert denial.details == {"role": "enroller", "disabled": False}


def test_the_command_line_audits_a_refused_command(
    fresh_database: str,
    admin: Operator,
    enroller: Operator,
    audit_log: SqlAuditLog,
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(tmp_path), KIOSK_PASSWORD=ENROLLER_PASSWORD)
    refused = subprocess.run(
        [KIOSK_ADMIN, "--database-url", fresh_database, "audit", "--operator", "erin"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 4, refused.stderr
    assert [e.action for e in audit_log.audit_chain(actor=admin)][-2:] == [
        "login.succeeded",
        "permission.denied",
    ]
    (denial,) = events_named(audit_log, admin, "permission.denied")
    assert (denial.actor, denial.target) == ("erin", "read_audit")


@pytest.fixture
def enrollment(
    face_engine: FaceEngine, identity_store: SqlIdentityStore, settings: Settings
) -> EnrollmentService:
    return EnrollmentService(face_engine, identity_store, settings.matching)


@pytest.mark.slow
def test_refused_enrollments_are_audited_with_a_reason_and_no_name(
    enrollment: EnrollmentService,
    admin: Operator,
    enroller: Operator,
    audit_log: SqlAuditLog,
    settings: Settings,
    yaoming_jpg: Path,
    photos: Path,
) -> None:
    consent = current_consent()
    yao = [("yaoming.jpg", read_image_file(yaoming_jpg, settings.images))]
    no_face = [("no_face.png", read_image_file(photos / "no_face.png", settings.images))]
    with pytest.raises(ConsentMissing):
        enrollment.enroll(enroller, "Ming Yao", None, yao, consent, consent_given=False)
    with pytest.raises(QualityRejected):
        enrollment.enroll(enroller, "Nobody Here", None, no_face, consent, consent_given=True)
    enrollment.enroll(enroller, "Ming Yao", "badge-1", yao, consent, consent_given=True)
    with pytest.raises(AlreadyEnrolled):
        enrollment.enroll(enroller, "Ming Yao Again", "badge-2", yao, consent, consent_given=True)
    refused = events_named(audit_log, admin, "person.enroll_refused")
    assert [e.details for e in refused] == [
        {"reason": "no_consent", "images": 1},
        {"reason": "face_quality", "images": 1},
        {"reason": "already_enrolled", "images": 1},
    ]
    assert all(e.actor == "erin" and e.target is None for e in refused)
    recorded = everything_recorded(audit_log, admin)
    for personal in ("ming", "yao", "nobody", "badge", "yaoming.jpg", "no_face.png"):
        assert personal not in recorded


def test_an_enrollment_by_someone_who_may_not_is_a_denial_not_a_refusal(
    identity_store: SqlIdentityStore,
    admin: Operator,
    operator_store: SqlOperatorStore,
    audit_log: SqlAuditLog,
) -> None:
    auditor = OperatorService(operator_store, POLICY).add(
        admin, "aud", Role.AUDITOR, "brown-cedar-window-9"
    )
    # The permission is checked before the engine is touched: none is needed here.
    service = EnrollmentService(
        None,  # type: ignore[arg-type]
        identity_store,
        Settings().matching,
    )
    with pytest.raises(NotAllowed, match="may not enroll people"):
        service.enroll(auditor, "Name", None, [], current_consent(), consent_given=True)
    assert events_named(audit_log, admin, "person.enroll_refused") == []
    (denial,) = events_named(audit_log, admin, "permission.denied")
    assert (denial.actor, denial.target) == ("aud", "enroll")


def test_a_photo_the_command_line_cannot_read_is_a_refused_enrollment(
    admin_cli, audit_log: SqlAuditLog, operator_store: SqlOperatorStore, photos: Path
) -> None:
    refused = admin_cli(
        "enroll",
        "--name",
        "Grace Hopper",
        "--image",
        photos / "not_an_image.jpg",
        "--consent",
        "--operator",
        "alice",
    )
    assert refused.returncode == 3, refused.stderr
    alice = operator_store.find_operator("alice")
    assert alice is not None
    (event,) = events_named(audit_log, alice, "person.enroll_refused")
    assert (event.actor, event.details) == ("alice", {"reason": "unreadable_image", "images": 1})
    recorded = everything_recorded(audit_log, alice)
    assert "hopper" not in recorded
    assert "not_an_image" not in recorded
