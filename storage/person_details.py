"""A person's name and badge number changed (core.enrollment.person_details)."""

from __future__ import annotations

import uuid

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from core import records
from core.accounts.permissions import Permission, denied_action
from core.errors import AlreadyEnrolled, NotAllowed, NotFound
from core.records import Role
from core.rules.person_validity import Keep
from storage import schema
from storage.audit_log import append_audit, record_denial
from storage.operator_authority import act_as
from storage.transactions import after_rollback, transaction

_ACTIVE = records.PersonStatus.ACTIVE.value


class SqlPersonDetails:
    """Thread-safe: a Session per call."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def change_details(
        self,
        person_id: uuid.UUID,
        *,
        actor: records.Operator,
        display_name: str | Keep,
        external_ref: str | Keep | None,
    ) -> None:
        try:
            with transaction(self._sessions) as session:
                current = act_as(session, actor, Permission.ASSIGN_ACCESS, self)
                person = session.scalar(
                    select(schema.Person)
                    .where(schema.Person.id == person_id, schema.Person.status == _ACTIVE)
                    .with_for_update()
                )
                if person is None:
                    raise NotFound(f"no enrolled person {person_id}")
                witnessed = session.scalar(
                    select(schema.ConsentRecord.id).where(
                        schema.ConsentRecord.person_id == person_id,
                        schema.ConsentRecord.witnessed_by == current.id,
                    )
                )
                if current.role is not Role.ADMIN and witnessed is None:
                    denied = denied_action(Permission.ASSIGN_ACCESS)
                    after_rollback(session, lambda: self.record_denial(current, denied))
                    raise NotAllowed(
                        f"operator {current.username} may change only the people they "
                        "enrolled; ask an admin"
                    )
                changed = []
                if not isinstance(display_name, Keep) and display_name != person.display_name:
                    person.display_name = display_name
                    changed.append("name")
                if not isinstance(external_ref, Keep) and external_ref != person.external_ref:
                    person.external_ref = external_ref
                    changed.append("badge")
                session.flush()
                if changed:
                    # Which fields, never their values: the audit log is kept for ever.
                    details = {"changed": changed}
                    append_audit(
                        session, current.username, "person.details_changed", str(person_id), details
                    )
        except IntegrityError as error:
            raise AlreadyEnrolled(
                "that badge already belongs to another enrolled person; use another or "
                "change theirs first"
            ) from error
