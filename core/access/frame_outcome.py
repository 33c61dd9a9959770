"""What the door made of one camera frame: the faces, advice, and a decision when reached."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.access.liveness import LivenessState
from core.faces import BGRImage, DetectedFace
from core.records import AccessDecision, StageTimings


class Guidance(StrEnum):
    COME_CLOSER = "come closer"
    LOOK_AT_CAMERA = "look at the camera"
    ONE_AT_A_TIME = "one person at a time"


@dataclass(frozen=True, kw_only=True)
class FrameTimings(StageTimings):
    """One frame's stages (ms), with the writing of the decision on the frame that
    decides; 0 for a stage not run."""

    record_ms: float = 0.0

    @property
    def total_ms(self) -> float:
        return self.detect_ms + self.embed_ms + self.search_ms + self.record_ms


@dataclass(frozen=True)
class PinPrompt:
    """The door asks the recognised person in front of it for their PIN."""

    request: int
    """Which request: a PIN typed for one is never checked against another person's."""
    remaining_s: float
    """Time left to type it (s), as of this frame."""


@dataclass(frozen=True, kw_only=True)
class FrameOutcome:
    faces: tuple[DetectedFace, ...]
    tracked: DetectedFace | None
    """The largest face, which the door follows."""
    timings: FrameTimings
    guidance: Guidance | None = None
    decision: AccessDecision | None = None
    """Set on the one frame where this face's decision is reached."""
    searched: bool = False
    """The gallery was searched on this frame."""
    liveness: LivenessState | None = None
    """While a matched face is being challenged: what to do, and how far it got."""
    pin: PinPrompt | None = None
    """While the door waits for a recognised person's PIN (a face_and_pin door)."""


class FrameNotes:
    """What the door knows of the frame it is processing, gathered as it goes (the
    door's own working notes; the outcome is what it shows)."""

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
        pin: PinPrompt | None = None,
    ) -> FrameOutcome:
        return FrameOutcome(
            faces=self.faces,
            tracked=self.largest,
            timings=self.timings,
            guidance=guidance,
            decision=decision,
            searched=self.searched,
            liveness=liveness or self.liveness,
            pin=pin,
        )
