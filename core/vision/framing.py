"""Giving the detector the margin it needs around a face that fills a photo.

SCRFD was trained on faces with surroundings: a tight, passport-style crop (the face
70 % of the width, cut at the chin) gives no face at all. Searched again inside a
neutral grey border, such photos are found. Measured on 156 crops of 26 faces from
the package photos (passport-style, touching each edge, touching all four): 37 found
without a border; with a border of 0.2 / 0.3 / 0.4 / 0.5 of the longer side on each
side, 144 / 156 / 156 / 156 in grey (mean score 0.79 / 0.83 / 0.85 / 0.84) and
141 / 152 / 155 / 156 with the edge pixels repeated (0.79 / 0.81 / 0.82 / 0.81). A
mirrored border adds mirrored faces. Hence grey, 0.4 (models.photo_border).
"""

from __future__ import annotations

import cv2
import numpy as np

from core.faces import BGRImage, DetectedFace
from core.vision.pixels import NEUTRAL_GREY

# Two detections of one face overlap far more than this (intersection over union).
_SAME_FACE_OVERLAP = 0.3


def near_edge(face: DetectedFace, height: int, width: int, margin: float) -> bool:
    """Whether ``face``'s box comes closer to an edge than ``margin`` times its width."""
    x1, y1, x2, y2 = face.box
    gap = margin * face.width
    return x1 < gap or y1 < gap or x2 > width - gap or y2 > height - gap


def bordered(image: BGRImage, border_share: float, longest: int) -> tuple[BGRImage, int, float]:
    """``image`` scaled so that, inside its grey border, the longer side is at most
    ``longest`` pixels, and the border; with the border's width and the scale.

    The detector shrinks its input to its own size anyway; scaling first keeps a
    40-megapixel photo from growing to 100 megapixels in memory."""
    height, width = image.shape[:2]
    scale = min(1.0, longest / (max(height, width) * (1 + 2 * border_share)))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = np.asarray(cv2.resize(image, size, interpolation=cv2.INTER_AREA), np.uint8)
    border = max(1, round(border_share * max(image.shape[:2])))
    grey = (NEUTRAL_GREY, NEUTRAL_GREY, NEUTRAL_GREY)
    framed = cv2.copyMakeBorder(
        image, border, border, border, border, cv2.BORDER_CONSTANT, value=grey
    )
    return np.ascontiguousarray(framed), border, scale


def unframed(face: DetectedFace, border: int, scale: float) -> DetectedFace:
    """``face`` found in a ``bordered`` image, in the original image's pixels."""
    x1, y1, x2, y2 = face.box
    return DetectedFace(
        box=(
            (x1 - border) / scale,
            (y1 - border) / scale,
            (x2 - border) / scale,
            (y2 - border) / scale,
        ),
        landmarks=((face.landmarks - border) / scale).astype(np.float32),
        score=face.score,
    )


def merged(framed: list[DetectedFace], kept: list[DetectedFace]) -> list[DetectedFace]:
    """``kept`` (faces found without the border, away from the edges) and the faces
    found with the border that are not among them.

    The border shrinks the photo in the detector's input, so a face away from the
    edges is taken as found at full size (a small one may be found only so); a face
    at an edge is taken from the bordered search, which saw it whole."""
    return kept + [
        face
        for face in framed
        if all(_overlap(face, other) <= _SAME_FACE_OVERLAP for other in kept)
    ]


def _overlap(a: DetectedFace, b: DetectedFace) -> float:
    left, top = max(a.box[0], b.box[0]), max(a.box[1], b.box[1])
    right, bottom = min(a.box[2], b.box[2]), min(a.box[3], b.box[3])
    shared = max(right - left, 0.0) * max(bottom - top, 0.0)
    union = a.area + b.area - shared
    return shared / union if union > 0 else 0.0
