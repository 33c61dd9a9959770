"""Who may do what: one table, checked by every service call."""

from __future__ import annotations

from enum import StrEnum

from core.errors import NotAllowed
from core.records import Operator, Role


class Permission(StrEnum):
    ENROLL = "enroll people"
    IDENTIFY = "identify a face from a photo"
    VIEW_PEOPLE = "view people"
    WITHDRAW_CONSENT = "record a withdrawal of consent"
    DELETE_PEOPLE = "delete people"
    PURGE_EXPIRED = "purge people past their retention"
    MANAGE_OPERATORS = "manage operators"
    READ_AUDIT = "read the audit log"
    VERIFY_AUDIT = "verify the audit log"
    READ_ACCESS_LOG = "read the access log"
    CHANGE_SETTINGS = "change the kiosk settings"
    CONTROL_DOOR = "lock down, release or unlock a door"
    VIEW_DOORS = "see the doors' state"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ENROLLER: frozenset({Permission.ENROLL, Permission.IDENTIFY, Permission.VIEW_PEOPLE}),
    Role.AUDITOR: frozenset(
        {
            Permission.READ_AUDIT,
            Permission.VERIFY_AUDIT,
            Permission.READ_ACCESS_LOG,
            Permission.VIEW_DOORS,
        }
    ),
}


def authorize(operator: Operator, permission: Permission) -> None:
    if operator.disabled:
        raise NotAllowed(f"operator {operator.username} is disabled")
    if permission not in ROLE_PERMISSIONS[operator.role]:
        raise NotAllowed(
            f"operator {operator.username} is {operator.role.value} and may not {permission.value}"
        )
