"""More templates for an enrolled person (core.enrollment.photo_addition).

Every check and the insert are one transaction under the enrollment lock
(storage.person_enrollment): an enrollment of the same face elsewhere, a withdrawal
of consent, a deletion or another addition waits or is waited for, so none of the
checks can be outrun by another kiosk or process.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.enrollment.photo_addition import PHOTOS_ADDED
from core.errors import (
    AlreadyEnrolled,
    ConsentMissing,
    InvalidValue,
    NotAllowed,
    NotFound,
    QualityRejected,
)
from storage import schema
from storage.audit_log import append_audit, record_apart, record_denial
from storage.operator_authority import act_as
from storage.person_enrollment import take_enrollment_lock
from storage.transactions import transaction

_ACTIVE = records.PersonStatus.ACTIVE.value
_OWN_SIMILARITY = text(
    """
    SELECT max(1 - (embedding <=> :query)) FROM face_templates
    WHERE person_id = :person AND model = :model
    """
)
# Exact, as the enrollment's duplicate check (storage.person_enrollment.ENROLLED_FACE),
# leaving out the person photos are added to.
_SOMEONE_ELSES_FACE = text(
    f"""
    SELECT people.id, people.display_name,
           1 - (face_templates.embedding <=> :query) AS similarity
    FROM face_templates JOIN people ON people.id = face_templates.person_id
    WHERE face_templates.model = :model
      AND people.status = '{_ACTIVE}'
      AND people.id <> :person
      AND 1 - (face_templates.embedding <=> :query) >= :threshold
    ORDER BY similarity DESC
    LIMIT 1
    """
)


class SqlPersonPhotos:
    """Thread-safe: a Session per call."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def record_refused_photos(
        self, operator: records.Operator, person_id: uuid.UUID, reason: str, images: int
    ) -> None:
        details = {"reason": reason, "images": images}
        record_apart(
            self._sessions, operator.username, "person.photos_refused", str(person_id), details
        )

    def add_templates(
        self,
        person_id: uuid.UUID,
        templates: Sequence[records.NewTemplate],
        *,
        actor: records.Operator,
        duplicate_threshold: float,
    ) -> int:
        with transaction(self._sessions) as session:
            # Locks in the order of an enrollment: the actor's row, the enrollment lock,
            # the audit chain's last.
            act_as(session, actor, Permission.ENROLL, self)
            take_enrollment_lock(session)
            person = session.scalar(
                select(schema.Person)
                .where(schema.Person.id == person_id, schema.Person.status == _ACTIVE)
                .with_for_update()
            )
            if person is None:
                raise NotFound(f"no enrolled person {person_id}")
            name = person.display_name or str(person_id)
            _refuse_without_consent(session, person)
            held = session.scalar(
                select(func.count())
                .select_from(schema.FaceTemplate)
                .where(schema.FaceTemplate.person_id == person_id)
            )
            held = held or 0
            total = held + len(templates)
            if total > records.MAX_TEMPLATES_PER_PERSON:
                raise InvalidValue(
                    f"{name} has {held} template(s) and a person has at most "
                    f"{records.MAX_TEMPLATES_PER_PERSON}: add at most "
                    f"{records.MAX_TEMPLATES_PER_PERSON - held}"
                )
            for number, template in enumerate(templates, start=1):
                _refuse_another_face(
                    session, person_id, name, number, template, duplicate_threshold
                )
            session.add_all(
                schema.FaceTemplate(
                    person_id=person_id,
                    embedding=template.embedding,
                    model=template.model,
                    quality=template.quality,
                )
                for template in templates
            )
            details = {
                "templates_added": len(templates),
                "templates": total,
                "models": sorted({t.model for t in templates}),
            }
            append_audit(session, actor.username, PHOTOS_ADDED, str(person_id), details)
            return total


def _refuse_without_consent(session: Session, person: schema.Person) -> None:
    latest = session.scalars(
        select(schema.ConsentRecord)
        .where(schema.ConsentRecord.person_id == person.id)
        .order_by(schema.ConsentRecord.given_at.desc(), schema.ConsentRecord.id.desc())
        .limit(1)
    ).first()
    if latest is None or latest.withdrawn_at is not None:
        when = f" on {latest.withdrawn_at:%Y-%m-%d}" if latest and latest.withdrawn_at else ""
        raise ConsentMissing(
            f"{person.display_name} withdrew consent{when}: no photos may be added; "
            "enroll them again if they consent anew"
        )


def _refuse_another_face(
    session: Session,
    person_id: uuid.UUID,
    name: str,
    number: int,
    template: records.NewTemplate,
    threshold: float,
) -> None:
    """The template is the person's own (QualityRejected; NotAllowed without any of
    their templates of its model) and nobody else's (AlreadyEnrolled)."""
    query = {"query": template.embedding, "person": person_id, "model": template.model}
    own = session.scalar(_OWN_SIMILARITY, query)
    if own is None:
        raise NotAllowed(
            f"{name} has no template of the model in use ({template.model}): their photos "
            "cannot be compared; re-enroll them instead"
        )
    if own < threshold:
        raise QualityRejected(
            f"photo {number} does not look like {name} (similarity {own:.2f}); add photos "
            "of that person only",
            [],
        )
    row = session.execute(_SOMEONE_ELSES_FACE, query | {"threshold": threshold}).first()
    if row is not None:
        other, other_name, similarity = row
        raise AlreadyEnrolled(
            f"photo {number} is the face of another enrolled person, {other_name} ({other}, "
            f"similarity {similarity:.2f}); one face, one identity: check whose photos "
            "these are",
            other,
        )
