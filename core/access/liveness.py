"""Liveness: a random challenge a photo cannot meet, and cheap signs of a still image.

Pure of models and Qt: the door gives each frame's 106 landmarks (InsightFace's
2d106det layout), a small grey patch of the face and the face's similarity to
the matched template; ``LivenessCheck`` says what to ask and whether it passed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from core.faces import BGRImage, DetectedFace, Points106
from core.settings import LivenessMode, LivenessSettings

# 2d106det's eye contours: two corners, and three upper/lower lid pairs.
EYES: tuple[tuple[tuple[int, int], tuple[tuple[int, int], ...]], ...] = (
    ((35, 39), ((41, 36), (40, 33), (42, 37))),  # image-left eye: corners, upper/lower lids
    ((89, 93), ((95, 90), (94, 87), (96, 91))),  # image-right eye
)
_NOSE_TIP = 86
_LEFT_EYE_CENTRE = 38
_RIGHT_EYE_CENTRE = 92
_MOUTH = slice(52, 72)


class Challenge(StrEnum):
    BLINK = "blink"
    TURN_LEFT = "turn your head to the left"
    TURN_RIGHT = "turn your head to the right"


class Verdict(StrEnum):
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"


@dataclass(frozen=True)
class Observation:
    points: Points106
    face_patch: npt.NDArray[np.uint8]
    """The face, grey, resized to a fixed small square: frames compared cheaply."""
    identity_similarity: float
    """Cosine similarity of this frame's face to the template it matched."""


@dataclass(frozen=True)
class LivenessState:
    verdict: Verdict
    instruction: Challenge | None
    """What to do now, while pending."""
    done: int
    total: int
    reason: str | None = None
    """Why it failed, for the log and the screen."""


def eye_aspect_ratio(points: Points106) -> float:
    """Mean lid opening over eye width of both eyes: about 0.25 open, under 0.1 shut."""
    ratios = []
    for (a, b), pairs in EYES:
        width = float(np.linalg.norm(points[a] - points[b]))
        lids = [float(np.linalg.norm(points[u] - points[d])) for u, d in pairs]
        ratios.append(sum(lids) / (len(lids) * width) if width > 0 else 0.0)
    return float(np.mean(ratios))


def face_height_ratio(points: Points106) -> float:
    """Eyes-to-mouth distance over the distance between the eyes. A blink leaves it
    alone; squashing a photo to fake one does not."""
    left, right = points[_LEFT_EYE_CENTRE], points[_RIGHT_EYE_CENTRE]
    eyes = float(np.linalg.norm(right - left))
    mouth = points[_MOUTH].mean(axis=0)
    return float(np.linalg.norm(mouth - (left + right) / 2)) / eyes if eyes else 0.0


def eye_width_ratio(points: Points106) -> float:
    """Width of the image-left eye over the image-right one. Any affine warp of a flat
    photo keeps it (parallel lengths keep their ratio); a real head turn does not."""
    left = float(np.linalg.norm(points[35] - points[39]))
    right = float(np.linalg.norm(points[89] - points[93]))
    return left / right if right else 0.0


def yaw(points: Points106) -> float:
    """The nose tip's offset from the eyes' midpoint, in eye distances, in the image:
    positive when the nose is right of centre, i.e. the person turned to their left
    (the camera does not mirror)."""
    left, right = points[_LEFT_EYE_CENTRE], points[_RIGHT_EYE_CENTRE]
    distance = float(np.linalg.norm(right - left))
    if distance == 0:
        return 0.0
    return float((points[_NOSE_TIP][0] - (left[0] + right[0]) / 2) / distance)


def challenges_for(mode: LivenessMode, rng: random.Random) -> tuple[Challenge, ...]:
    """The attempt's challenges in a random order; the turn's side is random too."""
    turn = rng.choice((Challenge.TURN_LEFT, Challenge.TURN_RIGHT))
    chosen = {
        LivenessMode.BLINK: [Challenge.BLINK],
        LivenessMode.TURN: [turn],
        LivenessMode.BOTH: [Challenge.BLINK, turn],
    }.get(mode, [])
    rng.shuffle(chosen)
    return tuple(chosen)


class LivenessCheck:
    """One attempt: the challenges in order within the time limit, while no sign of
    a still image or a changed identity appears. Not thread-safe: the door's."""

    def __init__(
        self,
        settings: LivenessSettings,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._started = clock()
        self.challenges = challenges_for(settings.mode, rng or random.SystemRandom())
        self._done = 0
        self._open_ear: float | None = None
        self._open_shape = 0.0
        self._closed = False
        self._start_eye_ratio: float | None = None
        self._turn_frames = 0
        self._previous_patch: npt.NDArray[np.float32] | None = None
        self._still_frames = 0
        self._first_points: Points106 | None = None
        self._largest_motion = 0.0
        self._failure: str | None = None

    def observe(self, seen: Observation) -> LivenessState:
        if self._failure is None and self._done < len(self.challenges):
            self._failure = self._passive_failure(seen) or self._timed_out()
            if self._failure is None:
                self._advance(seen)
        return self.state

    @property
    def state(self) -> LivenessState:
        total = len(self.challenges)
        if self._failure is not None:
            return LivenessState(Verdict.FAILED, None, self._done, total, self._failure)
        if self._done == total:
            return LivenessState(Verdict.PASSED, None, total, total)
        return LivenessState(Verdict.PENDING, self.challenges[self._done], self._done, total)

    def _advance(self, seen: Observation) -> None:
        challenge = self.challenges[self._done]
        if self._start_eye_ratio is None:
            self._start_eye_ratio = eye_width_ratio(seen.points)
        if challenge is Challenge.BLINK:
            met = self._blinked(seen.points)
        else:
            # Turning to one's left takes the left eye (image right) away from the
            # camera: it narrows, so the image-left / image-right ratio grows.
            sign = 1.0 if challenge is Challenge.TURN_LEFT else -1.0
            turned = sign * yaw(seen.points) >= self._settings.turn_yaw
            change = sign * (eye_width_ratio(seen.points) / self._start_eye_ratio - 1.0)
            held = turned and change >= self._settings.turn_eye_asymmetry
            self._turn_frames = self._turn_frames + 1 if held else 0
            met = self._turn_frames >= self._settings.turn_hold_frames
        if met:
            self._done += 1
            self._open_ear, self._closed = None, False
            self._turn_frames = 0

    def _blinked(self, points: Points106) -> bool:
        """Open, then shut (below a share of the open level), then open again, while
        the face keeps its shape."""
        s = self._settings
        ear, shape = eye_aspect_ratio(points), face_height_ratio(points)
        if self._open_ear is None or (not self._closed and ear > self._open_ear):
            self._open_ear, self._open_shape = ear, shape
            return False
        if abs(shape / self._open_shape - 1.0) > s.blink_shape_tolerance:
            self._open_ear, self._closed = None, False  # squashed, not blinking: start over
            return False
        if not self._closed:
            self._closed = ear < self._open_ear * s.blink_closed_share
            return False
        return ear > self._open_ear * s.blink_reopened_share

    def _passive_failure(self, seen: Observation) -> str | None:
        s = self._settings
        if seen.identity_similarity < s.min_identity_similarity:
            return "the face changed during the check"
        patch = seen.face_patch.astype(np.float32)
        if self._previous_patch is not None:
            difference = float(np.mean(np.abs(patch - self._previous_patch)))
            self._still_frames = self._still_frames + 1 if difference < s.still_difference else 0
            if self._still_frames >= s.still_frames:
                return "identical frames: a still image"
        self._previous_patch = patch
        points = seen.points.astype(np.float32)
        if self._first_points is None:
            self._first_points = points
        else:
            scale = float(np.ptp(self._first_points[:, 0])) or 1.0
            moved = float(np.max(np.linalg.norm(points - self._first_points, axis=1))) / scale
            self._largest_motion = max(self._largest_motion, moved)
        return None

    def _timed_out(self) -> str | None:
        if self._clock() - self._started <= self._settings.time_limit_s:
            return None
        if self._largest_motion < self._settings.min_landmark_motion:
            return "the face did not move: a photo"
        return "the challenge was not met in time"


# The grey patch the liveness check compares between frames: small, so cheap.
_PATCH_SIDE = 32


def face_patch(frame: BGRImage, face: DetectedFace) -> npt.NDArray[np.uint8]:
    """The face's box, grey, resized to a _PATCH_SIDE square (zeros if off-frame)."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = (round(v) for v in face.box)
    crop = frame[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if crop.size == 0:
        return np.zeros((_PATCH_SIDE, _PATCH_SIDE), np.uint8)
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
    return np.asarray(cv2.resize(grey, (_PATCH_SIDE, _PATCH_SIDE)), dtype=np.uint8)
