"""/people: enroll, list, show, change, add photos, withdraw consent, delete.

Each runs the service kiosk-admin runs (core.enrollment, core.people, the rules
store for access), with the same permissions, consent rule, quality gate and
audit events; the face work runs in the bounded inference pool.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Actor, Services, rate_limited
from api.deadline import within_deadline
from api.uploads import decoded, read_photos
from config.time_zone import door_time_zone
from core.accounts.api_keys import is_api_key
from core.accounts.permissions import Permission, authorize
from core.enrollment.consent import ConsentText, consent_text, current_consent
from core.enrollment.enrollment import MAX_ENROLLMENT_IMAGES
from core.enrollment.refusals import refusal_reason
from core.errors import InputRejected, InvalidValue
from core.people.people import PersonView
from core.records import Deletion, PersonSummary
from core.rules.model import Validity, check_name
from core.rules.person_validity import KEEP, ValidityChange, visitor_validity
from storage.transactions import one_transaction

router = APIRouter(tags=["people"], dependencies=[Depends(rate_limited)])
# The most people one listing may skip: paging deeper is a search's job.
MAX_OFFSET = 10_000


class Person(BaseModel):
    person_id: uuid.UUID
    name: str | None
    external_ref: str | None
    status: str
    created_at: datetime
    templates: int
    template_models: list[str]


class PersonDetail(Person):
    deleted_at: datetime | None = None
    last_recognized_at: datetime | None = None
    retention_deadline: datetime | None = None
    consents: list[dict[str, Any]] = []
    groups: list[str] | None = None
    valid_from: date | None = None
    valid_until: date | None = None


class Enrolled(BaseModel):
    person_id: uuid.UUID
    name: str
    templates: int
    consent_version: str
    groups: list[str] = Field(description="the groups joined: the site's default if none named")
    valid_from: date | None
    valid_until: date | None


class PeoplePage(BaseModel):
    people: list[Person]
    offset: int
    limit: int
    next_offset: int | None = Field(description="The offset of the next page; null: the last")


class PersonChange(BaseModel):
    """Only the fields given are changed; null clears a badge, the groups (in no
    group: refused at every door) or a validity end."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=1000)
    badge: str | None = Field(None, max_length=1000)
    groups: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=1000)
    valid_from: date | None = None
    valid_until: date | None = None


class DeletionOut(BaseModel):
    person_id: uuid.UUID
    templates_deleted: int
    consents_withdrawn: int


class PhotosAdded(BaseModel):
    person_id: uuid.UUID
    templates: int = Field(description="The person's templates now")


@router.post("/people", status_code=201, response_model=Enrolled)
async def enroll(
    request: Request,
    services: Services,
    actor: Actor,
    name: Annotated[str, Form(max_length=1000)],
    photos: Annotated[list[UploadFile], File(description="1-20 photos of one person")],
    badge: Annotated[str | None, Form(max_length=1000)] = None,
    groups: Annotated[
        str | None, Form(description="comma separated; default: the site's default group")
    ] = None,
    valid_from: Annotated[date | None, Form()] = None,
    valid_until: Annotated[date | None, Form()] = None,
    visitor: Annotated[bool, Form(description="without valid_until: visitor days")] = False,
    consent_reference: Annotated[
        str | None, Form(max_length=1000, description="the signed consent form's reference")
    ] = None,
    consent_version: Annotated[str | None, Form(max_length=100)] = None,
    consent_in_person: Annotated[
        bool,
        Form(
            description="the acting operator read the text to the person and witnessed "
            "(operators only: an API key gives consent_reference)"
        ),
    ] = False,
) -> Enrolled:
    """Enroll a person as `kiosk-admin enroll` (or a row of `import`) does."""
    limits = services.settings.images
    if len(photos) > MAX_ENROLLMENT_IMAGES:
        raise InvalidValue(
            f"{len(photos)} photos; enrollment takes at most {MAX_ENROLLMENT_IMAGES}: "
            "choose the best ones"
        )
    if is_api_key(actor):
        _refuse_unwitnessed(consent_in_person, consent_reference)
    names = _group_names(groups) if groups is not None else None
    validity = _validity(services, valid_from, valid_until, visitor)
    consent = _consent(consent_version)
    read = await read_photos(photos, limits)

    def work() -> Enrolled:
        # Before any photo is decoded; the service checks again.
        authorize(actor, Permission.ENROLL, services.store.identity)
        try:
            images = decoded(read, limits)
        except InputRejected as refused:
            services.store.identity.record_refused_enrollment(
                actor, refusal_reason(refused), len(read)
            )
            raise
        result = services.enrollment.enroll(
            actor,
            name,
            badge,
            images,
            consent,
            consent_given=consent_in_person or bool(consent_reference),
            groups=names,
            validity=validity,
            form_reference=consent_reference if not consent_in_person else None,
        )
        # As stored: the site's default group, when none was named.
        joined, _ = services.store.rules.person_access(result.person_id, actor=actor)
        return Enrolled(
            person_id=result.person_id,
            name=" ".join(name.split()),
            templates=result.templates,
            consent_version=consent.version,
            groups=sorted(joined),
            valid_from=validity.valid_from,
            valid_until=validity.valid_until,
        )

    enrolled: Enrolled = await request.app.state.pool.run(work)
    return enrolled


@router.get("/people", response_model=PeoplePage)
@within_deadline
def list_people(
    request: Request,
    services: Services,
    actor: Actor,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> PeoplePage:
    """Enrolled people by name; `search` matches part of a name or badge."""
    limit = min(limit, services.settings.api.max_list_items)
    found = services.people.find(actor, search, offset + limit + 1)
    page = found[offset : offset + limit]
    more = len(found) > offset + limit
    return PeoplePage(
        people=[_person(p) for p in page],
        offset=offset,
        limit=limit,
        next_offset=offset + limit if more else None,
    )


@router.get("/people/{person_id}", response_model=PersonDetail)
@within_deadline
def show_person(services: Services, actor: Actor, person_id: uuid.UUID) -> PersonDetail:
    return _detail(services, actor, services.people.show(actor, person_id))


@router.patch("/people/{person_id}", response_model=PersonDetail)
@within_deadline
def change_person(
    services: Services, actor: Actor, person_id: uuid.UUID, change: PersonChange
) -> PersonDetail:
    """Groups and validity (`person.access_changed`), name and badge
    (`person.details_changed`), as the People screen changes them: admins, or the
    enroller who witnessed the person's consent. One transaction: either every field
    given changes, or (on any refusal) none does."""
    given = change.model_fields_set
    if not given:
        raise InvalidValue("nothing to change: give name, badge, groups, valid_from or valid_until")
    if "name" in given and change.name is None:
        raise InvalidValue("a person's name cannot be removed; delete the person instead")
    groups = None
    if "groups" in given:
        groups = frozenset(_group_names(",".join(change.groups)) if change.groups else ())
    validity = ValidityChange(
        change.valid_from if "valid_from" in given else KEEP,
        change.valid_until if "valid_until" in given else KEEP,
    )
    with one_transaction(services.store.engine):
        # The access first: it takes the rules lock before the person's row, the order
        # an import takes them; the details then find the row already held.
        if groups is not None or validity.changes:
            try:
                services.store.rules.set_person_access(
                    person_id,
                    actor=actor,
                    groups=groups,
                    validity=validity if validity.changes else None,
                )
            except ValueError as error:
                raise InvalidValue(f"{error}; nothing was changed") from error
        if "name" in given or "badge" in given:
            services.person_details.change(
                actor,
                person_id,
                display_name=change.name if change.name is not None else KEEP,
                external_ref=change.badge if "badge" in given else KEEP,
            )
    return _detail(services, actor, services.people.show(actor, person_id))


@router.post("/people/{person_id}/photos", response_model=PhotosAdded)
async def add_photos(
    request: Request,
    services: Services,
    actor: Actor,
    person_id: uuid.UUID,
    photos: Annotated[list[UploadFile], File(description="photos of the enrolled person")],
) -> PhotosAdded:
    """More templates for an enrolled person: the enrollment's quality gate, the faces
    must be this person's and nobody else's (`person.photos_added`)."""
    limits = services.settings.images
    if len(photos) > MAX_ENROLLMENT_IMAGES:
        raise InvalidValue(f"{len(photos)} photos; at most {MAX_ENROLLMENT_IMAGES} at once")
    read = await read_photos(photos, limits)

    def work() -> PhotosAdded:
        authorize(actor, Permission.ENROLL, services.store.identity)
        try:
            images = decoded(read, limits)
        except InputRejected as refused:
            services.photos.record_refusal(actor, person_id, refused, len(read))
            raise
        return PhotosAdded(
            person_id=person_id, templates=services.photos.add(actor, person_id, images)
        )

    added: PhotosAdded = await request.app.state.pool.run(work)
    return added


@router.post("/people/{person_id}/consent/withdraw", response_model=DeletionOut)
@within_deadline
def withdraw_consent(services: Services, actor: Actor, person_id: uuid.UUID) -> DeletionOut:
    """Every template is deleted and the consent marked withdrawn."""
    return _deletion(services.people.withdraw_consent(actor, person_id))


@router.delete("/people/{person_id}", response_model=DeletionOut)
@within_deadline
def delete_person(services: Services, actor: Actor, person_id: uuid.UUID) -> DeletionOut:
    """Every template deleted, consent withdrawn, the name erased (admins)."""
    return _deletion(services.people.delete(actor, person_id))


def _refuse_unwitnessed(in_person: bool, reference: str | None) -> None:
    """An API key is a machine: it cannot read the consent text to anyone or see them
    agree, so its enrollments carry the signed form's reference instead."""
    if in_person:
        raise InvalidValue(
            "an API key cannot witness consent in person (consent_in_person); give "
            "consent_reference, the signed consent form's reference, instead"
        )
    if reference is None or not reference.strip():
        raise InvalidValue(
            "an enrollment by an API key needs consent_reference, the signed consent "
            "form's reference"
        )


def _group_names(text: str) -> tuple[str, ...]:
    names = {name.strip() for name in text.split(",") if name.strip()}
    try:
        return tuple(sorted(check_name("group", name) for name in names))
    except ValueError as error:
        raise InvalidValue(str(error)) from error


def _validity(
    services: Services, valid_from: date | None, valid_until: date | None, visitor: bool
) -> Validity:
    try:
        if visitor:
            zone = door_time_zone(services.settings.rules.time_zone)
            return visitor_validity(
                valid_from,
                valid_until,
                today=datetime.now(ZoneInfo(zone)).date(),
                days=services.effective.rules.visitor_valid_days,
            )
        return Validity(valid_from, valid_until)
    except ValueError as error:
        raise InvalidValue(str(error)) from error


def _consent(version: str | None) -> ConsentText:
    return consent_text(version) if version else current_consent()


def _person(p: PersonSummary) -> Person:
    return Person(
        person_id=p.id,
        name=p.display_name,
        external_ref=p.external_ref,
        status=p.status.value,
        created_at=p.created_at,
        templates=p.template_count,
        template_models=list(p.template_models),
    )


def _detail(services: Services, actor: Actor, view: PersonView) -> PersonDetail:
    detail = view.detail
    data = _person(detail.summary).model_dump()
    out = PersonDetail(
        **data,
        deleted_at=detail.deleted_at,
        last_recognized_at=detail.last_recognized_at,
        retention_deadline=view.retention_deadline,
        consents=[
            {
                "version": c.version,
                "given_at": c.given_at.isoformat(),
                "witnessed_by": c.witnessed_by,
                "withdrawn_at": c.withdrawn_at.isoformat() if c.withdrawn_at else None,
                "form_reference": c.form_reference,
            }
            for c in detail.consents
        ],
    )
    if detail.deleted_at is None:
        groups, validity = services.store.rules.person_access(detail.summary.id, actor=actor)
        out.groups = sorted(groups)
        out.valid_from = validity.valid_from
        out.valid_until = validity.valid_until
    out.template_models = list(detail.template_models)
    return out


def _deletion(deletion: Deletion) -> DeletionOut:
    return DeletionOut(
        person_id=deletion.person_id,
        templates_deleted=deletion.templates_deleted,
        consents_withdrawn=deletion.consents_withdrawn,
    )
