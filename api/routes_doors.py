"""/doors: each kiosk's door as last reported, and the commands of `kiosk-admin door`
(unlock for a time, lockdown, release), taken by that kiosk through the database."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from api.auth import Actor, Services, rate_limited
from api.deadline import within_deadline
from core.access.door_commands import MAX_REASON, DoorCommandKind
from core.errors import InvalidValue

router = APIRouter(tags=["doors"], dependencies=[Depends(rate_limited)])
KioskId = Annotated[str, Path(max_length=64, description="the kiosk whose door it is")]
# Where a command came from, kept in its audit event.
VIA = "kiosk-server"


class Door(BaseModel):
    kiosk_id: str
    adapter: str
    unlocked: bool
    door_open: bool | None
    lockdown: bool
    alarms: list[str]
    fault: str | None
    reported_at: datetime | None
    age_s: float | None
    stale: bool = Field(description="older than door_io.report_stale_s: may be otherwise now")
    failed_unlocks: int


class Doors(BaseModel):
    doors: list[Door]


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(max_length=MAX_REASON * 4, description="why, for the audit log")


class Unlock(Reason):
    seconds: float = Field(
        description="from door_io.min_operator_unlock_s to max_operator_unlock_s"
    )


class Sent(BaseModel):
    command_id: int
    kiosk_id: str
    kind: str
    seconds: float | None = None


@router.get("/doors", response_model=Doors)
@within_deadline
def doors(services: Services, actor: Actor) -> Doors:
    """Every kiosk's door as it last reported it (auditors and admins)."""
    settings = services.settings.door_io
    return Doors(
        doors=[
            Door(
                kiosk_id=r.kiosk_id,
                adapter=r.adapter,
                unlocked=r.unlocked,
                door_open=r.door_open,
                lockdown=r.lockdown,
                alarms=list(r.alarms),
                fault=r.fault,
                reported_at=r.reported_at,
                age_s=None if r.age_s is None else round(r.age_s, 1),
                stale=r.is_stale(settings),
                failed_unlocks=r.failed_unlocks,
            )
            for r in services.doors.reports(actor)
        ]
    )


@router.post("/doors/{kiosk_id}/unlock", status_code=202, response_model=Sent)
@within_deadline
def unlock(services: Services, actor: Actor, kiosk_id: KioskId, body: Unlock) -> Sent:
    """Unlock the door now for `seconds` (admins); the kiosk takes it within
    door_io.operator_poll_s."""
    return _send(services, actor, kiosk_id, DoorCommandKind.UNLOCK, body.reason, body.seconds)


@router.post("/doors/{kiosk_id}/lockdown", status_code=202, response_model=Sent)
@within_deadline
def lockdown(services: Services, actor: Actor, kiosk_id: KioskId, body: Reason) -> Sent:
    """Refuse every grant and keep the door locked (admins)."""
    return _send(services, actor, kiosk_id, DoorCommandKind.LOCKDOWN, body.reason)


@router.post("/doors/{kiosk_id}/release", status_code=202, response_model=Sent)
@within_deadline
def release(services: Services, actor: Actor, kiosk_id: KioskId, body: Reason) -> Sent:
    """End a lockdown (admins)."""
    return _send(services, actor, kiosk_id, DoorCommandKind.RELEASE, body.reason)


def _send(
    services: Services,
    actor: Actor,
    kiosk_id: str,
    kind: DoorCommandKind,
    reason: str,
    seconds: float | None = None,
) -> Sent:
    try:
        command_id = services.doors.request(
            actor, kiosk_id=kiosk_id, kind=kind, reason=reason, seconds=seconds, via=VIA
        )
    except InvalidValue as error:
        raise InvalidValue(_in_api_words(str(error))) from error
    return Sent(command_id=command_id, kiosk_id=kiosk_id, kind=kind.value, seconds=seconds)


# The door service names kiosk-admin's options; here they are the body's fields.
_FIELD_OF_OPTION = {"--seconds": "the field seconds", "--reason": "the field reason"}


def _in_api_words(message: str) -> str:
    for option, field in _FIELD_OF_OPTION.items():
        message = message.replace(option, field)
    return message
