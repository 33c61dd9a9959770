"""From a BGR frame to faces, quality and L2-normalised embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.errors import ConfigurationError, InputRejected, QualityRejected
from core.faces import BGRImage, DetectedFace, Embedding, Points106
from core.settings import ModelSettings, QualitySettings
from core.vision.alignment import align_face, alignment_matrix, picture_mask
from core.vision.framing import bordered, merged, near_edge, unframed
from core.vision.orientation import rotated_photo_issue
from core.vision.quality import (
    FaceMeasurements,
    QualityCheck,
    QualityIssue,
    enrollment_issues,
    face_count_issue,
    head_pose,
    measure,
)

MIN_FRAME_SIDE = 32


class FaceDetector(Protocol):
    @property
    def input_size(self) -> int:
        """Longer side, in pixels, that images are resized to before detection."""
        ...

    def detect(self, image: BGRImage) -> list[DetectedFace]:
        """Faces in the image, any order. Must be safe to call from several threads."""
        ...

    def with_input_size(self, size: int) -> FaceDetector:
        """The same model, resizing images to ``size`` before detection."""
        ...


class FaceEmbedder(Protocol):
    @property
    def dimension(self) -> int: ...

    def embed(self, aligned: BGRImage) -> Embedding:
        """Raw embedding of a 112x112 aligned face. Must be safe to call from several threads."""
        ...


class OtherEmbedders(Protocol):
    def embedder_for(self, template_model: str) -> FaceEmbedder | None:
        """The embedder that made ``template_model``'s templates, if it is installed
        here; None otherwise. Safe from several threads."""
        ...


class FaceLandmarker(Protocol):
    def landmarks_106(self, image: BGRImage, face: DetectedFace) -> Points106:
        """106 landmarks of ``face`` in image pixels. Safe from several threads."""
        ...


@dataclass(frozen=True)
class FaceSample:
    face: DetectedFace
    embedding: Embedding
    measurements: FaceMeasurements


@dataclass(frozen=True)
class Assessment:
    faces: tuple[DetectedFace, ...]
    sample: FaceSample | None
    """Set when there is exactly one face."""
    issues: tuple[QualityIssue, ...]
    """Empty when the one face passes the enrollment gate."""


_PHOTO_DEFAULTS = ModelSettings()


class FaceEngine:
    """Detects, aligns and embeds faces, and applies the quality gate.

    Camera frames (``detect``, ``sample``, ``assess``) are searched once each; still
    photos (``detect_photo``, ``enrollment_sample``, ``identification_sample``) are
    searched again inside a grey border when a face may fill them, and turned when
    they fail for want of a face, so that a refusal names the real cause.

    Thread-safe: after construction it holds no per-call state, and the
    detector and embedder it wraps promise concurrent calls (onnxruntime's
    ``InferenceSession.run`` allows them). One engine is loaded per process
    and shared by every thread.
    """

    def __init__(
        self,
        detector: FaceDetector,
        embedder: FaceEmbedder,
        quality: QualitySettings,
        template_model: str,
        max_pixels: int,
        landmarker: FaceLandmarker | None = None,
        *,
        photo_border: float = _PHOTO_DEFAULTS.photo_border,
        photo_edge_margin: float = _PHOTO_DEFAULTS.photo_edge_margin,
        other_embedders: OtherEmbedders | None = None,
    ) -> None:
        self._detector = detector
        self._embedder = embedder
        self._landmarker = landmarker
        self._quality = quality
        self._max_pixels = max_pixels
        self._photo_border = photo_border
        self._photo_edge_margin = photo_edge_margin
        self._other_embedders = other_embedders
        self.template_model = template_model

    def detect(self, frame: BGRImage) -> list[DetectedFace]:
        """Faces in a camera frame: one search, the door's per-frame cost."""
        return self._detector.detect(self._checked(frame))

    def detect_photo(self, photo: BGRImage) -> list[DetectedFace]:
        """Faces in a still photo, in its pixels, including a face that fills it.

        Searched once as ``detect`` does; when that finds no face, or one closer to an
        edge than ``photo_edge_margin`` of its width, searched again inside a grey
        border of ``photo_border`` (core.vision.framing): one more detection, at the
        same input size, for those photos only."""
        plain = self.detect(photo)
        height, width = photo.shape[:2]
        inner = [f for f in plain if not near_edge(f, height, width, self._photo_edge_margin)]
        if self._photo_border == 0 or (plain and len(inner) == len(plain)):
            return plain
        framed, border, scale = bordered(photo, self._photo_border, self._detector.input_size)
        found = [unframed(face, border, scale) for face in self._detector.detect(framed)]
        return merged(found, inner)

    def with_detector_size(self, size: int) -> FaceEngine:
        """This engine with detection at another input size; the models are shared.

        A camera at a door sees one near face, which a smaller input finds as
        well and several times faster; photos may hold small faces."""
        return self._copy(self._detector.with_input_size(size), self._landmarker)

    def with_landmarker(self, landmarker: FaceLandmarker) -> FaceEngine:
        """This engine with another source of 106-point landmarks; the models are shared."""
        return self._copy(self._detector, landmarker)

    def _copy(self, detector: FaceDetector, landmarker: FaceLandmarker | None) -> FaceEngine:
        return FaceEngine(
            detector,
            self._embedder,
            self._quality,
            self.template_model,
            self._max_pixels,
            landmarker,
            photo_border=self._photo_border,
            photo_edge_margin=self._photo_edge_margin,
            other_embedders=self._other_embedders,
        )

    def landmarks_106(self, frame: BGRImage, face: DetectedFace) -> Points106:
        if self._landmarker is None:
            raise ConfigurationError(
                "the liveness check needs the 106-point landmark model (2d106det.onnx) "
                "in the model pack"
            )
        return self._landmarker.landmarks_106(frame, face)

    def sample(self, frame: BGRImage, face: DetectedFace) -> FaceSample:
        matrix = alignment_matrix(face.landmarks)
        aligned = align_face(frame, face.landmarks)
        in_picture = picture_mask(matrix, *frame.shape[:2])
        embedding = _normalised(self._embedder, aligned)
        return FaceSample(face, embedding, measure(face, aligned, in_picture))

    def embed_as(self, model: str, frame: BGRImage, face: DetectedFace) -> Embedding | None:
        """``face`` as ``model`` (another pack's template model) embeds it, L2-normalised,
        to compare with that model's templates; None if that model is not installed.

        Raises InputRejected if that model cannot make a template of it."""
        if model == self.template_model:
            return self.sample(frame, face).embedding
        embedder = self._other_embedders.embedder_for(model) if self._other_embedders else None
        if embedder is None:
            return None
        return _normalised(embedder, align_face(frame, face.landmarks))

    def assess(self, frame: BGRImage) -> Assessment:
        """Every face in a camera ``frame`` and, when there is exactly one, its sample
        and what the enrollment gate finds wrong with it."""
        return self._assessed(frame, tuple(self.detect(frame)))

    def assess_photo(self, photo: BGRImage) -> Assessment:
        """``assess`` for a still photo: faces found as ``detect_photo`` finds them,
        and a photo that fails for want of a face, of confidence or of a frontal pose
        is refused as upside down or sideways if it is (core.vision.orientation)."""
        assessment = self._assessed(photo, tuple(self.detect_photo(photo)))
        first = assessment.issues[0].check if assessment.issues else None
        if first in (QualityCheck.NO_FACE, QualityCheck.LOW_CONFIDENCE, QualityCheck.NOT_FRONTAL):
            upright = max((face.score for face in assessment.faces), default=0.0)
            turned = rotated_photo_issue(photo, upright, self.detect_photo, self._quality)
            if turned is not None:
                return Assessment(assessment.faces, None, (turned,))
        return assessment

    def _assessed(self, frame: BGRImage, faces: tuple[DetectedFace, ...]) -> Assessment:
        count_issue = face_count_issue(len(faces))
        if count_issue is not None:
            return Assessment(faces, None, (count_issue,))
        sample = self.sample(frame, faces[0])
        return Assessment(
            faces, sample, tuple(enrollment_issues(sample.measurements, self._quality))
        )

    def enrollment_sample(self, photo: BGRImage, label: str) -> FaceSample:
        """The one face in ``photo``, if it passes the whole quality gate."""
        assessment = self.assess_photo(photo)
        if assessment.sample is None or assessment.issues:
            reasons = "; ".join(issue.message for issue in assessment.issues)
            raise QualityRejected(f"{label}: {reasons}", assessment.issues)
        return assessment.sample

    def identification_sample(self, photo: BGRImage, label: str) -> FaceSample:
        """The largest face in ``photo``; only its size is gated, once the photo is
        known to be upright (an unsure or tilted face makes it turned to see)."""
        faces = self.detect_photo(photo)
        largest = max(faces, key=lambda face: face.area) if faces else None
        if largest is None or not self._surely_upright(largest):
            upright = largest.score if largest is not None else 0.0
            turned = rotated_photo_issue(photo, upright, self.detect_photo, self._quality)
            if turned is not None:
                raise QualityRejected(f"{label}: {turned.message}", [turned])
        if largest is None:
            issue = face_count_issue(0)
            assert issue is not None
            raise QualityRejected(f"{label}: {issue.message}", [issue])
        if largest.short_side < self._quality.min_identify_face_px:
            issue = QualityIssue(
                QualityCheck.FACE_TOO_SMALL,
                f"largest face is {largest.short_side:.0f} px; identification needs at least "
                f"{self._quality.min_identify_face_px} px: come closer",
            )
            raise QualityRejected(f"{label}: {issue.message}", [issue])
        return self.sample(photo, largest)

    def _surely_upright(self, face: DetectedFace) -> bool:
        tilt = abs(head_pose(face.landmarks).roll_degrees)
        return (
            face.score >= self._quality.min_detection_score
            and tilt <= self._quality.max_roll_degrees
        )

    def _checked(self, frame: BGRImage) -> BGRImage:
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise InputRejected("frame must be an 8-bit image array")
        if frame.ndim != 3 or frame.shape[2] != 3:
            raise InputRejected(f"frame has shape {frame.shape}; expected height x width x 3 (BGR)")
        height, width = frame.shape[:2]
        if min(height, width) < MIN_FRAME_SIDE:
            raise InputRejected(
                f"frame is {width}x{height}; at least {MIN_FRAME_SIDE} px on each side is needed"
            )
        if height * width > self._max_pixels:
            raise InputRejected(f"frame is {width}x{height}, more pixels than allowed")
        return np.ascontiguousarray(frame)


def _normalised(embedder: FaceEmbedder, aligned: BGRImage) -> Embedding:
    raw = np.asarray(embedder.embed(aligned), dtype=np.float32).ravel()
    norm = float(np.linalg.norm(raw))
    if raw.shape != (embedder.dimension,) or not np.isfinite(norm) or norm == 0.0:
        raise InputRejected("the face could not be turned into a template; try another image")
    return raw / norm
