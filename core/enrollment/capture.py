"""Live enrollment: choosing good frames of one person from the camera."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.faces import BGRImage, DetectedFace, Embedding
from core.settings import EnrollmentSettings
from core.vision.engine import FaceEngine
from core.vision.quality import ADVICE

DIFFERENT_PERSON_ADVICE = "only the person being enrolled, please"


@dataclass(frozen=True)
class CaptureProgress:
    accepted: int
    needed: int
    face: DetectedFace | None
    """The face this frame was judged on (the largest, when there are several)."""
    advice: str | None
    """What the person should change; None when the frame was good."""

    @property
    def done(self) -> bool:
        return self.accepted >= self.needed


@dataclass(frozen=True)
class CapturedEnrollment:
    """The frames of a finished capture, and the face found in each."""

    frames: tuple[BGRImage, ...]
    faces: tuple[DetectedFace, ...]


class EnrollmentCapture:
    """Collects ``settings.frames`` good frames of one person in front of the camera.

    A frame counts when it passes the whole enrollment gate, shows the same
    person as the first counted frame, and comes ``min_interval_s`` after the
    previous one, so the templates are not copies of one instant. The frames
    stay in memory only; enrollment checks them all again before storing.

    Not thread-safe: one recognition thread owns it.
    """

    def __init__(
        self,
        engine: FaceEngine,
        settings: EnrollmentSettings,
        same_person_threshold: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._same_person_threshold = same_person_threshold
        self._clock = clock
        self._frames: list[BGRImage] = []
        self._faces: list[DetectedFace] = []
        self._first: Embedding | None = None
        self._last_accepted_at = 0.0

    @property
    def captured(self) -> CapturedEnrollment:
        return CapturedEnrollment(tuple(self._frames), tuple(self._faces))

    def offer(self, frame: BGRImage) -> CaptureProgress:
        if len(self._frames) >= self._settings.frames:
            return self._progress(None, None)
        assessment = self._engine.assess(frame)
        face = max(assessment.faces, key=lambda f: f.area) if assessment.faces else None
        if assessment.issues or assessment.sample is None:
            advice = dict.fromkeys(ADVICE[issue.check] for issue in assessment.issues)
            return self._progress(face, " · ".join(advice))
        sample = assessment.sample
        if self._first is not None:
            if float(np.dot(self._first, sample.embedding)) < self._same_person_threshold:
                return self._progress(face, DIFFERENT_PERSON_ADVICE)
            if self._clock() - self._last_accepted_at < self._settings.min_interval_s:
                return self._progress(face, None)
        else:
            self._first = sample.embedding
        self._frames.append(frame.copy())  # the camera may reuse its buffer
        self._faces.append(sample.face)
        self._last_accepted_at = self._clock()
        return self._progress(face, None)

    def _progress(self, face: DetectedFace | None, advice: str | None) -> CaptureProgress:
        return CaptureProgress(len(self._frames), self._settings.frames, face, advice)
