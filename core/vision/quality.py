"""The enrollment quality gate: pure measurements and checks, one reason each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import cv2
import numpy as np
import numpy.typing as npt

from core.faces import BGRImage, DetectedFace, Landmarks
from core.settings import QualitySettings

# Grey levels treated as clipped when judging exposure.
_DARK_LEVEL = 8
_BRIGHT_LEVEL = 247
# Decimals a refusal may show to tell a measure from the limit it failed; closer than
# that, the shortest forms of the two numbers.
_MOST_PLACES = 4
# The face proper in the 112x112 aligned crop (rows, columns): eyebrows to chin and
# cheek to cheek. The ArcFace template puts the eyes at row 51.5 and the mouth at row 92,
# 35 px apart across; the eyebrows are some 17 px above the eyes and the chin some 16
# below the mouth. Crops of the package photos that touch an edge (chin, forehead, each
# side, passport-style) leave none of it outside; a cut through the forehead above the
# brows leaves none either and still matches at 0.94; cuts that take the brows, the
# chin or a cheek leave 6-31 % outside.
_FACE_ROWS = slice(34, 108)
_FACE_COLUMNS = slice(24, 88)


class QualityCheck(StrEnum):
    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    FACE_TOO_SMALL = "face_too_small"
    LOW_CONFIDENCE = "low_confidence"
    BLURRY = "blurry"
    NOT_FRONTAL = "not_frontal"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    FACE_CUT_OFF = "face_cut_off"
    PHOTO_ROTATED = "photo_rotated"


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
    QualityCheck.FACE_CUT_OFF: "the whole face must be in the picture",
    QualityCheck.PHOTO_ROTATED: "hold the camera upright",
}

CUT_OFF_MESSAGE = "the face is cut off by the edge: the whole face must be in the picture"


@dataclass(frozen=True)
class QualityIssue:
    check: QualityCheck
    message: str


@dataclass(frozen=True, kw_only=True)
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
    outside_share: float
    """Share of the face proper (eyebrows to chin, cheek to cheek) outside the picture."""


@dataclass(frozen=True)
class HeadPose:
    yaw: float
    roll_degrees: float
    pitch: float

    def is_frontal(self, settings: QualitySettings) -> bool:
        pitch_low, pitch_high = settings.pitch_range
        return (
            abs(self.yaw) <= settings.max_yaw
            and abs(self.roll_degrees) <= settings.max_roll_degrees
            and pitch_low <= self.pitch <= pitch_high
        )


def head_pose(landmarks: Landmarks) -> HeadPose:
    """Yaw and pitch as shares of the eye distance and eye-to-mouth height; roll in degrees."""
    left_eye, right_eye, nose, left_mouth, right_mouth = landmarks.astype(np.float64)
    eye_mid = (left_eye + right_eye) / 2
    mouth_mid = (left_mouth + right_mouth) / 2
    eye_distance = float(np.linalg.norm(right_eye - left_eye)) or 1.0
    eye_to_mouth = float(mouth_mid[1] - eye_mid[1]) or 1.0
    return HeadPose(
        yaw=float((nose[0] - eye_mid[0]) / eye_distance),
        roll_degrees=float(
            np.degrees(np.arctan2(right_eye[1] - left_eye[1], right_eye[0] - left_eye[0]))
        ),
        pitch=float((nose[1] - eye_mid[1]) / eye_to_mouth),
    )


def measure(
    face: DetectedFace, aligned: BGRImage, in_picture: npt.NDArray[np.bool_]
) -> FaceMeasurements:
    """Measure a face; ``aligned`` is its 112x112 crop, so sharpness is scale-free, and
    ``in_picture`` (112x112) marks the crop's pixels that come from the picture.

    Light and sharpness are measured on those pixels only: the black that fills the
    rest of a face cut off by an edge is neither shadow nor detail."""
    grey = cv2.cvtColor(aligned, cv2.COLOR_BGR2GRAY)
    laplacian = cv2.Laplacian(grey, cv2.CV_64F)
    seen, detail = grey, laplacian
    if not in_picture.all():  # most faces lie wholly inside: no masking to pay for then
        # The Laplacian of a pixel next to the black fill sees the fill's edge: left out.
        inner = cv2.erode(in_picture.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        seen = grey[in_picture] if in_picture.any() else grey
        detail = laplacian[inner] if inner.any() else laplacian
    pose = head_pose(face.landmarks)
    return FaceMeasurements(
        face_px=face.short_side,
        score=face.score,
        sharpness=float(detail.var()),
        yaw=pose.yaw,
        roll_degrees=pose.roll_degrees,
        pitch=pose.pitch,
        brightness=float(seen.mean()),
        dark_fraction=float((seen <= _DARK_LEVEL).mean()),
        bright_fraction=float((seen >= _BRIGHT_LEVEL).mean()),
        outside_share=float(1.0 - in_picture[_FACE_ROWS, _FACE_COLUMNS].mean()),
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


def apart(value: float, limit: float, places: int) -> tuple[str, str]:
    """``value`` and the ``limit`` it failed, with ``places`` decimals, or as many more as
    it takes to show them different: a score of 0.696 is "0.696, below 0.700", never
    "0.70, below 0.70"."""
    for shown in range(places, _MOST_PLACES + 1):
        pair = f"{value:.{shown}f}", f"{limit:.{shown}f}"
        if pair[0] != pair[1]:
            return pair
    return repr(float(value)), repr(float(limit))  # the shortest forms that tell floats apart


def enrollment_issues(m: FaceMeasurements, settings: QualitySettings) -> list[QualityIssue]:
    """What the gate finds wrong with a face, each with its reason; a face cut off by an
    edge has that one reason, since every other measure is of part of a face."""
    if m.outside_share > settings.max_face_outside_share:
        return [QualityIssue(QualityCheck.FACE_CUT_OFF, CUT_OFF_MESSAGE)]
    issues = []
    if m.face_px < settings.min_face_px:
        size, needed = apart(m.face_px, settings.min_face_px, 0)
        issues.append(
            QualityIssue(
                QualityCheck.FACE_TOO_SMALL,
                f"face is {size} px; enrollment needs at least {needed} px: move closer or "
                "use a larger photo",
            )
        )
    if m.score < settings.min_detection_score:
        score, needed = apart(m.score, settings.min_detection_score, 2)
        issues.append(
            QualityIssue(
                QualityCheck.LOW_CONFIDENCE,
                f"face detected with confidence {score}, below {needed}: show the whole "
                "face, uncovered",
            )
        )
    if m.sharpness < settings.min_sharpness:
        sharpness, needed = apart(m.sharpness, settings.min_sharpness, 0)
        issues.append(
            QualityIssue(
                QualityCheck.BLURRY,
                f"face is blurry (sharpness {sharpness}, needs {needed}): hold still and "
                "check the focus",
            )
        )
    if not HeadPose(m.yaw, m.roll_degrees, m.pitch).is_frontal(settings):
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
