"""Managing operators on the real database."""

from __future__ import annotations

import pytest

from core.accounts.operators import Authenticator, OperatorService
from core.errors import AuthenticationFailed, InvalidValue, NotAllowed, NotFound, PasswordRejected
from core.records import Operator, Role
from core.settings import SecuritySettings
from storage.audit_log import SqlAuditLog
from storage.operator_store import SqlOperatorStore

POLICY = SecuritySettings()
ADMIN_PASSWORD = "tall-ladder-orange-77"
BOB_PASSWORD = "quiet-river-stone-42"


@pytest.fixture
def authenticator(operator_store: SqlOperatorStore) -> Authenticator:
    return Authenticator(operator_store, POLICY, "door-1")


@pytest.fixture
def service(operator_store: SqlOperatorStore) -> OperatorService:
    return OperatorService(operator_store, POLICY)


@pytest.fixture
def admin(authenticator: Authenticator) -> Operator:
    return authenticator.create_first_admin("alice", ADMIN_PASSWORD)


def test_add_list_and_log_in(
    service: OperatorService, authenticator: Authenticator, admin: Operator
) -> None:
    service.add(admin, "Bob", Role.ENROLLER, BOB_PASSWORD)
    assert [(o.username, o.role) for o in service.operators(admin)] == [
        ("alice", Role.ADMIN),
        ("bob", Role.ENROLLER),
    ]
    assert authenticator.authenticate("bob", BOB_PASSWORD).role is Role.ENROLLER
    with pytest.raises(NotAllowed, match="already exists"):
        service.add(admin, "bob", Role.AUDITOR, BOB_PASSWORD)
    with pytest.raises(PasswordRejected):
        service.add(admin, "carol", Role.AUDITOR, "password1234")


def test_a_disabled_operator_cannot_log_in(
    service: OperatorService, authenticator: Authenticator, admin: Operator
) -> None:
    service.add(admin, "bob", Role.ENROLLER, BOB_PASSWORD)
    service.set_disabled(admin, "bob", disabled=True)
    with pytest.raises(AuthenticationFailed, match="unknown username or wrong password"):
        authenticator.authenticate("bob", BOB_PASSWORD)
    service.set_disabled(admin, "bob", disabled=False)
    assert authenticator.authenticate("bob", BOB_PASSWORD).username == "bob"


def test_admins_cannot_lock_themselves_out(service: OperatorService, admin: Operator) -> None:
    with pytest.raises(NotAllowed, match="cannot disable their own"):
        service.set_disabled(admin, "alice", disabled=True)
    with pytest.raises(NotAllowed, match="own admin role"):
        service.set_role(admin, "alice", Role.AUDITOR)


def test_roles_change_and_unknown_operators_are_not_found(
    service: OperatorService, authenticator: Authenticator, admin: Operator
) -> None:
    service.add(admin, "bob", Role.ENROLLER, BOB_PASSWORD)
    service.set_role(admin, "bob", Role.AUDITOR)
    assert authenticator.authenticate("bob", BOB_PASSWORD).role is Role.AUDITOR
    with pytest.raises(NotFound):
        service.set_role(admin, "nobody", Role.AUDITOR)


def test_change_own_password(
    service: OperatorService, authenticator: Authenticator, admin: Operator
) -> None:
    service.add(admin, "bob", Role.AUDITOR, BOB_PASSWORD)
    bob = authenticator.authenticate("bob", BOB_PASSWORD)
    with pytest.raises(InvalidValue, match="same as the old"):
        service.change_own_password(bob, BOB_PASSWORD)
    service.change_own_password(bob, "brown-cedar-window-9")
    with pytest.raises(AuthenticationFailed):
        authenticator.authenticate("bob", BOB_PASSWORD)
    assert authenticator.authenticate("bob", "brown-cedar-window-9").username == "bob"


def test_operator_changes_are_audited_without_secrets(
    service: OperatorService, admin: Operator, audit_log: SqlAuditLog
) -> None:
    service.add(admin, "bob", Role.ENROLLER, BOB_PASSWORD)
    service.reset_password(admin, "bob", "brown-cedar-window-9")
    service.set_role(admin, "bob", Role.AUDITOR)
    service.set_disabled(admin, "bob", disabled=True)
    events = audit_log.audit_events(10, actor=admin)
    assert [e.action for e in events][:4] == [
        "operator.disable",
        "operator.set_role",
        "operator.reset_password",
        "operator.create",
    ]
    recorded = " ".join(f"{e.details}" for e in events)
    assert "brown-cedar" not in recorded
    assert "bcrypt" not in recorded
