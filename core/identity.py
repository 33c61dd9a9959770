"""Enroll and identify people: the engine, the policies and the store together."""

from __future__ import annotations

import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.permissions import Permission, authorize
from core.enrollment.consent import ConsentText
from core.enrollment.refusals import refusal_reason
from core.errors import (
    AlreadyEnrolled,
    ConsentMissing,
    InputRejected,
    InvalidValue,
    NotAllowed,
    QualityRejected,
)
from core.faces import BGRImage, DetectedFace
from core.matching.match_rule import MatchDecision, decide
from core.matching.people_search import search_people
from core.records import (
    AccessEvent,
    AccessOutcome,
    ConsentGrant,
    Enrollment,
    NewTemplate,
    Operator,
)
from core.settings import MatchSettings
from core.store import AccessEventSink, IdentityStore
from core.vision.engine import FaceEngine, FaceSample

MAX_NAME_LENGTH = 200
MAX_EXTERNAL_REF_LENGTH = 64
MAX_ENROLLMENT_IMAGES = 20


@dataclass(frozen=True)
class Identification:
    decision: MatchDecision
    face: DetectedFace
    latency_ms: float


@dataclass(frozen=True)
class EnrollmentResult:
    person_id: uuid.UUID
    templates: int


class IdentityService:
    """Enrollment and 1:N identification against the store.

    Enrollment is thread-safe if the store is; identification goes through the
    kiosk's recognition throttle, which belongs to one recognition thread.
    """

    def __init__(
        self,
        engine: FaceEngine,
        store: IdentityStore,
        matching: MatchSettings,
        throttle: RecognitionThrottle,
        kiosk_id: str,
        clock: Callable[[], float] = time.perf_counter,
        events: AccessEventSink | None = None,
    ) -> None:
        """``events`` keeps the access events, the store itself unless given (the
        kiosk gives one that spools them while the database is unreachable)."""
        self._engine = engine
        self._store = store
        self._events: AccessEventSink = events if events is not None else store
        self._matching = matching
        self._throttle = throttle
        self._kiosk_id = kiosk_id
        self._clock = clock

    def enroll(
        self,
        operator: Operator,
        display_name: str,
        external_ref: str | None,
        images: Sequence[tuple[str, BGRImage]],
        consent: ConsentText,
        consent_given: bool,
    ) -> EnrollmentResult:
        """Every image must pass the quality gate, or nothing is stored.

        A refusal (no consent, a bad image or detail, a face or reference already
        enrolled) is audited with its reason before it is raised."""
        authorize(operator, Permission.ENROLL, self._store)
        try:
            return self._enroll(
                operator, display_name, external_ref, images, consent, consent_given
            )
        except (NotAllowed, InvalidValue, InputRejected) as refused:
            self._store.record_refused_enrollment(operator, refusal_reason(refused), len(images))
            raise

    def _enroll(
        self,
        operator: Operator,
        display_name: str,
        external_ref: str | None,
        images: Sequence[tuple[str, BGRImage]],
        consent: ConsentText,
        consent_given: bool,
    ) -> EnrollmentResult:
        if not consent_given:
            raise ConsentMissing(
                "enrollment needs the person's recorded consent: read them the consent "
                f"text ({consent.version}) and confirm it"
            )
        name = clean_display_name(display_name)
        reference = clean_external_ref(external_ref)
        if not images:
            raise InvalidValue("enrollment needs at least one image")
        if len(images) > MAX_ENROLLMENT_IMAGES:
            raise InvalidValue(
                f"{len(images)} images; enrollment takes at most {MAX_ENROLLMENT_IMAGES}"
            )
        samples = [(label, self._engine.enrollment_sample(image, label)) for label, image in images]
        self._check_same_person(samples)
        self._check_not_enrolled(samples)
        enrollment = Enrollment(
            display_name=name,
            external_ref=reference,
            consent=ConsentGrant(consent.version, consent.sha256, operator),
            templates=tuple(
                NewTemplate(sample.embedding, self._engine.template_model, sample.face.score)
                for _, sample in samples
            ),
        )
        return EnrollmentResult(self._store.enroll(enrollment), len(samples))

    def identify(self, frame: BGRImage, label: str) -> Identification:
        """Decide on the largest face in ``frame``; every decision is recorded.

        Raises RecognitionPaused, without searching, while the throttle's cooldown lasts.
        """
        self._throttle.check()
        started = self._clock()
        try:
            sample = self._engine.identification_sample(frame, label)
        except QualityRejected:
            self._record(AccessOutcome.NO_FACE, None, None, started)
            raise
        decision = self.search(sample)
        matched = decision.matched
        self._throttle.record(granted=matched is not None)
        self._record(
            AccessOutcome.GRANTED if matched else AccessOutcome.UNKNOWN,
            matched.person_id if matched else None,
            decision.best.similarity if decision.best else None,
            started,
        )
        return Identification(decision, sample.face, (self._clock() - started) * 1000)

    def search(self, sample: FaceSample) -> MatchDecision:
        """The 1:N decision for one face, without recording it."""
        found = search_people(
            self._store, sample.embedding, self._engine.template_model, self._matching
        )
        return decide(found, self._matching)

    def _check_same_person(self, samples: Sequence[tuple[str, FaceSample]]) -> None:
        first_label, first = samples[0]
        for label, sample in samples[1:]:
            similarity = float(np.dot(first.embedding, sample.embedding))
            if similarity < self._matching.threshold:
                raise QualityRejected(
                    f"{label} does not look like the same person as {first_label} "
                    f"(similarity {similarity:.2f}); use photos of one person only",
                    [],
                )

    def _check_not_enrolled(self, samples: Sequence[tuple[str, FaceSample]]) -> None:
        # A second identity for one face would make both ambiguous at the door.
        for label, sample in samples:
            decision = self.search(sample)
            best = decision.best
            if best is not None and best.similarity >= self._matching.threshold:
                raise AlreadyEnrolled(
                    f"{label} already matches enrolled person {best.display_name} "
                    f"({best.person_id}, similarity {best.similarity:.2f}); "
                    "delete that person before enrolling again"
                )

    def record_decision(
        self,
        outcome: AccessOutcome,
        person_id: uuid.UUID | None,
        similarity: float | None,
        latency_ms: float,
    ) -> uuid.UUID:
        """One access event for this kiosk; returns its id, which the logs cite."""
        event = AccessEvent(self._kiosk_id, outcome, person_id, similarity, latency_ms)
        self._events.record_access(event)
        return event.event_id

    def _record(
        self,
        outcome: AccessOutcome,
        person_id: uuid.UUID | None,
        similarity: float | None,
        started: float,
    ) -> None:
        self.record_decision(outcome, person_id, similarity, (self._clock() - started) * 1000)


def clean_display_name(name: str) -> str:
    cleaned = " ".join(unicodedata.normalize("NFC", name).split())
    if not cleaned:
        raise InvalidValue("the name is empty; give the person's name")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise InvalidValue(f"the name has {len(cleaned)} characters; at most {MAX_NAME_LENGTH}")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidValue("the name contains control characters; type it again")
    return cleaned


def clean_external_ref(reference: str | None) -> str | None:
    if reference is None:
        return None
    cleaned = reference.strip()
    if not cleaned:
        return None
    if len(cleaned) > MAX_EXTERNAL_REF_LENGTH or not cleaned.isprintable():
        raise InvalidValue(
            f"external reference must be printable and at most {MAX_EXTERNAL_REF_LENGTH} characters"
        )
    return cleaned
