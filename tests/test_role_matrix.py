"""Every role against every service action, and every refusal from the command line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine

from core.access.door_commands import DoorCommandKind, DoorCommandService
from core.access.identification import IdentificationService
from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.operators import Authenticator, OperatorService
from core.accounts.permissions import ROLE_PERMISSIONS, Permission
from core.administration.audit import AuditService
from core.administration.shared_settings import SettingsService
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentService
from core.errors import KioskError, NotAllowed
from core.people.people import PeopleService
from core.records import Operator, Role
from core.rules.rule_set import RuleSet
from core.settings import SecuritySettings, Settings
from core.vision.engine import FaceEngine
from storage.audit_log import SqlAuditLog
from storage.backup import BackupSource, make_backup
from storage.door_commands import SqlDoorCommands
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from storage.pg_programs import url_reach
from storage.rules_store import SqlRulesStore
from storage.settings_store import SqlSettingsStore

POLICY = SecuritySettings()
PASSWORDS = {
    Role.ADMIN: "tall-ladder-orange-77",
    Role.ENROLLER: "quiet-river-stone-42",
    Role.AUDITOR: "brown-cedar-window-9",
}
NOBODY = uuid.UUID(int=0)
# A grey frame: identify finds no face in it (allowed in, then refused as no face).
NO_FACE = np.full((240, 320, 3), 127, np.uint8)

Action = Callable[[Operator], object]


@pytest.fixture
def operators_by_role(operator_store: SqlOperatorStore) -> dict[Role, Operator]:
    admin = Authenticator(operator_store, POLICY, "door").create_first_admin(
        "admin1", PASSWORDS[Role.ADMIN]
    )
    service = OperatorService(operator_store, POLICY)
    return {
        Role.ADMIN: admin,
        Role.ENROLLER: service.add(admin, "enroller1", Role.ENROLLER, PASSWORDS[Role.ENROLLER]),
        Role.AUDITOR: service.add(admin, "auditor1", Role.AUDITOR, PASSWORDS[Role.AUDITOR]),
    }


@pytest.fixture
def actions(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    audit_log: SqlAuditLog,
    db_engine: Engine,
    settings: Settings,
    fresh_database: str,
    tmp_path: Path,
) -> list[tuple[str, Permission, Action]]:
    enrollment = EnrollmentService(face_engine, identity_store, settings.matching)
    identification = IdentificationService(face_engine, identity_store, settings.matching, "t")
    people = PeopleService(identity_store, POLICY)
    operators = OperatorService(operator_store, POLICY)
    audit = AuditService(audit_log)
    shared = SettingsService(SqlSettingsStore(db_engine), settings)
    doors = DoorCommandService(SqlDoorCommands(db_engine), settings.door_io)
    consent = current_consent()
    rules = SqlRulesStore(db_engine)
    backups = BackupSource(db_engine, url_reach(fresh_database, None), None, "t", audit_log)
    return [
        (
            "enroll",
            Permission.ENROLL,
            lambda op: enrollment.enroll(op, "Name", None, [], consent, True),
        ),
        ("find people", Permission.VIEW_PEOPLE, lambda op: people.find(op, None, 10)),
        ("show person", Permission.VIEW_PEOPLE, lambda op: people.show(op, NOBODY)),
        (
            "identify",
            Permission.IDENTIFY,
            lambda op: identification.identify(op, NO_FACE, "empty", RecognitionThrottle(POLICY)),
        ),
        (
            "withdraw consent",
            Permission.WITHDRAW_CONSENT,
            lambda op: people.withdraw_consent(op, NOBODY),
        ),
        ("delete person", Permission.DELETE_PEOPLE, lambda op: people.delete(op, NOBODY)),
        ("purge expired", Permission.PURGE_EXPIRED, people.purge_expired),
        (
            "add operator",
            Permission.MANAGE_OPERATORS,
            lambda op: operators.add(op, f"new-{op.username}", Role.AUDITOR, "green-apple-tree-31"),
        ),
        ("list operators", Permission.MANAGE_OPERATORS, operators.operators),
        (
            "reset password",
            Permission.MANAGE_OPERATORS,
            lambda op: operators.reset_password(op, "nobody", "green-apple-tree-31"),
        ),
        (
            "set role",
            Permission.MANAGE_OPERATORS,
            lambda op: operators.set_role(op, "nobody", Role.AUDITOR),
        ),
        (
            "disable operator",
            Permission.MANAGE_OPERATORS,
            lambda op: operators.set_disabled(op, "nobody", disabled=True),
        ),
        ("read audit", Permission.READ_AUDIT, lambda op: audit.events(op, 10)),
        ("verify audit", Permission.VERIFY_AUDIT, audit.verify),
        ("re-anchor audit", Permission.REANCHOR_AUDIT, audit.reanchor),
        ("read access log", Permission.READ_ACCESS_LOG, lambda op: audit.access_events(op, 10)),
        (
            "change settings",
            Permission.CHANGE_SETTINGS,
            lambda op: shared.change(op, {"matching.margin": 0.06}),
        ),
        (
            "lock a door down",
            Permission.CONTROL_DOOR,
            lambda op: doors.request(op, kiosk_id="t", kind=DoorCommandKind.LOCKDOWN, reason="r"),
        ),
        ("see the doors", Permission.VIEW_DOORS, doors.reports),
        ("read the access rules", Permission.READ_RULES, lambda op: rules.rule_set(actor=op)),
        (
            "change the access rules",
            Permission.EDIT_RULES,
            lambda op: rules.apply_rule_set(RuleSet(), actor=op, dry_run=True),
        ),
        (
            "set a person's access",
            Permission.ASSIGN_ACCESS,
            lambda op: rules.set_person_access(NOBODY, actor=op, groups=frozenset()),
        ),
        (
            "back up",
            Permission.BACKUP,
            lambda op: make_backup(
                backups, tmp_path / f"{op.username}.backup", None, actor=op, timeout_s=60
            ),
        ),
    ]


def test_the_matrix_covers_every_permission(actions: list[tuple[str, Permission, Action]]) -> None:
    assert {permission for _, permission, _ in actions} == set(Permission)


@pytest.mark.parametrize("role", list(Role))
def test_each_role_is_refused_exactly_what_it_lacks(
    role: Role,
    operators_by_role: dict[Role, Operator],
    actions: list[tuple[str, Permission, Action]],
) -> None:
    operator = operators_by_role[role]
    for name, permission, action in actions:
        if permission not in ROLE_PERMISSIONS[role]:
            with pytest.raises(NotAllowed, match=re.escape(permission.value)):
                action(operator)
            continue
        try:
            action(operator)
        except NotAllowed as refusal:
            pytest.fail(f"{role} was refused {name}: {refusal}")
        except KioskError:  # allowed in, then e.g. NotFound for the placeholder person
            pass


KIOSK_ADMIN = str(Path(sys.executable).with_name("kiosk-admin"))
RULES_FILE = "{rules file}"
"""Stands for a valid rules file the test writes."""
CLI_ACTIONS: list[tuple[Permission, tuple[str, ...]]] = [
    (Permission.ENROLL, ("enroll", "--name", "X", "--image", "missing.jpg", "--consent")),
    (Permission.IDENTIFY, ("identify", "--image", "missing.jpg")),
    (Permission.VIEW_PEOPLE, ("people",)),
    (Permission.VIEW_PEOPLE, ("show", str(NOBODY))),
    (Permission.WITHDRAW_CONSENT, ("withdraw-consent", str(NOBODY))),
    (Permission.DELETE_PEOPLE, ("delete", str(NOBODY), "--yes")),
    (Permission.PURGE_EXPIRED, ("purge-expired",)),
    (Permission.READ_AUDIT, ("audit",)),
    (Permission.VERIFY_AUDIT, ("audit", "verify")),
    (Permission.REANCHOR_AUDIT, ("audit", "re-anchor")),
    (Permission.READ_ACCESS_LOG, ("access-log",)),
    (Permission.CHANGE_SETTINGS, ("settings", "set", "matching.margin=0.06")),
    (Permission.CONTROL_DOOR, ("door", "lockdown", "--kiosk", "t", "--reason", "r")),
    (Permission.VIEW_DOORS, ("door", "status")),
    (Permission.MANAGE_OPERATORS, ("operators", "add", "zed", "--role", "auditor")),
    (Permission.MANAGE_OPERATORS, ("operators", "list")),
    (Permission.MANAGE_OPERATORS, ("operators", "disable", "admin1")),
    (Permission.MANAGE_OPERATORS, ("operators", "enable", "admin1")),
    (Permission.MANAGE_OPERATORS, ("operators", "reset-password", "admin1")),
    (Permission.MANAGE_OPERATORS, ("operators", "set-role", "admin1", "auditor")),
    (Permission.READ_RULES, ("rules", "export")),
    (Permission.READ_RULES, ("rules", "check", "--person", str(NOBODY), "--door", "t")),
    (Permission.EDIT_RULES, ("rules", "import", RULES_FILE)),
    (Permission.EDIT_RULES, ("doors", "rename", "t", "New name")),
    (Permission.EDIT_RULES, ("doors", "set", "t", "--mode", "face")),
    (Permission.VIEW_DOORS, ("doors", "list")),
    (Permission.VIEW_PEOPLE, ("people", "access", str(NOBODY))),
    (Permission.ASSIGN_ACCESS, ("people", "access", str(NOBODY), "--no-groups")),
    (Permission.BACKUP, ("backup", "--out", "refused.backup")),
]


def test_the_cli_matrix_covers_every_permission() -> None:
    assert {permission for permission, _ in CLI_ACTIONS} == set(Permission)


@pytest.mark.parametrize("role", [Role.ENROLLER, Role.AUDITOR])
def test_the_cli_refuses_each_lacking_action_with_exit_4(
    role: Role, operators_by_role: dict[Role, Operator], fresh_database: str, tmp_path: Path
) -> None:
    username = operators_by_role[role].username
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    env.update(KIOSK_DATA_DIR=str(tmp_path), KIOSK_PASSWORD=PASSWORDS[role])
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[[schedule]]\nname = "office"\nmon = ["08:00-18:00"]\n')
    lacking = [
        tuple(str(rules_file) if arg == RULES_FILE else arg for arg in args)
        for permission, args in CLI_ACTIONS
        if permission not in ROLE_PERMISSIONS[role]
    ]
    assert lacking
    for args in lacking:
        result = subprocess.run(
            [KIOSK_ADMIN, "--database-url", fresh_database, *args, "--operator", username],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        assert result.returncode == 4, (args, result.stderr)
        assert f"is {role.value} and may not" in result.stderr, (args, result.stderr)
