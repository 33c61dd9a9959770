"""Who acts, as their account is now: read and locked inside the action's transaction.

An operator record from a login says only who claims to act. Every store call
made on an operator's behalf first reads their row here, locked until the
action commits, and authorizes against it (core.accounts.permissions): so a
disable, demotion or password reset that commits first refuses the action,
and one that comes later waits for it to finish.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import records
from core.accounts.permissions import Permission, authorize_current
from storage import schema


def act_as(
    session: Session, actor: records.Operator, permission: Permission | None
) -> records.Operator:
    """``actor`` as they are now, authorized for ``permission``, their row share-locked
    until commit (None: an action on their own account).

    Raises SessionExpired if the account changed since the login, NotAllowed if
    the operator may not do this.
    """
    row = session.scalar(
        select(schema.Operator)
        .where(schema.Operator.id == actor.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return authorize_current(actor, operator_record(row) if row else None, permission)


def lock_actor_and_target(
    session: Session, actor: records.Operator, username: str
) -> tuple[schema.Operator | None, schema.Operator | None]:
    """The rows of ``actor`` and of operator ``username`` (one row if the same),
    locked for update in id order, so two admins changing each other's accounts
    queue instead of deadlocking. Returns (actor's row, target's row), None if gone."""
    rows: Sequence[schema.Operator] = session.scalars(
        select(schema.Operator)
        .where(or_(schema.Operator.id == actor.id, schema.Operator.username == username))
        .order_by(schema.Operator.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    actor_row = next((row for row in rows if row.id == actor.id), None)
    target_row = next((row for row in rows if row.username == username), None)
    return actor_row, target_row


def operator_record(row: schema.Operator) -> records.Operator:
    return records.Operator(
        row.id,
        row.username,
        records.Role(row.role),
        row.disabled,
        row.password_hash,
        row.session_epoch,
    )
