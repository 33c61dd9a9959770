"""Telling a photo that is upside down or sideways from a poor face.

SCRFD's landmarks cannot say it: on an upside-down face it puts the eyes above the
mouth all the same (the package photo turned over: roll 3 degrees, score 0.66, refused
for low confidence). So when a photo fails for want of a face, of confidence or of a
frontal pose, it is searched again turned by each quarter; a clearly better, frontal
face in one of those turns means the photo, not the face, is at fault.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from core.faces import BGRImage, DetectedFace
from core.settings import QualitySettings
from core.vision.quality import QualityCheck, QualityIssue, head_pose

# np.rot90 turns anticlockwise: the photo turned by k quarters is upright when the
# person turns it the same way.
_TURNS = {
    1: "a quarter turn anticlockwise",
    2: "half a turn",
    3: "a quarter turn clockwise",
}


def rotated_photo_issue(
    photo: BGRImage,
    upright_score: float,
    find_faces: Callable[[BGRImage], list[DetectedFace]],
    settings: QualitySettings,
) -> QualityIssue | None:
    """PHOTO_ROTATED, saying which way to turn it, if ``photo`` turned by a quarter, a
    half or three quarters shows a frontal face with at least the enrollment gate's
    confidence, and more than ``upright_score`` (the best face's score as it is; 0
    for none); else None.

    Up to three more searches of the photo: call it only on a photo already refused."""
    best: tuple[float, int] | None = None
    for quarters in _TURNS:
        turned = np.ascontiguousarray(np.rot90(photo, quarters))
        faces = find_faces(turned)
        if not faces:
            continue
        face = max(faces, key=lambda found: found.area)
        if face.score < max(settings.min_detection_score, upright_score):
            continue
        if not head_pose(face.landmarks).is_frontal(settings):
            continue
        if best is None or face.score > best[0]:
            best = (face.score, quarters)
    if best is None:
        return None
    return QualityIssue(
        QualityCheck.PHOTO_ROTATED,
        f"the photo is upside down or sideways; rotate it ({_TURNS[best[1]]})",
    )
