"""Following one face across frames, and confirming who it is over several frames."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from core.faces import DetectedFace
from core.matching.match_rule import MatchDecision


def box_overlap(
    a: tuple[float, float, float, float], b: tuple[float, float, float, float]
) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class FaceTracker:
    """Keeps one track: the face in front of the door, from frame to frame.

    A face overlapping the last box enough is the same person; anything else,
    or a face missing for ``max_missed`` frames, starts a new track.
    """

    def __init__(self, min_overlap: float, max_missed: int) -> None:
        self._min_overlap = min_overlap
        self._max_missed = max_missed
        self._box: tuple[float, float, float, float] | None = None
        self._missed = 0
        self.track_id: uuid.UUID | None = None

    def update(self, face: DetectedFace | None) -> bool:
        """Follow ``face`` (the largest in the frame, or None). True when a new track starts."""
        if face is None:
            self._missed += 1
            if self._missed > self._max_missed:
                self._box, self.track_id = None, None
            return False
        same = self._box is not None and box_overlap(self._box, face.box) >= self._min_overlap
        self._box, self._missed = face.box, 0
        if same:
            return False
        self.track_id = uuid.uuid4()
        return True


class Verdict(StrEnum):
    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"


@dataclass(frozen=True)
class Confirmation:
    verdict: Verdict
    decision: MatchDecision | None
    """The decision of the last frame that counted."""


class ConsecutiveVotes:
    """Grant only when ``frames`` consecutive frames match the same person.

    A frame that matches nobody, or is a tie between two people, breaks a
    streak; ``frames`` such frames in a row deny. A face that reaches neither
    within PENDING_LIMIT times ``frames`` searched frames, a few seconds at the door
    (one matching two people by turns, or matches broken by ties), is denied too: it
    is not searched without end, unseen by the recognition throttle. One instance
    per track.
    """

    PENDING_LIMIT = 20

    def __init__(self, frames: int) -> None:
        self._frames = frames
        self._person: uuid.UUID | None = None
        self._streak = 0
        self._refusals = 0
        self._searched = 0

    def add(self, decision: MatchDecision) -> Confirmation:
        self._searched += 1
        verdict = self._vote(decision)
        if verdict is Verdict.PENDING and self._searched >= self.PENDING_LIMIT * self._frames:
            verdict = Verdict.DENIED
        return Confirmation(verdict, decision)

    def _vote(self, decision: MatchDecision) -> Verdict:
        matched = decision.matched
        if matched is None:
            self._person, self._streak = None, 0
            self._refusals += 1
            return Verdict.DENIED if self._refusals >= self._frames else Verdict.PENDING
        self._refusals = 0
        if matched.person_id == self._person:
            self._streak += 1
        else:
            self._person, self._streak = matched.person_id, 1
        return Verdict.GRANTED if self._streak >= self._frames else Verdict.PENDING
