"""Erasing people: their templates, consent, groups and PINs, each erasure audited.

One person at a time for a deletion or a withdrawal of consent (``erase``), many
at once for the retention purge (``erase_many``: a few statements for the lot,
one audit event per person, appended together). The callers hold the people's rows
locked in their transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, update
from sqlalchemy.orm import Session

from core import records
from storage import rules_schema as rs
from storage import schema
from storage.audit_log import append_audit, append_audit_batch
from storage.pin_schema import PersonPin


def erase(
    session: Session,
    person: schema.Person,
    actor: records.Operator,
    action: str,
    forget_identity: bool,
) -> records.Deletion:
    templates = _rowcount(
        session.execute(
            delete(schema.FaceTemplate).where(schema.FaceTemplate.person_id == person.id)
        )
    )
    consents = _rowcount(
        session.execute(
            update(schema.ConsentRecord)
            .where(
                schema.ConsentRecord.person_id == person.id,
                schema.ConsentRecord.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=func.now(), withdrawn_by=actor.id)
        )
    )
    if forget_identity:
        person.status = records.PersonStatus.DELETED.value
        person.display_name = None
        person.external_ref = None
        person.deleted_at = func.now()
        session.execute(delete(rs.GroupMember).where(rs.GroupMember.person_id == person.id))
    # Their PINs go with their templates: nobody passes a face-and-PIN door without both.
    session.execute(delete(PersonPin).where(PersonPin.person_id == person.id))
    append_audit(
        session,
        actor.username,
        action,
        str(person.id),
        {"templates_deleted": templates, "consents_withdrawn": consents},
    )
    return records.Deletion(person.id, templates, consents)


def erase_many(
    session: Session, people: list[uuid.UUID], actor: records.Operator, action: str
) -> list[uuid.UUID]:
    """``erase`` with ``forget_identity`` for many locked people at once: a few
    statements for the lot, one audit event per person."""
    if not people:
        return []
    templates = Counter(
        session.scalars(
            delete(schema.FaceTemplate)
            .where(schema.FaceTemplate.person_id.in_(people))
            .returning(schema.FaceTemplate.person_id)
        )
    )
    consents = Counter(
        session.scalars(
            update(schema.ConsentRecord)
            .where(
                schema.ConsentRecord.person_id.in_(people),
                schema.ConsentRecord.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=func.now(), withdrawn_by=actor.id)
            .returning(schema.ConsentRecord.person_id)
        )
    )
    session.execute(
        update(schema.Person)
        .where(schema.Person.id.in_(people))
        .values(
            status=records.PersonStatus.DELETED.value,
            display_name=None,
            external_ref=None,
            deleted_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(rs.GroupMember).where(rs.GroupMember.person_id.in_(people)))
    session.execute(delete(PersonPin).where(PersonPin.person_id.in_(people)))
    append_audit_batch(
        session,
        actor.username,
        [
            (
                action,
                str(person),
                {"templates_deleted": templates[person], "consents_withdrawn": consents[person]},
            )
            for person in people
        ],
    )
    return people


def _rowcount(result: object) -> int:
    return int(cast(CursorResult[Any], result).rowcount)
