"""Who is enrolled only with models other than the one in use (a change of model pack).

Templates of different models never meet in a search (each is searched with its own
model), so after a change of pack the people enrolled before it are not recognised,
and a new face cannot be compared with theirs except through their own model.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, func, select
from sqlalchemy.orm import Session, aliased

from core import records
from core.enrollment.reenrollment import unchecked_models_refusal
from storage import schema

_ACTIVE = records.PersonStatus.ACTIVE.value


def lacks_model(model: str) -> ColumnElement[bool]:
    """A condition on ``people``: they have templates, and none of ``model``."""
    template = schema.FaceTemplate
    has_any = exists().where(template.person_id == schema.Person.id)
    has_model = exists().where(template.person_id == schema.Person.id, template.model == model)
    return has_any & ~has_model


def reenrollment_needed(session: Session, model: str) -> records.ReenrollmentNeeded:
    """How many active people have templates but none of ``model``, and of which models."""
    other = schema.FaceTemplate
    current = aliased(schema.FaceTemplate)
    lacking: Any = (
        select(other.model, other.person_id)
        .join(schema.Person, schema.Person.id == other.person_id)
        .where(
            schema.Person.status == _ACTIVE,
            ~exists().where(current.person_id == other.person_id, current.model == model),
        )
        .subquery()
    )
    people = session.scalar(select(func.count(lacking.c.person_id.distinct())))
    models = session.scalars(select(lacking.c.model).distinct().order_by(lacking.c.model)).all()
    return records.ReenrollmentNeeded(model, int(people or 0), tuple(models))


def refuse_unchecked_models(session: Session, enrollment: records.Enrollment) -> None:
    """Raise ReenrollmentPending if an active person is enrolled only with models that
    neither the enrollment's templates nor its probes are of: the new face was not
    compared with theirs. Run under the enrollment lock, with the duplicate check."""
    models = {template.model for template in enrollment.templates}
    if len(models) != 1:
        raise ValueError("an enrollment's templates are of one model")
    (model,) = models
    need = reenrollment_needed(session, model)
    checked = {probe.model for probe in enrollment.probes}
    unchecked = tuple(m for m in need.their_models if m not in checked)
    if unchecked:
        raise unchecked_models_refusal(need, unchecked)


def template_models_column() -> Any:
    """A correlated subquery on ``people``: the distinct models of their templates
    (an array; NULL when they have none)."""
    template = schema.FaceTemplate
    return (
        select(func.array_agg(template.model.distinct()))
        .where(template.person_id == schema.Person.id)
        .correlate(schema.Person)
        .scalar_subquery()
    )
