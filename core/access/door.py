"""The kiosk's recognition policy over a stream of camera frames.

Pure of Qt: the recognition worker thread calls ``DoorRecognizer.process``
with each newest frame and shows what comes back. The door depends only on the
small protocols below, so every path runs in a test with fakes.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from core.access.frame_outcome import FrameOutcome, FrameTimings, Guidance
from core.access.liveness import LivenessState, Observation, face_patch
from core.access.liveness import Verdict as LivenessVerdict
from core.access.recognition_throttle import RecognitionThrottle
from core.access.tracking import ConsecutiveVotes, FaceTracker, Verdict
from core.errors import StoreBusy, StoreError
from core.faces import BGRImage, DetectedFace, Embedding, Points106
from core.matching.match_rule import MatchDecision
from core.records import (
    AccessDecision,
    AccessOutcome,
    Candidate,
    Refusal,
    StageTimings,
    access_decision,
)
from core.settings import DoorSettings, QualitySettings
from core.vision.engine import FaceSample

log = logging.getLogger(__name__)


class FaceFinder(Protocol):
    """Faces, templates and landmarks from a frame (core.vision.engine.FaceEngine)."""

    def detect(self, frame: BGRImage) -> list[DetectedFace]: ...

    def sample(self, frame: BGRImage, face: DetectedFace) -> FaceSample: ...

    def landmarks_106(self, frame: BGRImage, face: DetectedFace) -> Points106: ...


class Identifier(Protocol):
    """The 1:N search and the keeping of decisions (core.access.identification)."""

    kiosk_id: str

    def search(self, sample: FaceSample) -> MatchDecision:
        """Raises StoreBusy when the database is slow, StoreError when unreachable."""
        ...

    def record(self, decision: AccessDecision) -> None:
        """Raises StoreError only if the decision could not be kept at all."""
        ...


class LivenessChallenge(Protocol):
    """One liveness attempt on a matched face (core.access.liveness.LivenessCheck)."""

    @property
    def state(self) -> LivenessState: ...

    def observe(self, seen: Observation) -> LivenessState: ...


class AccessPolicy(Protocol):
    """Whether a recognised person may pass now (core.access.door_access.DoorAccess)."""

    def check(self, person_id: uuid.UUID) -> Refusal | None:
        """The rule that refuses, None to grant; raises StoreError if it cannot tell."""
        ...

    def withdraw(self, person_id: uuid.UUID) -> None:
        """The grant ``check`` just allowed could not be recorded: undo what the check
        stored for it (anti-passback presence). Never raises."""
        ...


class DecisionConsumer(Protocol):
    """Told of every decision once it is recorded: the log, the metrics, the door
    hardware, the integrations. Runs on the recognition thread, so it must return
    at once: anything slow goes through a core.access.consumers.DecisionRelay."""

    def consume(self, decision: AccessDecision) -> None: ...


class DoorRecognizer:
    """One decision per person in front of the door.

    Follows the largest face; searches the gallery on each frame until
    ``frames_to_confirm`` frames agree (or refuse), then records one decision
    and stops searching for that face until it leaves.

    When the gallery cannot be searched (the database is unreachable) the face
    is denied at once as offline, and the next ``offline_retry_s`` seconds'
    faces too without trying the database again: a dead server must not hold
    each person at the door for a connection timeout.

    With liveness on, a confirmed match is not yet a grant: the same tracked
    face must meet a random challenge (core.access.liveness) first, each frame
    still the matched person; a failed or abandoned challenge is denied.

    Not thread-safe: owned by the kiosk's one recognition thread.
    """

    def __init__(
        self,
        *,
        faces: FaceFinder,
        identifier: Identifier,
        door: DoorSettings,
        quality: QualitySettings,
        throttle: RecognitionThrottle,
        liveness: Callable[[], LivenessChallenge] | None = None,
        access: AccessPolicy | None = None,
        consumers: Sequence[DecisionConsumer] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        """``liveness`` starts a challenge for each confirmed match (None: liveness
        off, a match is a grant); ``access`` has the last word on a recognised
        person (None: everyone recognised passes); ``consumers`` are told of each
        decision."""
        self._faces = faces
        self._identifier = identifier
        self._door = door
        self._quality = quality
        self._throttle = throttle
        self._liveness = liveness
        self._access = access
        self._consumers = tuple(consumers)
        self._clock = clock
        self._track_started = 0.0
        self._offline_until = 0.0
        self._challenge: _Challenge | None = None
        self.consumer_failures = 0
        """Consumers that raised; each is logged, none stops the door."""
        self.forget()

    def forget(self) -> None:
        """Start afresh: whoever is in front of the door is decided again.

        Called when the door resumes after operators used the screen, in which
        time someone may have been enrolled, deleted or changed."""
        self._tracker = FaceTracker(self._door.track_min_overlap, self._door.track_max_missed)
        self._start_track(0.0)

    def process(self, frame: BGRImage) -> FrameOutcome:
        """Raises RecognitionPaused while the throttle's cooldown lasts, and StoreBusy
        when the database is slow (nothing decided: the next frame tries again)."""
        started = self._clock()
        faces = tuple(self._faces.detect(frame))
        detected = self._clock()
        timings = FrameTimings(detect_ms=(detected - started) * 1000)
        largest = max(faces, key=lambda face: face.area) if faces else None
        seen = _Frame(frame, faces, largest, timings)
        new_track = self._tracker.update(largest)
        if self._challenge is not None and (new_track or self._tracker.track_id is None):
            # The challenged face left, or another took its place: denied, and said so.
            shown = self._challenge.match
            abandoned = self._decide(seen, AccessOutcome.LIVENESS_FAILED, shown, shown.similarity)
            self._start_track(started)
            return abandoned
        if new_track:
            self._start_track(started)
        if largest is None or self._decided:
            # A face already decided is neither embedded nor searched again.
            return seen.outcome()
        guidance = self._blocking_guidance(faces, largest)
        if guidance is not None:
            return seen.outcome(guidance=guidance)
        if self._challenge is not None:
            return self._challenged(seen, largest, detected)
        if started < self._offline_until:
            return self._decide(seen, AccessOutcome.OFFLINE)
        self._throttle.check()
        sample = self._faces.sample(frame, largest)
        embedded = self._clock()
        try:
            match = self._identifier.search(sample)
        except StoreBusy:
            raise
        except StoreError:
            self._offline_until = self._clock() + self._door.offline_retry_s
            return self._decide(seen, AccessOutcome.OFFLINE)
        searched = self._clock()
        seen.timings = replace(
            timings, embed_ms=(embedded - detected) * 1000, search_ms=(searched - embedded) * 1000
        )
        seen.searched = True
        confirmation = self._votes.add(match)
        if confirmation.verdict is Verdict.PENDING:
            turned = abs(sample.measurements.yaw) > self._quality.max_yaw
            return seen.outcome(guidance=Guidance.LOOK_AT_CAMERA if turned else None)
        best = match.best
        similarity = best.similarity if best is not None else None
        if confirmation.verdict is Verdict.DENIED:
            return self._decide(seen, AccessOutcome.UNKNOWN, None, similarity)
        assert match.matched is not None
        if self._liveness is not None:
            check = self._liveness()
            self._challenge = _Challenge(check, match.matched, sample.embedding)
            return seen.outcome(liveness=check.state)
        return self._decide(seen, AccessOutcome.GRANTED, match.matched, similarity)

    def _challenged(self, seen: _Frame, largest: DetectedFace, detected: float) -> FrameOutcome:
        """One frame of the liveness challenge: no search, the same person checked
        against the matched template, the landmarks read."""
        assert self._challenge is not None
        sample = self._faces.sample(seen.frame, largest)
        observation = Observation(
            self._faces.landmarks_106(seen.frame, largest),
            face_patch(seen.frame, largest),
            float(np.dot(sample.embedding, self._challenge.embedding)),
        )
        state = self._challenge.check.observe(observation)
        seen.timings = replace(seen.timings, embed_ms=(self._clock() - detected) * 1000)
        seen.liveness = state
        if state.verdict is LivenessVerdict.PENDING:
            return seen.outcome()
        passed = state.verdict is LivenessVerdict.PASSED
        outcome = AccessOutcome.GRANTED if passed else AccessOutcome.LIVENESS_FAILED
        shown = self._challenge.match
        return self._decide(seen, outcome, shown, shown.similarity)

    def _decide(
        self,
        seen: _Frame,
        outcome: AccessOutcome,
        match: Candidate | None = None,
        similarity: float | None = None,
    ) -> FrameOutcome:
        """The one place a decision is made: recorded, counted by the throttle, and
        handed to each consumer. A failed liveness check keeps whose face was shown:
        the security team wants to know. A recognised person passes only if the
        access policy agrees; a policy that cannot be read keeps the door closed."""
        self._decided = True
        self._challenge = None
        refusal: Refusal | None = None
        if outcome is AccessOutcome.GRANTED and self._access is not None:
            assert match is not None
            try:
                refusal = self._access.check(match.person_id)
            except StoreError:
                self._offline_until = self._clock() + self._door.offline_retry_s
                outcome = AccessOutcome.OFFLINE
            if refusal is not None:
                outcome = AccessOutcome.REFUSED
        if outcome is not AccessOutcome.OFFLINE:
            # A refused person was recognised: no probing for the throttle to slow.
            recognised = outcome in (AccessOutcome.GRANTED, AccessOutcome.REFUSED)
            self._throttle.record(granted=recognised)
        decided = self._clock()
        decision = access_decision(
            kiosk_id=self._identifier.kiosk_id,
            outcome=outcome,
            latency_ms=(decided - self._track_started) * 1000,
            match=match,
            similarity=similarity,
            timings=seen.stage_timings(),
            refusal=refusal,
        )
        try:
            self._identifier.record(decision)
        except StoreError:
            # Not kept, so not made: nobody is let in on a decision with no record,
            # and the next frame decides this face afresh.
            self._decided = False
            if decision.granted and decision.person_id is not None and self._access is not None:
                self._access.withdraw(decision.person_id)
            raise
        seen.timings = replace(seen.timings, record_ms=(self._clock() - decided) * 1000)
        for consumer in self._consumers:
            try:
                consumer.consume(decision)
            except Exception:  # a consumer's fault must never stop the door
                self.consumer_failures += 1
                log.exception("a decision consumer failed on %s", decision.event_id)
        return seen.outcome(decision=decision)

    def _start_track(self, started: float) -> None:
        self._votes = ConsecutiveVotes(self._door.frames_to_confirm)
        self._decided = False
        self._challenge = None
        self._track_started = started

    def _blocking_guidance(
        self, faces: tuple[DetectedFace, ...], largest: DetectedFace
    ) -> Guidance | None:
        """Reasons not to search this frame at all."""
        if largest.short_side < self._quality.min_identify_face_px:
            return Guidance.COME_CLOSER
        crowd = [
            face
            for face in faces
            if face is not largest and face.area >= self._door.crowd_area_ratio * largest.area
        ]
        return Guidance.ONE_AT_A_TIME if crowd else None


class _Frame:
    """What is known of the frame being processed, gathered as it goes."""

    def __init__(
        self,
        frame: BGRImage,
        faces: tuple[DetectedFace, ...],
        largest: DetectedFace | None,
        timings: FrameTimings,
    ) -> None:
        self.frame = frame
        self.faces = faces
        self.largest = largest
        self.timings = timings
        self.searched = False
        self.liveness: LivenessState | None = None

    def stage_timings(self) -> StageTimings:
        return StageTimings(
            detect_ms=self.timings.detect_ms,
            embed_ms=self.timings.embed_ms,
            search_ms=self.timings.search_ms,
        )

    def outcome(
        self,
        *,
        guidance: Guidance | None = None,
        decision: AccessDecision | None = None,
        liveness: LivenessState | None = None,
    ) -> FrameOutcome:
        return FrameOutcome(
            faces=self.faces,
            tracked=self.largest,
            timings=self.timings,
            guidance=guidance,
            decision=decision,
            searched=self.searched,
            liveness=liveness or self.liveness,
        )


@dataclass(frozen=True)
class _Challenge:
    check: LivenessChallenge
    match: Candidate
    embedding: Embedding
    """The matched frame's template: every challenged frame must stay this person."""
