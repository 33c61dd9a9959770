"""The writes of one enrollment, inside the identity store's transaction.

Apart from storage/identity_store.py to keep that module short: the one place
where a person, their consent, groups and templates are written, after the
exact duplicate check under the enrollment lock.
"""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core import records
from core.accounts.permissions import Permission
from core.errors import AlreadyEnrolled
from core.store import DenialLog
from storage import schema
from storage.audit_log import append_audit
from storage.group_members import join_default_group, set_groups
from storage.model_coverage import refuse_unchecked_models
from storage.operator_authority import act_as

_ACTIVE = records.PersonStatus.ACTIVE.value
# Any fixed number, other than the audit chain's: one enrollment at a time per database.
_ENROLLMENT_LOCK = 7_301_520_116


def take_enrollment_lock(session: Session) -> None:
    """Hold the enrollment lock until ``session``'s transaction ends: one enrollment,
    or addition of photos, at a time per database."""
    session.execute(select(func.pg_advisory_xact_lock(_ENROLLMENT_LOCK)))


def enroll_in(session: Session, enrollment: records.Enrollment, denials: DenialLog) -> uuid.UUID:
    """The enrollment's writes in ``session``: the witness authorized (their refusal
    recorded in ``denials``), the enrollment lock taken, the exact duplicate check
    (AlreadyEnrolled), then the person, groups, consent, templates and audit event.
    The caller commits or rolls back (SqlIdentityStore.enroll says in what order
    the locks are taken)."""
    witness = act_as(session, enrollment.consent.witnessed_by, Permission.ENROLL, denials)
    take_enrollment_lock(session)
    _refuse_enrolled_face(session, enrollment)
    refuse_unchecked_models(session, enrollment)
    person = schema.Person(
        display_name=enrollment.display_name,
        external_ref=enrollment.external_ref,
        valid_from=enrollment.valid_from,
        valid_until=enrollment.valid_until,
    )
    session.add(person)
    session.flush()
    if enrollment.groups is None:
        groups = [name] if (name := join_default_group(session, person.id)) else []
    else:
        # As the witness is now: an enroller may name only groups open to enrollers.
        set_groups(session, person.id, frozenset(enrollment.groups), actor=witness, denials=denials)
        groups = list(enrollment.groups)
    grant = enrollment.consent
    session.add(
        schema.ConsentRecord(
            person_id=person.id,
            version=grant.version,
            text_sha256=grant.text_sha256,
            witnessed_by=grant.witnessed_by.id,
            form_reference=grant.form_reference,
        )
    )
    session.add_all(
        schema.FaceTemplate(
            person_id=person.id,
            embedding=template.embedding,
            model=template.model,
            quality=template.quality,
        )
        for template in enrollment.templates
    )
    append_audit(
        session,
        grant.witnessed_by.username,
        "person.enroll",
        str(person.id),
        {
            "templates": len(enrollment.templates),
            "models": sorted({t.model for t in enrollment.templates}),
            "consent_version": grant.version,
            "groups": sorted(groups),
            "valid_from": _day(enrollment.valid_from),
            "valid_until": _day(enrollment.valid_until),
            # The kind of evidence only: a form's reference may hold a name, and the
            # audit log is kept for ever; the consent record holds the reference.
            "consent_evidence": "signed_form" if grant.form_reference else "in_person",
        },
    )
    return person.id


def _refuse_enrolled_face(session: Session, enrollment: records.Enrollment) -> None:
    """Raise AlreadyEnrolled if a new template or probe matches an active person's of its
    model at or above ``enrollment.duplicate_threshold``; run under the enrollment lock."""
    for template in (*enrollment.templates, *enrollment.probes):
        row = session.execute(
            ENROLLED_FACE,
            {
                "query": template.embedding,
                "model": template.model,
                "threshold": enrollment.duplicate_threshold,
            },
        ).first()
        if row is not None:
            person_id, name, similarity = row
            raise AlreadyEnrolled(
                f"this face is already enrolled as {name} ({person_id}, similarity "
                f"{similarity:.2f}); one face has one identity: check who the photos show",
                person_id,
                display_name=name,
            )


# Exact: a filter on the distance and an order by the similarity, neither of which
# an HNSW index serves, so every active template of the model is compared. An
# index search is approximate and could miss the one template that matters.
ENROLLED_FACE = text(
    f"""
    SELECT people.id, people.display_name,
           1 - (face_templates.embedding <=> :query) AS similarity
    FROM face_templates JOIN people ON people.id = face_templates.person_id
    WHERE face_templates.model = :model
      AND people.status = '{_ACTIVE}'
      AND 1 - (face_templates.embedding <=> :query) >= :threshold
    ORDER BY similarity DESC
    LIMIT 1
    """
)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None
