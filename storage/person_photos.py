"""More templates for an enrolled person (core.enrollment.photo_addition), under the
enrollment lock and its exact duplicate check."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.errors import AlreadyEnrolled, InvalidValue, NotFound
from storage import schema
from storage.audit_log import append_audit, record_apart, record_denial
from storage.operator_authority import act_as
from storage.person_enrollment import _ENROLLMENT_LOCK  # the one lock every enrollment takes
from storage.transactions import transaction

_ACTIVE = records.PersonStatus.ACTIVE.value

# As storage.person_enrollment.ENROLLED_FACE, but anyone other than the person.
_SOMEONE_ELSES_FACE = text(
    f"""
    SELECT people.id, 1 - (face_templates.embedding <=> :query) AS similarity
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
            session.execute(select(func.pg_advisory_xact_lock(_ENROLLMENT_LOCK)))
            person = session.scalar(
                select(schema.Person)
                .where(schema.Person.id == person_id, schema.Person.status == _ACTIVE)
                .with_for_update()
            )
            if person is None:
                raise NotFound(f"no enrolled person {person_id}")
            held = session.scalar(
                select(func.count())
                .select_from(schema.FaceTemplate)
                .where(schema.FaceTemplate.person_id == person_id)
            )
            total = (held or 0) + len(templates)
            if total > records.MAX_TEMPLATES_PER_PERSON:
                raise InvalidValue(
                    f"{person_id} has {held} template(s); with these {len(templates)} they "
                    f"would have {total}, at most {records.MAX_TEMPLATES_PER_PERSON}"
                )
            for template in templates:
                row = session.execute(
                    _SOMEONE_ELSES_FACE,
                    {
                        "query": template.embedding,
                        "model": template.model,
                        "person": person_id,
                        "threshold": duplicate_threshold,
                    },
                ).first()
                if row is not None:
                    other, similarity = row
                    raise AlreadyEnrolled(
                        f"a photo matches another enrolled person ({other}, similarity "
                        f"{similarity:.2f}); one face, one identity",
                        other,
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
                "templates": len(templates),
                "models": sorted({t.model for t in templates}),
            }
            append_audit(session, actor.username, "person.photos_added", str(person_id), details)
            return total
