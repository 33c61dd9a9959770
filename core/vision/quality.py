"""The enrollment quality gate: pure measurements and checks, one reason each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np

from core.faces import BGRImage, DetectedFace
from core.settings import QualitySettings

# Grey levels treated as clipped when judging exposure.
_DARK_LEVEL = 8
_BRIGHT_LEVEL = 247


class QualityCheck(StrEnum):
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    LOW_CONFIDENCE = "low_confidence"
    BLURRY = "blurry"
    NOT_FRONTAL = "not_frontal"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"


# What the person in front of the camera should do, in a few plain words.
ADVICE: dict[QualityCheck, str] = {
    QualityCheck.NO_FACE: "step in front of the camera",
    QualityCheck.SEVERAL_FACES: "one person at a time",
    QualityCheck.FACE_TOO_SMALL: "come closer",
    QualityCheck.LOW_CONFIDENCE: "show your whole face, uncovered",
    QualityCheck.BLURRY: "hold still",
    QualityCheck.NOT_FRONTAL: "look straight at the camera",
    QualityCheck.TOO_DARK: "too dark: more light on the face",
    QualityCheck.TOO_BRIGHT: "too bright: less light on the face",
}


@dataclass(frozen=True)
class QualityIssue:
    check: QualityCheck
    message: str


@dataclass(frozen=True)
class FaceMeasurements:
    face_px: float
    score: float
    sharpness: float
    yaw: float
    roll_degrees: float
    pitch: float
    brightness: float
    dark_fraction: float
    bright_fraction: float


def measure(face: DetectedFace, aligned: BGRImage) -> FaceMeasurements:
    """Measure a face; ``aligned`` is its 112x112 crop, so sharpness is scale-free."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    left_eye, right_eye, nose, left_mouth, right_mouth = face.landmarks.astype(np.float64)
    eye_mid = (left_eye + right_eye) / 2
    mouth_mid = (left_mouth + right_mouth) / 2
    eye_distance = float(np.linalg.norm(right_eye - left_eye)) or 1.0
    eye_to_mouth = float(mouth_mid[1] - eye_mid[1]) or 1.0
    return FaceMeasurements(
        face_px=face.short_side,
        score=face.score,
        sharpness=float(cv2.Laplacian(grey, cv2.CV_64F).var()),
        yaw=float((nose[0] - eye_mid[0]) / eye_distance),
        roll_degrees=float(
            np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
        ),
        pitch=float((nose[1] - eye_mid[1]) / eye_to_mouth),
        brightness=float(grey.mean()),
        dark_fraction=float((grey <= _DARK_LEVEL).mean()),
        bright_fraction=float((grey >= _BRIGHT_LEVEL).mean()),
    )


def face_count_issue(count: int) -> QualityIssue | None:
    if count == 0:
        return QualityIssue(QualityCheck.NO_FACE, "no face found; the face must be clearly visible")
    if count > 1:
        return QualityIssue(
            QualityCheck.SEVERAL_FACES,
            f"{count} faces in image; enrollment needs exactly one",
        )
    return None


def enrollment_issues(m: FaceMeasurements, settings: QualitySettings) -> list[QualityIssue]:
    issues = []
    if m.face_px < settings.min_face_px:
        issues.append(
            QualityIssue(
                QualityCheck.FACE_TOO_SMALL,
                f"face is {m.face_px:.0f} px; enrollment needs at least "
                f"{settings.min_face_px} px: move closer or use a larger photo",
            )
        )
    if m.score < settings.min_detection_score:
        issues.append(
            QualityIssue(
                QualityCheck.LOW_CONFIDENCE,
                f"face detected with confidence {m.score:.2f}, below "
                f"{settings.min_detection_score:.2f}: show the whole face, uncovered",
            )
        )
    if m.sharpness < settings.min_sharpness:
        issues.append(
            QualityIssue(
                QualityCheck.BLURRY,
                f"face is blurry (sharpness {m.sharpness:.0f}, needs {settings.min_sharpness:.0f}):"
                " hold still and check the focus",
            )
        )
    pitch_low, pitch_high = settings.pitch_range
    if (
        abs(m.yaw) > settings.max_yaw
        or abs(m.roll_degrees) > settings.max_roll_degrees
        or not pitch_low <= m.pitch <= pitch_high
    ):
        issues.append(
            QualityIssue(
                QualityCheck.NOT_FRONTAL,
                "face is not frontal: look straight at the camera with the head level",
            )
        )
    bright_low, bright_high = settings.brightness_range
    if m.brightness < bright_low or m.dark_fraction > settings.max_clipped_fraction:
        issues.append(
            QualityIssue(QualityCheck.TOO_DARK, "face is too dark: add light in front of the face")
        )
    elif m.brightness > bright_high or m.bright_fraction > settings.max_clipped_fraction:
        issues.append(
            QualityIssue(
                QualityCheck.TOO_BRIGHT, "face is overexposed: reduce direct light or glare"
            )
        )
    return issues
