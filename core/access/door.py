"""The kiosk's recognition policy over a stream of camera frames.

Pure of Qt: the recognition worker thread calls ``DoorRecognizer.process``
with each newest frame and shows what comes back.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from core.access.liveness import LivenessCheck, LivenessState, Observation
from core.access.liveness import Verdict as LivenessVerdict
from core.access.recognition_throttle import RecognitionThrottle
from core.access.tracking import ConsecutiveVotes, FaceTracker, Verdict
from core.errors import StoreBusy, StoreError
from core.faces import BGRImage, DetectedFace, Embedding
from core.identity import IdentityService
from core.records import AccessOutcome, Candidate
from core.settings import DoorSettings, LivenessMode, LivenessSettings, QualitySettings
from core.vision.engine import FaceEngine


class Guidance(StrEnum):
    COME_CLOSER = "come closer"
    LOOK_AT_CAMERA = "look at the camera"
    ONE_AT_A_TIME = "one person at a time"


@dataclass(frozen=True)
class DoorDecision:
    outcome: AccessOutcome
    person_id: uuid.UUID | None
    display_name: str | None
    similarity: float | None
    latency_ms: float
    """From the first frame of this face to the decision."""
    event_id: uuid.UUID
    """The access event recorded for it, which the logs cite."""

    @property
    def granted(self) -> bool:
        return self.outcome is AccessOutcome.GRANTED


@dataclass(frozen=True)
class FrameTimings:
    """Where one frame's time went, in milliseconds; zero for a stage not run."""

    detect_ms: float
    embed_ms: float = 0.0
    """Alignment, embedding and the quality measurements."""
    search_ms: float = 0.0
    record_ms: float = 0.0
    """Writing the access event, on the frame that decides."""

    @property
    def total_ms(self) -> float:
        return self.detect_ms + self.embed_ms + self.search_ms + self.record_ms


@dataclass(frozen=True)
class FrameOutcome:
    faces: tuple[DetectedFace, ...]
    tracked: DetectedFace | None
    guidance: Guidance | None
    decision: DoorDecision | None
    """Set on the one frame where this face's decision is reached."""
    searched: bool
    timings: FrameTimings
    liveness: LivenessState | None = None
    """While a matched face is being challenged: what to do, and how far it got."""


class DoorRecognizer:
    """One decision per person in front of the door.

    Follows the largest face; searches the gallery on each frame until
    ``frames_to_confirm`` frames agree (or refuse), then records one access
    event and stops searching for that face until it leaves.

    When the gallery cannot be searched (the database is unreachable) the face
    is denied at once as offline, and the next ``offline_retry_s`` seconds'
    faces too without trying the database again: a dead server must not hold
    each person at the door for a connection timeout.

    With liveness on, a confirmed match is not yet a grant: the same tracked
    face must meet a random challenge (core.access.liveness) first, each frame still
    the matched person; a failed or abandoned challenge is denied and recorded.

    Not thread-safe: owned by the kiosk's one recognition thread.
    """

    def __init__(
        self,
        engine: FaceEngine,
        identity: IdentityService,
        door: DoorSettings,
        quality: QualitySettings,
        throttle: RecognitionThrottle,
        clock: Callable[[], float] = time.perf_counter,
        liveness: LivenessSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._liveness = liveness or LivenessSettings()
        self._rng = rng or random.SystemRandom()
        self._engine = engine
        self._identity = identity
        self._door = door
        self._quality = quality
        self._throttle = throttle
        self._clock = clock
        self._track_started = 0.0
        self._offline_until = 0.0
        self.forget()

    def forget(self) -> None:
        """Start afresh: whoever is in front of the door is decided again.

        Called when the door resumes after operators used the screen, in which
        time someone may have been enrolled, deleted or changed."""
        self._tracker = FaceTracker(self._door.track_min_overlap, self._door.track_max_missed)
        self._votes = ConsecutiveVotes(self._door.frames_to_confirm)
        self._decided = False
        self._challenge: _Challenge | None = None

    def process(self, frame: BGRImage) -> FrameOutcome:
        """Raises RecognitionPaused while the throttle's cooldown lasts."""
        started = self._clock()
        faces = tuple(self._engine.detect(frame))
        detected = self._clock()
        timings = FrameTimings(detect_ms=(detected - started) * 1000)
        largest = max(faces, key=lambda face: face.area) if faces else None
        new_track = self._tracker.update(largest)
        if self._challenge is not None and (new_track or self._tracker.track_id is None):
            # The challenged face left, or another took its place: denied, and said so.
            self._throttle.record(granted=False)
            abandoned = self._record(AccessOutcome.LIVENESS_FAILED, self._challenge.match, started)
            self._start_track(started)
            return FrameOutcome(faces, largest, None, abandoned, False, timings)
        if new_track:
            self._start_track(started)
        if largest is None or self._decided:
            # A face already decided is neither embedded nor searched again.
            return FrameOutcome(faces, largest, None, None, False, timings)
        guidance = self._blocking_guidance(faces, largest)
        if guidance is not None:
            return FrameOutcome(faces, largest, guidance, None, False, timings)
        if self._challenge is not None:
            return self._challenged(frame, faces, largest, timings, detected)
        if started < self._offline_until:
            return self._offline(faces, largest, timings, started)
        self._throttle.check()
        sample = self._engine.sample(frame, largest)
        embedded = self._clock()
        try:
            decision = self._identity.search(sample)
        except StoreBusy:
            raise  # slow, not gone: nothing decided, the next frame tries again
        except StoreError:
            self._offline_until = self._clock() + self._door.offline_retry_s
            return self._offline(faces, largest, timings, started)
        searched = self._clock()
        timings = replace(
            timings, embed_ms=(embedded - detected) * 1000, search_ms=(searched - embedded) * 1000
        )
        confirmation = self._votes.add(decision)
        advice = (
            Guidance.LOOK_AT_CAMERA
            if abs(sample.measurements.yaw) > self._quality.max_yaw
            else None
        )
        if confirmation.verdict is Verdict.PENDING:
            return FrameOutcome(faces, largest, advice, None, True, timings)
        granted = confirmation.verdict is Verdict.GRANTED
        if granted and self._liveness.mode is not LivenessMode.OFF:
            assert decision.matched is not None
            check = LivenessCheck(self._liveness, self._rng, self._clock)
            self._challenge = _Challenge(check, decision.matched, sample.embedding)
            return FrameOutcome(faces, largest, None, None, True, timings, check.state)
        self._decided = True
        self._throttle.record(granted=granted)
        matched = decision.matched if granted else None
        best = decision.best
        latency_ms = (searched - self._track_started) * 1000
        outcome = AccessOutcome.GRANTED if granted else AccessOutcome.UNKNOWN
        person_id = matched.person_id if matched else None
        similarity = best.similarity if best else None
        event_id = self._identity.record_decision(outcome, person_id, similarity, latency_ms)
        timings = replace(timings, record_ms=(self._clock() - searched) * 1000)
        return FrameOutcome(
            faces,
            largest,
            None,
            DoorDecision(
                outcome,
                person_id,
                matched.display_name if matched else None,
                similarity,
                latency_ms,
                event_id,
            ),
            True,
            timings,
        )

    def _start_track(self, started: float) -> None:
        self._votes = ConsecutiveVotes(self._door.frames_to_confirm)
        self._decided = False
        self._challenge = None
        self._track_started = started

    def _challenged(
        self,
        frame: BGRImage,
        faces: tuple[DetectedFace, ...],
        largest: DetectedFace,
        timings: FrameTimings,
        detected: float,
    ) -> FrameOutcome:
        """One frame of the liveness challenge: no search, the same person checked
        against the matched template, the landmarks read."""
        assert self._challenge is not None
        sample = self._engine.sample(frame, largest)
        observation = Observation(
            self._engine.landmarks_106(frame, largest),
            face_patch(frame, largest),
            float(np.dot(sample.embedding, self._challenge.embedding)),
        )
        state = self._challenge.check.observe(observation)
        checked = self._clock()
        timings = replace(timings, embed_ms=(checked - detected) * 1000)
        if state.verdict is LivenessVerdict.PENDING:
            return FrameOutcome(faces, largest, None, None, False, timings, state)
        outcome = (
            AccessOutcome.GRANTED
            if state.verdict is LivenessVerdict.PASSED
            else AccessOutcome.LIVENESS_FAILED
        )
        match = self._challenge.match
        self._challenge = None
        self._decided = True
        self._throttle.record(granted=outcome is AccessOutcome.GRANTED)
        decision = self._record(outcome, match, checked)
        return FrameOutcome(faces, largest, None, decision, False, timings, state)

    def _record(self, outcome: AccessOutcome, match: Candidate, now: float) -> DoorDecision:
        latency_ms = (now - self._track_started) * 1000
        # A failed check keeps whose face was shown: the security team wants to know.
        person_id = match.person_id
        event_id = self._identity.record_decision(outcome, person_id, match.similarity, latency_ms)
        name = match.display_name if outcome is AccessOutcome.GRANTED else None
        return DoorDecision(outcome, person_id, name, match.similarity, latency_ms, event_id)

    def _offline(
        self,
        faces: tuple[DetectedFace, ...],
        largest: DetectedFace,
        timings: FrameTimings,
        started: float,
    ) -> FrameOutcome:
        """Deny by default: no gallery, no entry; the event is kept for later."""
        self._decided = True
        latency_ms = (self._clock() - self._track_started) * 1000
        event_id = self._identity.record_decision(AccessOutcome.OFFLINE, None, None, latency_ms)
        decision = DoorDecision(AccessOutcome.OFFLINE, None, None, None, latency_ms, event_id)
        timings = replace(timings, search_ms=(self._clock() - started) * 1000 - timings.detect_ms)
        return FrameOutcome(faces, largest, None, decision, False, timings)

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


@dataclass(frozen=True)
class _Challenge:
    check: LivenessCheck
    match: Candidate
    embedding: Embedding
    """The matched frame's template: every challenged frame must stay this person."""


# The grey patch the liveness check compares between frames: small, so cheap.
_PATCH_SIDE = 32


def face_patch(frame: BGRImage, face: DetectedFace) -> npt.NDArray[np.uint8]:
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in face.box)
    crop = frame[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if crop.size == 0:
        return np.zeros((_PATCH_SIDE, _PATCH_SIDE), np.uint8)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(grey, (_PATCH_SIDE, _PATCH_SIDE)), dtype=np.uint8)
