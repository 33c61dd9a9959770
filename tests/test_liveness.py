"""The liveness check on synthetic landmark sequences: what passes and what never does."""

from __future__ import annotations

import random

import numpy as np
import pytest

from core.access.liveness import (
    Challenge,
    LivenessCheck,
    Observation,
    Verdict,
    challenges_for,
    eye_aspect_ratio,
    yaw,
)
from core.settings import LivenessMode, LivenessSettings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def face(openness: float = 1.0, turn: float = 0.0) -> np.ndarray:
    """106 landmarks of a frontal face 100 px between the eyes, in 2d106det's order.
    ``openness`` scales the lids' opening; ``turn`` (-1..1) turns the head: the nose
    moves sideways and the eye on the far side gets narrower."""
    points = np.random.default_rng(7).uniform(80, 220, (106, 2)).astype(np.float32)
    for centre_x, corners, lids, centre in (
        (100.0, (35, 39), ((41, 36), (40, 33), (42, 37)), 38),
        (200.0, (89, 93), ((95, 90), (94, 87), (96, 91)), 92),
    ):
        far = (turn > 0 and centre_x > 150) or (turn < 0 and centre_x < 150)
        half = 20.0 * (1 - 0.4 * abs(turn) if far else 1.0)
        points[corners[0]] = (centre_x - half, 100)
        points[corners[1]] = (centre_x + half, 100)
        for (upper, lower), dx in zip(lids, (-half / 2, 0, half / 2), strict=True):
            points[upper] = (centre_x + dx, 100 - 5 * openness)
            points[lower] = (centre_x + dx, 100 + 5 * openness)
        points[centre] = (centre_x, 100)
    points[86] = (150 + 50 * turn, 150)
    points[52:72] = (150, 200)
    return points


def seen(points: np.ndarray, frame: int, similarity: float = 0.7) -> Observation:
    """A camera's face patch: sensor noise makes every frame differ a little."""
    patch = np.random.default_rng(frame).integers(90, 110, (32, 32)).astype(np.uint8)
    return Observation(points, patch, similarity)


def run(check: LivenessCheck, clock: Clock, frames: list[np.ndarray]) -> Verdict:
    for number, points in enumerate(frames):
        clock.now = number / 15
        state = check.observe(seen(points, number))
        if state.verdict is not Verdict.PENDING:
            return state.verdict
    return check.state.verdict


def check_for(mode: LivenessMode, seed: int = 1) -> tuple[LivenessCheck, Clock]:
    clock = Clock()
    return LivenessCheck(LivenessSettings(mode=mode), random.Random(seed), clock), clock


def test_the_measures_read_the_landmarks() -> None:
    assert eye_aspect_ratio(face()) == pytest.approx(0.25)
    assert eye_aspect_ratio(face(openness=0.2)) == pytest.approx(0.05)
    assert yaw(face()) == 0
    assert yaw(face(turn=0.8)) > 0.25 > -0.25 > yaw(face(turn=-0.8))


def test_a_blink_passes_the_blink_challenge() -> None:
    check, clock = check_for(LivenessMode.BLINK)
    blink = [face()] * 4 + [face(0.6), face(0.2), face(0.1), face(0.5)] + [face()] * 3
    assert run(check, clock, blink) is Verdict.PASSED


def test_open_eyes_alone_never_pass_and_time_out() -> None:
    check, clock = check_for(LivenessMode.BLINK)
    jitter = [face() + np.float32(i % 3) for i in range(120)]  # moving a little, never blinking
    assert run(check, clock, jitter) is Verdict.FAILED
    assert check.state.reason == "the challenge was not met in time"


@pytest.mark.parametrize("seed", range(6))
def test_the_turn_asked_for_passes_and_the_other_does_not(seed: int) -> None:
    check, clock = check_for(LivenessMode.TURN, seed)
    asked = check.challenges[0]
    side = 1.0 if asked is Challenge.TURN_LEFT else -1.0
    wrong = [face()] * 3 + [face(turn=-side * t / 10) for t in range(11)] * 10
    assert run(check, clock, wrong) is Verdict.FAILED
    check, clock = check_for(LivenessMode.TURN, seed)
    right = [face()] * 3 + [face(turn=side * t / 10) for t in range(11)]
    assert run(check, clock, right) is Verdict.PASSED


def test_both_challenges_come_in_a_random_order() -> None:
    orders = {challenges_for(LivenessMode.BOTH, random.Random(seed)) for seed in range(40)}
    assert {order[0] for order in orders} == {
        Challenge.BLINK,
        Challenge.TURN_LEFT,
        Challenge.TURN_RIGHT,
    }
    assert all(len(order) == 2 and Challenge.BLINK in order for order in orders)
    assert challenges_for(LivenessMode.OFF, random.Random(1)) == ()


def test_identical_frames_are_a_still_image() -> None:
    check, clock = check_for(LivenessMode.BLINK)
    patch = np.full((32, 32), 100, np.uint8)
    for number in range(10):
        clock.now = number / 15
        state = check.observe(Observation(face(), patch, 0.7))
    assert state.verdict is Verdict.FAILED
    assert state.reason == "identical frames: a still image"


def test_a_face_that_never_moves_is_a_photo() -> None:
    check, clock = check_for(LivenessMode.BLINK)
    assert run(check, clock, [face()] * 200) is Verdict.FAILED
    assert check.state.reason == "the face did not move: a photo"


def test_another_face_midway_fails_the_check() -> None:
    check, _ = check_for(LivenessMode.BLINK)
    check.observe(seen(face(), 0))
    state = check.observe(seen(face(0.1), 1, similarity=0.1))
    assert state.verdict is Verdict.FAILED
    assert state.reason == "the face changed during the check"


def affine(points: np.ndarray, rng: np.random.Generator, t: float) -> np.ndarray:
    """A photo moved around: rotation, scale, squash, shear and translation over time."""
    angle = 0.3 * np.sin(3 * t + rng.uniform(0, 6))
    scale_x = 1 + 0.3 * np.sin(2 * t + rng.uniform(0, 6))
    scale_y = 1 + 0.5 * np.sin(5 * t + rng.uniform(0, 6))  # squashed to fake a blink
    shear = 0.6 * np.sin(4 * t + rng.uniform(0, 6))  # sheared to fake a turn
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    matrix = rotate @ np.array([[scale_x, shear], [0, scale_y]])
    shift = rng.uniform(-40, 40, 2) * np.sin(t)
    return ((points - 150) @ matrix.T + 150 + shift).astype(np.float32)


@pytest.mark.parametrize("mode", [LivenessMode.BLINK, LivenessMode.TURN, LivenessMode.BOTH])
def test_a_photo_moved_by_any_affine_warp_never_passes(mode: LivenessMode) -> None:
    for seed in range(30):
        rng = np.random.default_rng(seed)
        photo = face(turn=float(rng.uniform(-0.3, 0.3)))
        check, clock = check_for(mode, seed)
        frames = [affine(photo, rng, number / 15) for number in range(150)]
        assert run(check, clock, frames) is Verdict.FAILED, f"seed {seed}"
