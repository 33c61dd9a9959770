"""/identify (1:N) and /verify (1:1): a photo in, decisions out, each recorded in the
access log as a CLI decision of this server's kiosk id."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field

from api.auth import Actor, Services, rate_limited
from api.uploads import decoded, read_photos
from core.accounts.permissions import Permission, authorize
from core.enrollment.reenrollment import reenrollment_note
from core.matching.match_rule import MatchDecision

router = APIRouter(tags=["recognition"], dependencies=[Depends(rate_limited)])
# The most faces of one photo decided by /identify?all=true.
MAX_FACES = 20


class FaceResult(BaseModel):
    result: str = Field(description="match or unknown")
    reason: str
    person_id: uuid.UUID | None = None
    name: str | None = None
    similarity: float | None = Field(None, description="the match's; null for an unknown")
    box: list[float] = Field(description="x1, y1, x2, y2 in the photo's pixels")
    event_id: uuid.UUID = Field(description="the access event recorded for this face")


class Identified(BaseModel):
    faces: list[FaceResult]
    latency_ms: float
    to_reenroll: int = Field(0, description="people enrolled only with another model")
    note: str | None = None


class Verified(BaseModel):
    person_id: uuid.UUID
    verified: bool
    similarity: float | None = Field(
        None, description="when verified; null otherwise, as /identify gives for an unknown"
    )
    threshold: float
    event_id: uuid.UUID


@router.post("/identify", response_model=Identified)
async def identify(
    request: Request,
    services: Services,
    actor: Actor,
    photo: Annotated[UploadFile, File()],
    every_face: Annotated[
        bool, Query(alias="all", description="every face, not only the largest")
    ] = False,
) -> Identified:
    """Who is in the photo: the largest face, or every face with `?all=true`."""
    limits = services.settings.images
    read = await read_photos([photo], limits)

    def work() -> Identified:
        authorize(actor, Permission.IDENTIFY, services.store.identity)
        [(label, image)] = decoded(read, limits)
        with services.throttles.of(actor) as throttle:
            if every_face:
                found = services.photo_checks.identify_all(actor, image, label, throttle, MAX_FACES)
                faces = [_face(f.match, f.face.box, f.decision.event_id) for f in found]
                latency = sum(f.decision.latency_ms for f in found)
            else:
                one = services.identification.identify(actor, image, label, throttle)
                faces = [_face(one.match, one.face.box, one.decision.event_id)]
                latency = one.decision.latency_ms
        out = Identified(faces=faces, latency_ms=round(latency, 1))
        if any(face.result == "unknown" for face in faces):
            need = services.store.identity.reenrollment_needed(services.engine.template_model)
            if need.people:
                out.to_reenroll = need.people
                out.note = reenrollment_note(need)
        return out

    identified: Identified = await request.app.state.pool.run(work)
    return identified


@router.post("/verify", response_model=Verified)
async def verify(
    request: Request,
    services: Services,
    actor: Actor,
    person_id: Annotated[uuid.UUID, Form()],
    photo: Annotated[UploadFile, File()],
) -> Verified:
    """Whether the largest face is the enrolled person `person_id` (1:1)."""
    limits = services.settings.images
    read = await read_photos([photo], limits)

    def work() -> Verified:
        authorize(actor, Permission.IDENTIFY, services.store.identity)
        [(label, image)] = decoded(read, limits)
        with services.throttles.of(actor) as throttle:
            found = services.photo_checks.verify(actor, person_id, image, label, throttle)
        return Verified(
            person_id=found.person_id,
            verified=found.verified,
            # Only a verified face's: a refused one's score would tell someone trying
            # photo after photo how close they came to this person.
            similarity=round(found.similarity, 4) if found.verified else None,
            threshold=found.threshold,
            event_id=found.decision.event_id,
        )

    verified: Verified = await request.app.state.pool.run(work)
    return verified


def _face(
    match: MatchDecision, box: tuple[float, float, float, float], event_id: uuid.UUID
) -> FaceResult:
    # Only a match's similarity: an unknown's best score would tell someone trying
    # photo after photo how close they came.
    best = match.matched
    return FaceResult(
        result="match" if match.matched else "unknown",
        reason=match.reason.value,
        person_id=match.matched.person_id if match.matched else None,
        name=match.matched.display_name if match.matched else None,
        similarity=round(best.similarity, 4) if best is not None else None,
        box=[round(float(v), 1) for v in box],
        event_id=event_id,
    )
