"""What the door made of one camera frame: the faces, advice, and a decision when reached."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.access.liveness import LivenessState
from core.faces import DetectedFace
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
