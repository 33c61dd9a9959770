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
    granted: bool
    person_id: uuid.UUID | None
    display_name: str | None
    similarity: float | None
    latency_ms: float
    """From the first frame of this face to the decision."""


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
        self._throttle.check()
        sample = self._engine.sample(frame, largest)
        embedded = self._clock()
        decision = self._identity.search(sample)
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
        self._identity.record_decision(
            AccessOutcome.GRANTED if granted else AccessOutcome.UNKNOWN,
            matched.person_id if matched else None,
            best.similarity if best else None,
            latency_ms,
        )
        timings = replace(timings, record_ms=(self._clock() - searched) * 1000)
        return FrameOutcome(
            faces,
            largest,
            None,
            DoorDecision(
                granted,
                matched.person_id if matched else None,
                matched.display_name if matched else None,
                best.similarity if best else None,
                latency_ms,
            ),
            True,
            timings,
        )

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
