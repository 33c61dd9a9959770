"""From a BGR frame to faces, quality and L2-normalised embeddings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from core.errors import ConfigurationError, InputRejected, QualityRejected
from core.faces import BGRImage, DetectedFace, Embedding, Points106
from core.settings import QualitySettings
from core.vision.alignment import align_face
from core.vision.quality import (
    FaceMeasurements,
    QualityCheck,
    QualityIssue,
    enrollment_issues,
    face_count_issue,
    measure,
)

MIN_FRAME_SIDE = 32


class FaceDetector(Protocol):
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


class FaceEngine:
    """Detects, aligns and embeds faces, and applies the quality gate.

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
    ) -> None:
        self._detector = detector
        self._embedder = embedder
        self._landmarker = landmarker
        self._quality = quality
        self._max_pixels = max_pixels
        self.template_model = template_model

    def detect(self, frame: BGRImage) -> list[DetectedFace]:
        return self._detector.detect(self._checked(frame))

    def with_detector_size(self, size: int) -> FaceEngine:
        """This engine with detection at another input size; the models are shared.

        A camera at a door sees one near face, which a smaller input finds as
        well and several times faster; photos may hold small faces."""
        return FaceEngine(
            self._detector.with_input_size(size),
            self._embedder,
            self._quality,
            self.template_model,
            self._max_pixels,
            self._landmarker,
        )

    def with_landmarker(self, landmarker: FaceLandmarker) -> FaceEngine:
        """This engine with another source of 106-point landmarks; the models are shared."""
        return FaceEngine(
            self._detector,
            self._embedder,
            self._quality,
            self.template_model,
            self._max_pixels,
            landmarker,
        )

    def landmarks_106(self, frame: BGRImage, face: DetectedFace) -> Points106:
        if self._landmarker is None:
            raise ConfigurationError(
                "the liveness check needs the 106-point landmark model (2d106det.onnx) "
                "in the model pack"
            )
        return self._landmarker.landmarks_106(frame, face)

    def sample(self, frame: BGRImage, face: DetectedFace) -> FaceSample:
        aligned = align_face(frame, face.landmarks)
        raw = np.asarray(self._embedder.embed(aligned), dtype=np.float32).ravel()
        norm = float(np.linalg.norm(raw))
        if raw.shape != (self._embedder.dimension,) or not np.isfinite(norm) or norm == 0.0:
            raise InputRejected("the face could not be turned into a template; try another image")
        return FaceSample(face, raw / norm, measure(face, aligned))

    def assess(self, frame: BGRImage) -> Assessment:
        """Every face in ``frame`` and, when there is exactly one, its sample and
        what the enrollment gate finds wrong with it."""
        faces = tuple(self.detect(frame))
        count_issue = face_count_issue(len(faces))
        if count_issue is not None:
            return Assessment(faces, None, (count_issue,))
        sample = self.sample(frame, faces[0])
        return Assessment(
            faces, sample, tuple(enrollment_issues(sample.measurements, self._quality))
        )

    def enrollment_sample(self, frame: BGRImage, label: str) -> FaceSample:
        """The one face in ``frame``, if it passes the whole quality gate."""
        assessment = self.assess(frame)
        if assessment.sample is None or assessment.issues:
            reasons = "; ".join(issue.message for issue in assessment.issues)
            raise QualityRejected(f"{label}: {reasons}", assessment.issues)
        return assessment.sample

    def identification_sample(self, frame: BGRImage, label: str) -> FaceSample:
        """The largest face in ``frame``; only its size is gated."""
        faces = self.detect(frame)
        if not faces:
            issue = face_count_issue(0)
            assert issue is not None
            raise QualityRejected(f"{label}: {issue.message}", [issue])
        largest = max(faces, key=lambda face: face.area)
        if largest.short_side < self._quality.min_identify_face_px:
            issue = QualityIssue(
                QualityCheck.FACE_TOO_SMALL,
                f"largest face is {largest.short_side:.0f} px; identification needs at least "
                f"{self._quality.min_identify_face_px} px: come closer",
            )
            raise QualityRejected(f"{label}: {issue.message}", [issue])
        return self.sample(frame, largest)

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
