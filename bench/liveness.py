"""The liveness check against live-like sequences and synthetic attacks.

Every sequence is built from the package photos, so every figure here is about
synthetic material and says so:

- *live*: a face from a group photo, with camera noise on each frame; its real
  106 landmarks (from 2d106det) get a synthetic blink or head turn when the
  check asks for one, as a cooperative person would do.
- *still photo*: the same frame again and again.
- *moved photo*: the photo rotated, scaled, sheared and shifted from frame to
  frame (a print waved about); landmarks from the model on each warped frame.
- *replay*: a recording of a live attempt that passed, played back to a new
  attempt with its own random challenge.
Each frame's identity similarity is 1: identity is not what is measured here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from bench.photos import package_photo
from core.access.liveness import EYES, Challenge, LivenessCheck, Observation, Verdict, face_patch
from core.faces import BGRImage, Points106
from core.settings import ImageLimits, LivenessMode, LivenessSettings
from core.vision.engine import FaceEngine
from core.vision.imagefile import read_image_file

FPS = 15
SECONDS = 8
ATTACKS = ("still photo", "moved photo", "replay")


@dataclass(frozen=True)
class LivenessRow:
    mode: str
    sequence: str
    attempts: int
    passed: int

    @property
    def pass_rate(self) -> float:
        return self.passed / self.attempts if self.attempts else 0.0


@dataclass(frozen=True)
class _Frame:
    points: Points106
    patch: np.ndarray


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run(engine: FaceEngine, faces: int, progress: Callable[[str], None]) -> list[LivenessRow]:
    crops = list(_faces(engine))[:faces]
    progress(f"liveness: {len(crops)} faces, live sequences and three attacks")
    # The models see each frame once; the three modes reuse what they saw.
    seen = [
        (_camera(engine, crop, n), list(_moved(engine, crop, n))) for n, crop in enumerate(crops)
    ]
    rows = []
    for mode in (LivenessMode.BLINK, LivenessMode.TURN, LivenessMode.BOTH):
        settings = LivenessSettings(mode=mode)
        outcomes: dict[str, list[bool]] = {name: [] for name in ("live", *ATTACKS)}
        for number, (camera, moved) in enumerate(seen):
            if not camera:
                continue
            rng = random.Random(number)
            passed, recording = _live(camera, settings, rng)
            outcomes["live"].append(passed)
            outcomes["still photo"].append(_attack(settings, rng, iter([camera[0]] * len(camera))))
            outcomes["moved photo"].append(_attack(settings, rng, iter(moved)))
            if passed:  # only a recording of a pass is worth replaying
                outcomes["replay"].append(_attack(settings, rng, iter(recording)))
        rows += [
            LivenessRow(mode.value, name, len(results), sum(results))
            for name, results in outcomes.items()
        ]
    return rows


def _faces(engine: FaceEngine) -> Iterator[BGRImage]:
    """Each face large enough in the package photos, cropped with a margin."""
    for name in ("players.jpg", "t1.jpg", "gdp.jpg", "yaoming.jpg"):
        image = read_image_file(package_photo(name), ImageLimits())
        for face in engine.detect(image):
            if face.short_side < 40:
                continue
            x1, y1, x2, y2 = (round(v) for v in face.box)
            pad = round(0.6 * face.short_side)
            crop = image[max(y1 - pad, 0) : y2 + pad, max(x1 - pad, 0) : x2 + pad]
            yield np.asarray(
                cv2.resize(crop, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC), np.uint8
            )


def _observe(engine: FaceEngine, frame: BGRImage) -> _Frame | None:
    faces = engine.detect(frame)
    if not faces:
        return None
    face = max(faces, key=lambda f: f.area)
    return _Frame(engine.landmarks_106(frame, face), face_patch(frame, face))


def _camera(engine: FaceEngine, crop: BGRImage, seed: int) -> list[_Frame]:
    """The face before a camera for SECONDS: a little sensor noise on every frame."""
    noise = np.random.default_rng(seed)
    frames = []
    for _ in range(SECONDS * FPS):
        noisy = np.clip(crop + noise.normal(0, 3, crop.shape), 0, 255).astype(np.uint8)
        seen = _observe(engine, noisy)
        if seen is not None:
            frames.append(seen)
    return frames


def _live(
    camera: list[_Frame], settings: LivenessSettings, rng: random.Random
) -> tuple[bool, list[_Frame]]:
    """A cooperative person: does what the screen says, a few frames after it says it."""
    clock = _Clock()
    check = LivenessCheck(settings, rng, clock)
    recording: list[_Frame] = []
    acting: tuple[Challenge, int] | None = None
    for number, seen in enumerate(camera):
        clock.now = number / FPS
        state = check.state
        if state.instruction is not None and (acting is None or acting[0] != state.instruction):
            acting = (state.instruction, number + 4)  # reaction time
        frame = _Frame(_act(seen.points, acting, number), seen.patch)
        recording.append(frame)
        state = check.observe(Observation(frame.points, frame.patch, 1.0))
        if state.verdict is not Verdict.PENDING:
            return state.verdict is Verdict.PASSED, recording
    return False, recording


def _act(points: Points106, acting: tuple[Challenge, int] | None, number: int) -> Points106:
    if acting is None or number < acting[1]:
        return points
    step = number - acting[1]
    moved = points.copy()
    if acting[0] is Challenge.BLINK:
        return eyes_opened(moved, {0: 0.5, 1: 0.15, 2: 0.1, 3: 0.5}.get(step, 1.0))
    # A turn: the nose swings sideways and the far eye narrows, over a few frames.
    amount = min(step / 4, 1.0)
    sign = 1.0 if acting[0] is Challenge.TURN_LEFT else -1.0
    eyes = float(np.linalg.norm(moved[92] - moved[38]))
    moved[86][0] += sign * 0.45 * eyes * amount
    far = slice(87, 97) if sign > 0 else slice(33, 43)
    centre = moved[far].mean(axis=0)
    moved[far, 0] = centre[0] + (moved[far, 0] - centre[0]) * (1 - 0.35 * amount)
    return moved


def eyes_opened(points: Points106, openness: float) -> Points106:
    """``points`` with both eyes' lids opened to ``openness`` (1: as they were, 0: shut)."""
    moved = points.copy()
    for _, pairs in EYES:
        for upper, lower in pairs:
            middle = (moved[upper][1] + moved[lower][1]) / 2
            moved[upper][1] = middle - (middle - moved[upper][1]) * openness
            moved[lower][1] = middle + (moved[lower][1] - middle) * openness
    return moved


def _moved(engine: FaceEngine, crop: BGRImage, seed: int) -> Iterator[_Frame]:
    rng = np.random.default_rng(seed)
    height, width = crop.shape[:2]
    phase = rng.uniform(0, 6, 4)
    for number in range(SECONDS * FPS):
        t = number / FPS
        matrix = cv2.getRotationMatrix2D(
            (width / 2, height / 2), 15 * np.sin(2 * t + phase[0]), 1 + 0.15 * np.sin(3 * t)
        )
        matrix[0, 1] += 0.2 * np.sin(4 * t + phase[1])
        matrix[1, 1] *= 1 + 0.3 * np.sin(5 * t + phase[2])
        matrix[:, 2] += (10 * np.sin(5 * t + phase[3]), 8 * np.cos(3 * t))
        warped = np.asarray(
            cv2.warpAffine(crop, matrix, (width, height), borderValue=(70, 70, 70)), np.uint8
        )
        seen = _observe(engine, warped)
        if seen is not None:
            yield seen


def _attack(settings: LivenessSettings, rng: random.Random, frames: Iterator[_Frame]) -> bool:
    clock = _Clock()
    check = LivenessCheck(settings, rng, clock)
    for number, frame in enumerate(frames):
        clock.now = number / FPS
        state = check.observe(Observation(frame.points, frame.patch, 1.0))
        if state.verdict is not Verdict.PENDING:
            return state.verdict is Verdict.PASSED
    clock.now = SECONDS + settings.time_limit_s
    return check.state.verdict is Verdict.PASSED
