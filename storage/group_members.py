"""Which access groups a person is in: set at enrollment and by an operator."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from core.errors import NotFound
from storage import rules_schema as rs


def set_groups(session: Session, person_id: uuid.UUID, groups: frozenset[str]) -> None:
    """Make ``groups`` the person's groups, in the caller's transaction; NotFound
    naming the first group that does not exist."""
    ids = dict(
        session.execute(
            select(rs.AccessGroup.name, rs.AccessGroup.id).where(rs.AccessGroup.name.in_(groups))
        ).all()
    )
    missing = sorted(groups - ids.keys())
    if missing:
        raise NotFound(f"no access group {missing[0]!r}; kiosk-admin rules export lists the groups")
    session.execute(delete(rs.GroupMember).where(rs.GroupMember.person_id == person_id))
    if ids:
        session.execute(
            insert(rs.GroupMember), [{"group_id": i, "person_id": person_id} for i in ids.values()]
        )


def join_default_group(session: Session, person_id: uuid.UUID) -> str | None:
    """Put a person enrolled without naming a group in the default group, if the
    site has one; its name, or None."""
    group = session.scalar(select(rs.AccessGroup).where(rs.AccessGroup.is_default))
    if group is None:
        return None
    session.execute(insert(rs.GroupMember).values(group_id=group.id, person_id=person_id))
    return group.name
