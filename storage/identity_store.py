"""People, templates and 1:N search on PostgreSQL + pgvector. One transaction per call."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, TextClause, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from core import records
from core.accounts.permissions import Permission
from core.enrollment.names import name_key
from core.errors import AlreadyEnrolled, NotFound, StoreError
from core.faces import Embedding
from storage import schema
from storage.access_chain import append_access
from storage.answer_deadline import deadline_of
from storage.audit_log import record_apart, record_denial
from storage.erasure import erase, erase_many
from storage.model_coverage import (
    lacks_model,
    reenrollment_needed,
    template_models_column,
)
from storage.name_keys import name_key as sql_name_key
from storage.operator_authority import act_as
from storage.person_enrollment import ENROLLED_FACE, enroll_in
from storage.search_pool import run_search, search_engine
from storage.transactions import database_failures, first_line, transaction
from storage.vector_index import DEFAULT_INDEX, Precision, index_order

_EXTERNAL_REF_INDEX = "uq_people_external_ref_active"
_ACTIVE = records.PersonStatus.ACTIVE.value
__all__ = ["ENROLLED_FACE", "SqlIdentityStore", "insert_access_event", "nearest_people_query"]


class SqlIdentityStore:
    """Thread-safe: every call opens its own Session from a shared pool."""

    def __init__(self, engine: Engine, precision: Precision = DEFAULT_INDEX.precision) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._deadline = deadline_of(engine)
        self._search = search_engine(engine)
        self._precision = precision

    def enroll(self, enrollment: records.Enrollment, *, dry_run: bool = False) -> uuid.UUID:
        """Store the person, consent and templates; the witness must be allowed to enroll.

        ``dry_run``: every check and write runs, then the transaction rolls back:
        nothing is stored, not even the audit event; the id returned is the one the
        person would have had.

        The duplicate check and the insert are one serialised step: under a
        transaction-level advisory lock, so every process and kiosk on this
        database enrolls one person at a time, each new template is compared
        with every active person's (exactly, not through the index), and a
        template at or above ``enrollment.duplicate_threshold`` refuses the
        enrollment with AlreadyEnrolled naming that person. Locks in order: the
        witness's row, the enrollment lock, the audit chain's last (no
        transaction takes the enrollment lock after the chain's).
        """
        try:
            with transaction(self._sessions) as session:
                person_id = enroll_in(session, enrollment, self)
                if dry_run:
                    raise _RolledBack(person_id)
                return person_id
        except _RolledBack as rolled_back:
            return rolled_back.person_id
        except IntegrityError as error:
            if _EXTERNAL_REF_INDEX in str(error.orig):
                raise AlreadyEnrolled(
                    f"external reference {enrollment.external_ref} already belongs to an enrolled "
                    "person; check the number, and give this person their own"
                ) from error
            raise _refused(error) from error
        except DBAPIError as error:
            raise _refused(error) from error

    def people_with_external_refs(
        self, external_refs: Collection[str], *, actor: records.Operator
    ) -> dict[str, records.PersonSummary]:
        """The active people whose external reference (badge number) is one of
        ``external_refs``, by reference; ``actor`` must be allowed to view people.
        One query: a bulk import asks for a few hundred badges at a time."""
        if not external_refs:
            return {}
        query = _summary_query().where(
            schema.Person.status == _ACTIVE, schema.Person.external_ref.in_(set(external_refs))
        )
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VIEW_PEOPLE, self)
            found = [_summary(*row) for row in session.execute(query).all()]
        return {person.external_ref: person for person in found if person.external_ref}

    def similarities_to_person(
        self, person_id: uuid.UUID, embeddings: Sequence[Embedding], model: str
    ) -> list[float]:
        """Each embedding's best cosine similarity to the person's templates of
        ``model``, compared exactly (a person has a few templates): -1.0 without any."""
        with transaction(self._sessions) as session:
            return [
                float(
                    session.scalar(
                        _PERSON_SIMILARITY,
                        {"query": embedding, "person": person_id, "model": model},
                    )
                    or -1.0
                )
                for embedding in embeddings
            ]

    def record_refused_enrollment(
        self, operator: records.Operator, reason: str, images: int
    ) -> None:
        details = {"reason": reason, "images": images}
        record_apart(self._sessions, operator.username, "person.enroll_refused", None, details)

    def record_denial(
        self, operator: records.Operator, permission: str, *, session_ended: bool = False
    ) -> None:
        record_denial(self._sessions, operator, permission, session_ended=session_ended)

    def nearest_people(
        self, embedding: Embedding, model: str, candidates: int, ef_search: int
    ) -> list[records.Candidate]:
        with database_failures():
            rows = run_search(
                self._search,
                nearest_people_query(self._precision),
                {"query": embedding, "model": model, "candidates": candidates},
                max(ef_search, candidates),
            )
        return [records.Candidate(pid, name or "", 1.0 - float(d)) for pid, name, d in rows]

    def record_access(self, decision: records.AccessDecision) -> None:
        """Raises StoreUnresponsive past the database's answer deadline."""
        with self._deadline.bounded(), transaction(self._sessions) as session:
            insert_access_event(session, decision)

    def people(
        self,
        search: str | None,
        limit: int,
        *,
        actor: records.Operator,
        lacking_model: str | None = None,
    ) -> list[records.PersonSummary]:
        query = _summary_query().where(schema.Person.status == _ACTIVE)
        if lacking_model is not None:
            query = query.where(lacks_model(lacking_model))
        if search and (key := name_key(search)):
            # Both sides through one key, so a name matches however either was typed.
            pattern = f"%{_escape_like(key)}%"
            query = query.where(
                sql_name_key(schema.Person.display_name).like(pattern, escape="\\")
                | sql_name_key(schema.Person.external_ref).like(pattern, escape="\\")
            )
        query = query.order_by(schema.Person.display_name, schema.Person.id).limit(limit)
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VIEW_PEOPLE, self)
            return [_summary(*row) for row in session.execute(query).all()]

    def reenrollment_needed(self, model: str) -> records.ReenrollmentNeeded:
        with transaction(self._sessions) as session:
            return reenrollment_needed(session, model)

    def count_people(self) -> int:
        query = select(func.count()).where(schema.Person.status == _ACTIVE)
        with transaction(self._sessions) as session:
            return int(session.scalar(query) or 0)

    def person(self, person_id: uuid.UUID, *, actor: records.Operator) -> records.PersonDetail:
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.VIEW_PEOPLE, self)
            row = session.execute(
                _summary_query().where(schema.Person.id == person_id)
            ).one_or_none()
            if row is None:
                raise NotFound(f"no person with id {person_id}")
            consents = session.execute(
                select(schema.ConsentRecord, schema.Operator.username)
                .join(schema.Operator, schema.Operator.id == schema.ConsentRecord.witnessed_by)
                .where(schema.ConsentRecord.person_id == person_id)
                .order_by(schema.ConsentRecord.given_at)
            ).all()
            models = session.scalars(
                select(schema.FaceTemplate.model)
                .where(schema.FaceTemplate.person_id == person_id)
                .distinct()
                .order_by(schema.FaceTemplate.model)
            ).all()
            return records.PersonDetail(
                summary=_summary(*row),
                deleted_at=row[0].deleted_at,
                last_recognized_at=row[0].last_recognized_at,
                consents=tuple(
                    records.ConsentRecord(
                        c.version,
                        c.text_sha256,
                        c.given_at,
                        witness,
                        c.withdrawn_at,
                        c.form_reference,
                    )
                    for c, witness in consents
                ),
                template_models=tuple(models),
            )

    def delete_person(self, person_id: uuid.UUID, actor: records.Operator) -> records.Deletion:
        """Delete every template, withdraw consent, erase the name; audited."""
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.DELETE_PEOPLE, self)
            person = _active_person(session, person_id)
            return erase(session, person, actor, "person.delete", forget_identity=True)

    def withdraw_consent(self, person_id: uuid.UUID, actor: records.Operator) -> records.Deletion:
        """Delete every template and mark consent withdrawn; the person stays listed."""
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.WITHDRAW_CONSENT, self)
            person = _active_person(session, person_id)
            return erase(session, person, actor, "person.consent_withdrawn", forget_identity=False)

    def purge_expired(
        self, retention: timedelta, actor: records.Operator, batch: int
    ) -> list[uuid.UUID]:
        """Delete everyone not recognised (or enrolled) within ``retention``: the rule
        of core.people.retention.is_expired, in the database's clock.

        In transactions of at most ``batch`` people, so that no door waits long on a
        purge of thousands: each authorizes the actor again, locks its people (one
        another transaction holds, a door recognising them, is left for the next
        purge), checks each is still past the deadline, erases them and audits each
        deletion (``person.purge``, one event per person)."""
        last_seen = func.coalesce(schema.Person.last_recognized_at, schema.Person.created_at)
        expired = (schema.Person.status == _ACTIVE) & (last_seen + retention < func.now())
        with transaction(self._sessions) as session:
            act_as(session, actor, Permission.PURGE_EXPIRED, self)
            candidates = session.scalars(
                select(schema.Person.id)
                .where(expired)
                .order_by(schema.Person.created_at, schema.Person.id)
            ).all()
        purged: list[uuid.UUID] = []
        for start in range(0, len(candidates), batch):
            with transaction(self._sessions) as session:
                act_as(session, actor, Permission.PURGE_EXPIRED, self)
                locked = session.scalars(
                    select(schema.Person.id)
                    .where(schema.Person.id.in_(candidates[start : start + batch]), expired)
                    .order_by(schema.Person.created_at, schema.Person.id)
                    .with_for_update(skip_locked=True)
                ).all()
                purged += erase_many(session, list(locked), actor, "person.purge")
        return purged


class _RolledBack(Exception):
    def __init__(self, person_id: uuid.UUID) -> None:
        super().__init__("dry run")
        self.person_id = person_id


_PERSON_SIMILARITY = text(
    """
    SELECT max(1 - (embedding <=> :query)) FROM face_templates
    WHERE person_id = :person AND model = :model
    """
)


def _active_person(session: Session, person_id: uuid.UUID) -> schema.Person:
    person = session.get(schema.Person, person_id, with_for_update=True)
    if person is None or person.status != _ACTIVE:
        raise NotFound(f"no enrolled person with id {person_id}")
    return person


@functools.cache
def nearest_people_query(precision: Precision) -> TextClause:
    """The nearest templates through the HNSW index, then each active person's best.

    Parameters: ``query`` (the embedding), ``model``, ``candidates``. Hand-written
    and built once: the search runs on every camera frame. The index may order by
    half precision; the similarity reported is recomputed at full precision for
    the few candidates found."""
    return text(
        f"""
        WITH nearest AS MATERIALIZED (
            SELECT person_id, embedding <=> :query AS distance
            FROM face_templates
            WHERE model = :model
            ORDER BY {index_order(precision, ":query")}
            LIMIT :candidates
        )
        SELECT people.id, people.display_name, min(nearest.distance) AS distance
        FROM nearest JOIN people ON people.id = nearest.person_id
        WHERE people.status = '{_ACTIVE}'
        GROUP BY people.id, people.display_name
        ORDER BY distance
        """
    )


def _summary_query() -> Any:
    count = (
        select(func.count())
        .where(schema.FaceTemplate.person_id == schema.Person.id)
        .correlate(schema.Person)
        .scalar_subquery()
    )
    return select(schema.Person, count, template_models_column())


def _summary(
    person: schema.Person, template_count: int, models: list[str] | None
) -> records.PersonSummary:
    return records.PersonSummary(
        id=person.id,
        display_name=person.display_name or "",
        external_ref=person.external_ref,
        status=records.PersonStatus(person.status),
        created_at=person.created_at,
        template_count=int(template_count),
        template_models=tuple(sorted(models or ())),
    )


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _refused(error: DBAPIError) -> StoreError:
    return StoreError(f"enrollment was refused by the database: {first_line(error)}")


def insert_access_event(session: Session, event: records.AccessDecision) -> bool:
    """Store ``event`` at the end of the access chain unless its id is already
    stored; True if it was new (storage/access_chain.py)."""
    return append_access(session, event)
