"""The kiosk's recognition policy over a stream of camera frames.

Pure of Qt: the recognition worker thread calls ``DoorRecognizer.process``
with each newest frame and shows what comes back.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from enum import StrEnum

from core.engine import FaceEngine
from core.errors import StoreBusy, StoreError
from core.faces import BGRImage, DetectedFace
from core.identity import IdentityService
from core.records import AccessOutcome
from core.settings import DoorSettings, QualitySettings
from core.throttle import RecognitionThrottle
from core.tracking import ConsecutiveVotes, FaceTracker, Verdict


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


class DoorRecognizer:
    """One decision per person in front of the door.

    Follows the largest face; searches the gallery on each frame until
    ``frames_to_confirm`` frames agree (or refuse), then records one access
    event and stops searching for that face until it leaves.

    When the gallery cannot be searched (the database is unreachable) the face
    is denied at once as offline, and the next ``offline_retry_s`` seconds'
    faces too without trying the database again: a dead server must not hold
    each person at the door for a connection timeout.

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
    ) -> None:
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

    def process(self, frame: BGRImage) -> FrameOutcome:
        """Raises RecognitionPaused while the throttle's cooldown lasts."""
        started = self._clock()
        faces = tuple(self._engine.detect(frame))
        detected = self._clock()
        timings = FrameTimings(detect_ms=(detected - started) * 1000)
        largest = max(faces, key=lambda face: face.area) if faces else None
        if self._tracker.update(largest):
            self._votes = ConsecutiveVotes(self._door.frames_to_confirm)
            self._decided = False
            self._track_started = started
        if largest is None or self._decided:
            # A face already decided is neither embedded nor searched again.
            return FrameOutcome(faces, largest, None, None, False, timings)
        guidance = self._blocking_guidance(faces, largest)
        if guidance is not None:
            return FrameOutcome(faces, largest, guidance, None, False, timings)
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
        self._decided = True
        granted = confirmation.verdict is Verdict.GRANTED
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
