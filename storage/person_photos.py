"""More templates for a person already enrolled (core.enrollment.photo_addition).

Every check and the insert are one transaction under the enrollment lock
(storage.person_enrollment): an enrollment of the same face elsewhere, a withdrawal
of consent, a deletion or another addition waits or is waited for, so none of the
checks can be outrun by another kiosk or process.
"""

from __future__ import annotations

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.enrollment.photo_addition import PHOTOS_ADDED, PhotosAdded, TemplateAddition
from core.errors import (
    AlreadyEnrolled,
    ConsentMissing,
    InvalidValue,
    NotAllowed,
    NotFound,
    QualityRejected,
)
from storage import schema
from storage.audit_log import append_audit, record_denial
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
_OTHER_PERSON = text(
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

    def add_templates(self, addition: TemplateAddition) -> PhotosAdded:
        with transaction(self._sessions) as session:
            act_as(session, addition.actor, Permission.ENROLL, self)
            take_enrollment_lock(session)
            person = session.get(schema.Person, addition.person_id, with_for_update=True)
            if person is None or person.status != _ACTIVE:
                raise NotFound(f"no enrolled person with id {addition.person_id}")
            name = person.display_name or ""
            _refuse_without_consent(session, person)
            held = session.scalar(
                select(func.count()).where(schema.FaceTemplate.person_id == person.id)
            )
            held = held or 0
            if held + len(addition.templates) > addition.max_templates:
                raise InvalidValue(
                    f"{name} has {held} template(s) and a person has at most "
                    f"{addition.max_templates}: add at most {addition.max_templates - held}"
                )
            for number, template in enumerate(addition.templates, start=1):
                _refuse_another_face(session, addition, number, template, name)
            session.add_all(
                schema.FaceTemplate(
                    person_id=person.id,
                    embedding=template.embedding,
                    model=template.model,
                    quality=template.quality,
                )
                for template in addition.templates
            )
            total = held + len(addition.templates)
            append_audit(
                session,
                addition.actor.username,
                PHOTOS_ADDED,
                str(person.id),
                {
                    "templates_added": len(addition.templates),
                    "templates": total,
                    "models": sorted({t.model for t in addition.templates}),
                },
            )
            return PhotosAdded(person.id, name, len(addition.templates), total)


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
    addition: TemplateAddition,
    number: int,
    template: records.NewTemplate,
    name: str,
) -> None:
    """The template is the person's own (QualityRejected; NotAllowed without any of
    their templates of its model) and nobody else's (AlreadyEnrolled)."""
    query = {"query": template.embedding, "person": addition.person_id, "model": template.model}
    own = session.scalar(_OWN_SIMILARITY, query)
    if own is None:
        raise NotAllowed(
            f"{name} has no template of the model in use ({template.model}): their photos "
            "cannot be compared; re-enroll them instead"
        )
    if own < addition.threshold:
        raise QualityRejected(
            f"photo {number} does not look like {name} (similarity {own:.2f}); add photos "
            "of that person only",
            [],
        )
    row = session.execute(_OTHER_PERSON, query | {"threshold": addition.threshold}).first()
    if row is not None:
        other, other_name, similarity = row
        raise AlreadyEnrolled(
            f"photo {number} is the face of another enrolled person, {other_name} ({other}, "
            f"similarity {similarity:.2f}); check whose photos these are",
            other,
        )
