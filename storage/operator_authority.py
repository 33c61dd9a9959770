"""Who acts, as their account is now: read and locked inside the action's transaction.

An operator record from a login says only who claims to act. Every store call
made on an operator's behalf first reads their row here, locked until the
action commits, and authorizes against it (core.accounts.permissions): so a
disable, demotion or password reset that commits first refuses the action,
and one that comes later waits for it to finish.

A refusal found here is audited (``permission.denied``) in a transaction of its
own once the action's has rolled back (storage/transactions.py): recorded
inside, it would roll back with the action; recorded on a second connection
while the action's transaction still held its locks, it would need a second
pooled connection per refusal and its audit append would wait with those locks held.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from core import records
from core.accounts.permissions import Permission, authorize_current
from core.store import DenialLog
from storage import schema
from storage.transactions import after_rollback


def act_as(
    session: Session, actor: records.Operator, permission: Permission | None, denials: DenialLog
) -> records.Operator:
    """``actor`` as they are now, authorized for ``permission``, their row share-locked
    until commit (None: an action on their own account). Call it first in the
    transaction, before any other lock.

    Raises SessionExpired if the account changed since the login, NotAllowed if
    the operator may not do this; either is recorded in ``denials`` once the
    transaction has rolled back.
    """
    row = session.scalar(
        select(schema.Operator)
        .where(schema.Operator.id == actor.id)
        .with_for_update(read=True)
        .execution_options(populate_existing=True)
    )
    return authorize_in(session, actor, row, permission, denials)


def authorize_in(
    session: Session,
    claimed: records.Operator,
    row: schema.Operator | None,
    permission: Permission | None,
    denials: DenialLog,
) -> records.Operator:
    """``authorize_current`` against ``row`` (the claimed operator's, locked by the
    caller), its refusal recorded in ``denials`` after ``session``'s rollback."""
    current = operator_record(row) if row is not None else None
    return authorize_current(claimed, current, permission, _AfterRollback(session, denials))


class _AfterRollback:
    """A DenialLog that records into ``denials`` once ``session`` has rolled back."""

    def __init__(self, session: Session, denials: DenialLog) -> None:
        self._session = session
        self._denials = denials

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        after_rollback(
            self._session,
            lambda: self._denials.record_denial(operator, permission, session_ended=session_ended),
        )


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
