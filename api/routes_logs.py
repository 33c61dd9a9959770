"""/audit and /access-events: the logs with kiosk-admin audit's and access-log's filters."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from api.auth import Actor, Services, rate_limited
from api.deadline import within_deadline
from core.errors import InvalidValue
from core.log_records import LogFilter
from core.records import AccessOutcome

router = APIRouter(tags=["logs"], dependencies=[Depends(rate_limited)])

Moment = Annotated[
    datetime | None,
    Query(description="ISO 8601 date or time; the server's local time unless it has a zone"),
]


class AuditEvent(BaseModel):
    id: int
    occurred_at: datetime
    actor: str
    action: str
    target: str | None
    details: dict[str, Any]


class AccessEvent(BaseModel):
    id: int
    occurred_at: datetime
    kiosk_id: str
    outcome: str
    source: str
    refusal: str | None
    person_id: uuid.UUID | None
    similarity: float | None
    latency_ms: float


class AuditPage(BaseModel):
    events: list[AuditEvent]


class AccessPage(BaseModel):
    events: list[AccessEvent]


@router.get("/audit", response_model=AuditPage)
@within_deadline
def audit(
    services: Services,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    since: Moment = None,
    until: Moment = None,
    by: Annotated[str | None, Query(alias="actor", max_length=63)] = None,
    action: Annotated[
        str | None, Query(max_length=64, description='e.g. person.delete, or "operator."')
    ] = None,
) -> AuditPage:
    """The newest audit events first (auditors and admins)."""
    only = LogFilter(since=_zoned(since), until=_zoned(until), actor=by, action=action)
    limit = min(limit, services.settings.api.max_list_items)
    events = services.audit.events(actor, limit, only)
    return AuditPage(
        events=[
            AuditEvent(
                id=e.id,
                occurred_at=e.occurred_at,
                actor=e.actor,
                action=e.action,
                target=e.target,
                details=dict(e.details),
            )
            for e in events
        ]
    )


@router.get("/access-events", response_model=AccessPage)
@within_deadline
def access_events(
    services: Services,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    since: Moment = None,
    until: Moment = None,
    kiosk: Annotated[str | None, Query(max_length=64)] = None,
    outcome: AccessOutcome | None = None,
) -> AccessPage:
    """The newest access decisions first (auditors and admins)."""
    only = LogFilter(since=_zoned(since), until=_zoned(until), kiosk_id=kiosk, outcome=outcome)
    limit = min(limit, services.settings.api.max_list_items)
    events = services.audit.access_events(actor, limit, only)
    return AccessPage(
        events=[
            AccessEvent(
                id=e.id,
                occurred_at=e.occurred_at,
                kiosk_id=e.kiosk_id,
                outcome=e.outcome.value,
                source=e.source.value,
                refusal=e.refusal.value if e.refusal else None,
                person_id=e.person_id,
                similarity=e.similarity,
                latency_ms=round(e.latency_ms, 1),
            )
            for e in events
        ]
    )


def _zoned(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    try:
        return moment if moment.tzinfo is not None else moment.astimezone()
    except (OverflowError, ValueError) as error:
        raise InvalidValue(f"{moment} is out of range; give a nearer time") from error
