"""Identification of every face in a photo, and 1:1 verification against one person:
what kiosk-server's /identify?all=true and /verify answer, beside the largest-face
identification of IdentificationService.identify. Each face decided is recorded as
a CLI decision (not a door's), as ``identify`` records its one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from core.access.identification import IdentificationService
from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.permissions import Permission, authorize
from core.errors import NotFound, QualityRejected
from core.faces import BGRImage, DetectedFace
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchDecision
from core.records import (
    AccessDecision,
    AccessOutcome,
    Candidate,
    DecisionSource,
    Operator,
    StageTimings,
    access_decision,
)
from core.settings import QualitySettings
from core.store import IdentityStore
from core.vision.engine import FaceEngine


@dataclass(frozen=True)
class FaceIdentification:
    face: DetectedFace
    match: MatchDecision
    decision: AccessDecision


@dataclass(frozen=True)
class Verification:
    person_id: uuid.UUID
    verified: bool
    similarity: float
    """The best cosine similarity to the person's templates of the model in use; -1
    when they have none."""
    threshold: float
    decision: AccessDecision


class PhotoChecks:
    """Thread-safe if the store and the identification service are."""

    def __init__(
        self,
        engine: FaceEngine,
        identification: IdentificationService,
        store: IdentityStore,
        matching: MatchSettings,
        quality: QualitySettings,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._engine = engine
        self._identification = identification
        self._store = store
        self._matching = matching
        self._quality = quality
        self._clock = clock

    def identify_all(
        self,
        operator: Operator,
        frame: BGRImage,
        label: str,
        throttle: RecognitionThrottle,
        max_faces: int,
    ) -> list[FaceIdentification]:
        """Decide on every face at least ``quality.min_identify_face_px`` large, the
        largest first, at most ``max_faces``; each decision recorded. Raises
        NotAllowed, RecognitionPaused and QualityRejected (no face large enough,
        recorded as no face) as IdentificationService.identify does."""
        authorize(operator, Permission.IDENTIFY, self._store)
        throttle.check()
        started = self._clock()
        found = sorted(self._engine.detect_photo(frame), key=lambda f: f.area, reverse=True)
        faces = [f for f in found if f.short_side >= self._quality.min_identify_face_px]
        if not faces:
            self._identification.record(self._decision(AccessOutcome.NO_FACE, None, started))
            raise QualityRejected(
                f"{label}: no face of at least {self._quality.min_identify_face_px} px "
                f"({len(found)} smaller one(s) found): come closer",
                [],
            )
        results = []
        for face in faces[:max_faces]:
            began = self._clock()
            sample = self._engine.sample(frame, face)
            embedded = self._clock()
            match = self._identification.search(sample)
            searched = self._clock()
            throttle.record(granted=match.matched is not None)
            timings = StageTimings(
                embed_ms=(embedded - began) * 1000, search_ms=(searched - embedded) * 1000
            )
            outcome = AccessOutcome.GRANTED if match.matched else AccessOutcome.UNKNOWN
            best = match.best
            decision = self._decision(
                outcome,
                match.matched,
                began,
                timings,
                similarity=best.similarity if best is not None else None,
            )
            self._identification.record(decision)
            results.append(FaceIdentification(face, match, decision))
        return results

    def verify(
        self,
        operator: Operator,
        person_id: uuid.UUID,
        frame: BGRImage,
        label: str,
        throttle: RecognitionThrottle,
    ) -> Verification:
        """Whether the largest face in ``frame`` is the enrolled person ``person_id``:
        compared exactly with their templates, at the match threshold. Recorded as a
        decision (granted naming them, or unknown). Raises NotAllowed,
        RecognitionPaused, NotFound (no such person) and QualityRejected."""
        authorize(operator, Permission.IDENTIFY, self._store)
        throttle.check()
        detail = self._store.person(person_id, actor=operator)
        if detail.deleted_at is not None or detail.summary.display_name is None:
            raise NotFound(f"person {person_id} was deleted; nothing to verify against")
        started = self._clock()
        try:
            sample = self._engine.identification_sample(frame, label)
        except QualityRejected:
            self._identification.record(self._decision(AccessOutcome.NO_FACE, None, started))
            raise
        embedded = self._clock()
        model = self._engine.template_model
        similarity = self._store.similarities_to_person(person_id, [sample.embedding], model)[0]
        searched = self._clock()
        verified = similarity >= self._matching.threshold
        throttle.record(granted=verified)
        timings = StageTimings(
            embed_ms=(embedded - started) * 1000, search_ms=(searched - embedded) * 1000
        )
        match = Candidate(person_id, detail.summary.display_name, similarity) if verified else None
        decision = self._decision(
            AccessOutcome.GRANTED if verified else AccessOutcome.UNKNOWN,
            match,
            started,
            timings,
            similarity=similarity,
        )
        self._identification.record(decision)
        return Verification(person_id, verified, similarity, self._matching.threshold, decision)

    def _decision(
        self,
        outcome: AccessOutcome,
        match: Candidate | None,
        started: float,
        timings: StageTimings | None = None,
        similarity: float | None = None,
    ) -> AccessDecision:
        return access_decision(
            kiosk_id=self._identification.kiosk_id,
            outcome=outcome,
            latency_ms=(self._clock() - started) * 1000,
            match=match,
            similarity=similarity,
            timings=timings,
            source=DecisionSource.CLI,
        )
