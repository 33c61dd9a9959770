"""Which access groups a person is in: set at enrollment and by an operator.

Who may put whom in which group: an admin, any group; an enroller, only groups open
to enrollers (``enrollers_may_assign``, set by an admin in the rules), for the people
whose consent they witnessed (checked by the callers). A person enrolled without
naming a group joins the site's default group, whoever enrolls them: that is the
site's choice, not the enroller's. The role is the operator's as it is in the
caller's transaction (storage.operator_authority.act_as), read again for each action.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from core import records
from core.accounts.permissions import Permission, denied_action
from core.errors import NotAllowed, UnknownGroup
from core.store import DenialLog
from storage import rules_schema as rs
from storage.rules_generation import bump
from storage.transactions import after_rollback

# Any fixed number, other than the enrollment's and the audit chain's. A rules import
# holds it alone: it replaces every group, and with it every membership, so a
# membership written meanwhile (held shared) would vanish with the group it names.
RULES_LOCK = 7_301_520_212


def hold_rules_shared(session: Session) -> None:
    """Wait for a rules import to finish, and keep the next from starting, until the
    caller's transaction ends."""
    session.execute(select(func.pg_advisory_xact_lock_shared(RULES_LOCK)))


def hold_rules_alone(session: Session) -> None:
    """Wait for every import, edit and membership write to finish, and keep the next
    from starting, until the caller's transaction ends (apply_rule_set takes it too)."""
    session.execute(select(func.pg_advisory_xact_lock(RULES_LOCK)))


def set_groups(
    session: Session,
    person_id: uuid.UUID,
    groups: frozenset[str],
    *,
    actor: records.Operator,
    denials: DenialLog,
) -> bool:
    """Make ``groups`` the person's groups, in the caller's transaction, as ``actor``
    (the operator as they are in this transaction); whether anything changed (the
    rules' generation then moves on).

    Raises UnknownGroup naming the first group that does not exist, and NotAllowed
    when ``actor`` is not an admin and the change adds or removes a group not open to
    enrollers (recorded in ``denials`` once the transaction has rolled back)."""
    hold_rules_shared(session)
    named = {
        row.name: row
        for row in session.execute(
            select(
                rs.AccessGroup.name, rs.AccessGroup.id, rs.AccessGroup.enrollers_may_assign
            ).where(rs.AccessGroup.name.in_(groups))
        ).all()
    }
    missing = sorted(groups - named.keys())
    if missing:
        raise UnknownGroup(
            f"no access group {missing[0]!r}; kiosk-admin rules export lists the groups"
        )
    held = {
        row.name: row
        for row in session.execute(
            select(rs.AccessGroup.name, rs.AccessGroup.id, rs.AccessGroup.enrollers_may_assign)
            .join(rs.GroupMember, rs.GroupMember.group_id == rs.AccessGroup.id)
            .where(rs.GroupMember.person_id == person_id)
        ).all()
    }
    if actor.role is not records.Role.ADMIN:
        changed = {**named, **held}
        closed = sorted(
            name
            for name in groups.symmetric_difference(held.keys())
            if not changed[name].enrollers_may_assign
        )
        if closed:
            denied = denied_action(Permission.ASSIGN_ACCESS)
            after_rollback(session, lambda: denials.record_denial(actor, denied))
            raise NotAllowed(
                f"operator {actor.username} is {actor.role.value} and may not put people in "
                f"or take them out of group {closed[0]!r}: only an admin may, unless the "
                "group is open to enrollers (enrollers_may_assign = true in the rules); "
                "ask an admin"
            )
    if set(held) == set(groups):
        return False
    session.execute(delete(rs.GroupMember).where(rs.GroupMember.person_id == person_id))
    if named:
        session.execute(
            insert(rs.GroupMember),
            [{"group_id": row.id, "person_id": person_id} for row in named.values()],
        )
    bump(session)
    return True


def join_default_group(session: Session, person_id: uuid.UUID) -> str | None:
    """Put a person enrolled without naming a group in the default group, if the
    site has one; its name, or None."""
    hold_rules_shared(session)
    group = session.scalar(select(rs.AccessGroup).where(rs.AccessGroup.is_default))
    if group is None:
        return None
    session.execute(insert(rs.GroupMember).values(group_id=group.id, person_id=person_id))
    bump(session)
    return group.name
