"""1:N identification against the store, and keeping each decision."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.permissions import Permission, authorize
from core.errors import QualityRejected
from core.faces import BGRImage, DetectedFace
from core.match_settings import MatchSettings
from core.matching.match_rule import MatchDecision
from core.matching.people_search import search_people
from core.records import (
    AccessDecision,
    AccessOutcome,
    DecisionSource,
    Operator,
    StageTimings,
    access_decision,
)
from core.store import AccessEventSink, IdentityStore
from core.vision.engine import FaceEngine, FaceSample


@dataclass(frozen=True)
class Identification:
    match: MatchDecision
    face: DetectedFace
    decision: AccessDecision


class IdentificationService:
    """Searches the gallery and keeps every decision.

    The door's recognizer uses ``search`` and ``record``; ``identify`` is
    ``kiosk-admin identify``, recorded as a CLI decision (``source``), never as a
    door's. Thread-safe if the store and the event sink are.
    """

    def __init__(
        self,
        engine: FaceEngine,
        store: IdentityStore,
        matching: MatchSettings,
        kiosk_id: str,
        events: AccessEventSink | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``events`` keeps the decisions, the store itself unless given (the kiosk
        gives one that spools them while the database is unreachable)."""
        self._engine = engine
        self._store = store
        self._events: AccessEventSink = events if events is not None else store
        self._matching = matching
        self.kiosk_id = kiosk_id
        self._clock = clock

    def search(self, sample: FaceSample) -> MatchDecision:
        """The 1:N decision for one face, without recording it. Raises StoreError
        (StoreBusy when the database is slow) when the gallery cannot be searched."""
        return search_people(
            self._store, sample.embedding, self._engine.template_model, self._matching
        ).decision

    def record(self, decision: AccessDecision) -> None:
        """Keep ``decision``; raises StoreError only if it could not be kept at all."""
        self._events.record_access(decision)

    def identify(
        self, operator: Operator, frame: BGRImage, label: str, throttle: RecognitionThrottle
    ) -> Identification:
        """Decide on the largest face in ``frame`` for ``operator``, recorded as a CLI
        decision: it names whoever is in a photo, so it needs the IDENTIFY permission.

        Raises NotAllowed without that permission, RecognitionPaused, without
        searching, while ``throttle``'s cooldown lasts, and QualityRejected
        (recorded as no face) for an unusable frame."""
        authorize(operator, Permission.IDENTIFY, self._store)
        throttle.check()
        started = self._clock()
        try:
            sample = self._engine.identification_sample(frame, label)
        except QualityRejected:
            self.record(self._decision(AccessOutcome.NO_FACE, None, started, None))
            raise
        embedded = self._clock()
        match = self.search(sample)
        searched = self._clock()
        throttle.record(granted=match.matched is not None)
        timings = StageTimings(
            embed_ms=(embedded - started) * 1000, search_ms=(searched - embedded) * 1000
        )
        decision = self._decision(
            AccessOutcome.GRANTED if match.matched else AccessOutcome.UNKNOWN,
            match,
            started,
            timings,
        )
        self.record(decision)
        return Identification(match, sample.face, decision)

    def _decision(
        self,
        outcome: AccessOutcome,
        match: MatchDecision | None,
        started: float,
        timings: StageTimings | None,
    ) -> AccessDecision:
        best = match.best if match is not None else None
        return access_decision(
            kiosk_id=self.kiosk_id,
            outcome=outcome,
            latency_ms=(self._clock() - started) * 1000,
            match=match.matched if match is not None else None,
            similarity=best.similarity if best is not None else None,
            timings=timings,
            source=DecisionSource.CLI,
        )
