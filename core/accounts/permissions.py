"""Who may do what: one table, checked by every service call; refusals are audited."""

from __future__ import annotations

from enum import StrEnum

from core.errors import NotAllowed
from core.records import Operator, Role
from core.store import DenialLog


class Permission(StrEnum):
    ENROLL = "enroll people"
    VIEW_PEOPLE = "view people"
    WITHDRAW_CONSENT = "record a withdrawal of consent"
    DELETE_PEOPLE = "delete people"
    PURGE_EXPIRED = "purge people past their retention"
    MANAGE_OPERATORS = "manage operators"
    READ_AUDIT = "read the audit log"
    VERIFY_AUDIT = "verify the audit log"
    REANCHOR_AUDIT = "re-anchor the audit log"
    READ_ACCESS_LOG = "read the access log"
    CHANGE_SETTINGS = "change the kiosk settings"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ENROLLER: frozenset({Permission.ENROLL, Permission.VIEW_PEOPLE}),
    Role.AUDITOR: frozenset(
        {Permission.READ_AUDIT, Permission.VERIFY_AUDIT, Permission.READ_ACCESS_LOG}
    ),
}


def authorize(operator: Operator, permission: Permission, denials: DenialLog) -> None:
    """Raise NotAllowed if ``operator`` may not; the refusal is recorded in ``denials``
    first (the caller's store), so the audit log shows every attempt."""
    if operator.disabled:
        denials.record_denial(operator, permission.name.lower())
        raise NotAllowed(f"operator {operator.username} is disabled")
    if permission not in ROLE_PERMISSIONS[operator.role]:
        denials.record_denial(operator, permission.name.lower())
        raise NotAllowed(
            f"operator {operator.username} is {operator.role.value} and may not {permission.value}"
        )
