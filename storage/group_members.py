"""Which access groups a person is in: set at enrollment and by an operator."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from core.errors import UnknownGroup
from storage import rules_schema as rs

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


def set_groups(session: Session, person_id: uuid.UUID, groups: frozenset[str]) -> None:
    """Make ``groups`` the person's groups, in the caller's transaction; UnknownGroup
    naming the first group that does not exist."""
    hold_rules_shared(session)
    ids = dict(
        session.execute(
            select(rs.AccessGroup.name, rs.AccessGroup.id).where(rs.AccessGroup.name.in_(groups))
        ).all()
    )
    missing = sorted(groups - ids.keys())
    if missing:
        raise UnknownGroup(
            f"no access group {missing[0]!r}; kiosk-admin rules export lists the groups"
        )
    session.execute(delete(rs.GroupMember).where(rs.GroupMember.person_id == person_id))
    if ids:
        session.execute(
            insert(rs.GroupMember), [{"group_id": i, "person_id": person_id} for i in ids.values()]
        )


def join_default_group(session: Session, person_id: uuid.UUID) -> str | None:
    """Put a person enrolled without naming a group in the default group, if the
    site has one; its name, or None."""
    hold_rules_shared(session)
    group = session.scalar(select(rs.AccessGroup).where(rs.AccessGroup.is_default))
    if group is None:
        return None
    session.execute(insert(rs.GroupMember).values(group_id=group.id, person_id=person_id))
    return group.name
