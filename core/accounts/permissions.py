"""Who may do what: one table, checked by every service call, and again by the
store against the operator's row as it is when the action runs.

Every refusal, whichever check makes it, is handed to a ``DenialLog`` before it
is raised, so the audit log shows every attempt (the store records it in a
transaction of its own: the refused action's rollback must not take it along).
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import NotAllowed, SessionExpired
from core.records import Operator, Role
from core.store import DenialLog


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
    REANCHOR_AUDIT = "re-anchor the audit log"
    READ_ACCESS_LOG = "read the access log"
    CHANGE_SETTINGS = "change the kiosk settings"
    CONTROL_DOOR = "lock down, release or unlock a door"
    VIEW_DOORS = "see the doors' state"
    READ_RULES = "read the access rules"
    EDIT_RULES = "change the access rules and doors"
    ASSIGN_ACCESS = "set a person's access groups and validity"
    BACKUP = "back up or restore the whole database, or export templates"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.ENROLLER: frozenset(
        {
            Permission.ENROLL,
            Permission.IDENTIFY,
            Permission.VIEW_PEOPLE,
            Permission.READ_RULES,
            Permission.ASSIGN_ACCESS,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.READ_AUDIT,
            Permission.VERIFY_AUDIT,
            Permission.READ_ACCESS_LOG,
            Permission.VIEW_DOORS,
            Permission.READ_RULES,
        }
    ),
}


OWN_ACCOUNT = "change_own_password"
"""What a refused action on one's own account (``permission`` None) is audited as."""


def denied_action(permission: Permission | None) -> str:
    """The name a refusal of ``permission`` is audited under ("delete_people")."""
    return OWN_ACCOUNT if permission is None else permission.name.lower()


def authorize(operator: Operator, permission: Permission, denials: DenialLog) -> None:
    """Raise NotAllowed if ``operator`` may not; the refusal is recorded in ``denials``
    first (the caller's store), so the audit log shows every attempt."""
    if operator.disabled:
        denials.record_denial(operator, denied_action(permission))
        raise NotAllowed(f"operator {operator.username} is disabled")
    if permission not in ROLE_PERMISSIONS[operator.role]:
        denials.record_denial(operator, denied_action(permission))
        raise NotAllowed(
            f"operator {operator.username} is {operator.role.value} and may not {permission.value}"
        )


def authorize_current(
    claimed: Operator,
    current: Operator | None,
    permission: Permission | None,
    denials: DenialLog,
) -> Operator:
    """Authorize an action against the operator's account as it is now.

    ``claimed`` is who the session says acts, as read at login; ``current`` is
    their row read (and locked) in the action's own transaction, None if it is
    gone. ``permission`` None is an action on one's own account, which any
    enabled operator may take. Returns ``current``. A refusal is recorded in
    ``denials`` first, as ``authorize`` does.

    Raises SessionExpired if the account changed since login (disabled, new
    role, new password: the store bumps its session epoch), else NotAllowed as
    ``authorize`` does.
    """
    if current is None or current.session_epoch != claimed.session_epoch:
        denials.record_denial(current or claimed, denied_action(permission), session_ended=True)
        # No name: a kiosk shows this on its public door screen when it logs out.
        raise SessionExpired(
            "the operator session ended: the account was changed since the login "
            "(disabled, new role or new password); log in again"
        )
    if permission is None:
        if current.disabled:
            denials.record_denial(current, OWN_ACCOUNT)
            raise NotAllowed(f"operator {current.username} is disabled")
    else:
        authorize(current, permission, denials)
    return current


def permission_to_change(
    actor: Operator, username: str, *, only_password: bool
) -> Permission | None:
    """What changing operator ``username``'s account needs: nothing more than being
    enabled to set one's own password, MANAGE_OPERATORS for anything else."""
    if only_password and username == actor.username:
        return None
    return Permission.MANAGE_OPERATORS
