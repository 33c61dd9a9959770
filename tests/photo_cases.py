"""Photos of one enrolled face as people really have them, derived from the package photo.

Nothing here is committed as an image: each variant is made from yaoming.jpg when
a test asks for it. ``Gallery`` is the enrollment and identification services of
kiosk-admin over the real store, with the 8-bit photo's person enrolled.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from core.access.identification import Identification, IdentificationService
from core.access.recognition_throttle import RecognitionThrottle
from core.accounts.operators import Authenticator
from core.enrollment.consent import current_consent
from core.enrollment.enrollment import EnrollmentResult, EnrollmentService
from core.faces import BGRImage
from core.records import Operator
from core.settings import ImageLimits, SecuritySettings, Settings
from core.vision.engine import FaceEngine
from core.vision.imagefile import decode_image_bytes, read_image_file
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore

ENROLLED_NAME = "Yao Ming"
PASSWORD = "tall-ladder-orange-77"


def encoded(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **options)
    return buffer.getvalue()


def decoded(data: bytes, label: str = "photo") -> BGRImage:
    """``data`` through the decoder every command uses."""
    return decode_image_bytes(data, label, ImageLimits())


def sixteen_bit(grey: Image.Image) -> npt.NDArray[np.uint16]:
    """The 8-bit grey ``grey`` widened to 16 bits (0..65535), as a scanner saves it."""
    return np.asarray(grey, dtype=np.uint16) * 257


def bgr_of(path: Path) -> BGRImage:
    return read_image_file(path, ImageLimits())


class Gallery:
    """kiosk-admin's enroll and identify over one real store, as one admin."""

    def __init__(
        self,
        engine: FaceEngine,
        store: SqlIdentityStore,
        operators: SqlOperatorStore,
        settings: Settings,
        admin: Operator | None = None,
    ) -> None:
        """``admin``: the acting admin, created (as alice) when not given."""
        self.admin: Operator = admin or Authenticator(
            operators, SecuritySettings(), "test-kiosk"
        ).create_first_admin("alice", PASSWORD)
        self._parts = (store, operators, settings)
        self.enrollment = EnrollmentService(engine, store, settings.matching)
        self._identification = IdentificationService(
            engine, store, settings.matching, "kiosk-admin"
        )
        # Decisions are under test here; the throttle has tests of its own.
        self._throttle = RecognitionThrottle(SecuritySettings(recognition_max_denied=1000))

    def seen_by(self, engine: FaceEngine) -> Gallery:
        """The same store and admin, with another engine (another model pack)."""
        store, operators, settings = self._parts
        return Gallery(engine, store, operators, settings, self.admin)

    def enroll(self, name: str, *images: tuple[str, BGRImage]) -> EnrollmentResult:
        return self.enrollment.enroll(
            self.admin, name, None, list(images), current_consent(), consent_given=True
        )

    def identify(self, image: BGRImage, label: str = "photo") -> Identification:
        return self._identification.identify(self.admin, image, label, self._throttle)

    def identified_name(self, image: BGRImage, label: str = "photo") -> str | None:
        matched = self.identify(image, label).match.matched
        return matched.display_name if matched is not None else None


def face_crop(
    photo: BGRImage,
    box: tuple[float, float, float, float],
    *,
    top: float,
    bottom: float,
    left: float,
    right: float,
) -> BGRImage:
    """``photo`` cut around the face ``box``: each side's margin is a share of the box's
    height (top, bottom) or width (left, right); 0 touches the box, below 0 cuts into
    the face. Nothing is added past the photo's own edges."""
    x1, y1, x2, y2 = box
    width, height = x2 - x1, y2 - y1
    rows = slice(max(0, round(y1 - top * height)), round(y2 + bottom * height))
    columns = slice(max(0, round(x1 - left * width)), round(x2 + right * width))
    return np.ascontiguousarray(photo[rows, columns])


def passport_crop(photo: BGRImage, box: tuple[float, float, float, float]) -> BGRImage:
    """An ID-photo framing: the face about 70 % of the width, the crop ending at the chin."""
    side = (1 / 0.7 - 1) / 2
    return face_crop(photo, box, top=0.15, bottom=0.0, left=side, right=side)
