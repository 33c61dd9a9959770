"""Faces that fill the photo, faces cut off by an edge, and photos that are turned
(issue 27, photos 3 and 4). Every crop and turn is cut from the package photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from core.errors import AlreadyEnrolled, QualityRejected
from core.faces import BGRImage, DetectedFace
from core.settings import Settings
from core.vision.engine import FaceEngine
from core.vision.quality import QualityCheck
from storage.identity_store import SqlIdentityStore
from storage.operator_store import SqlOperatorStore
from tests.photo_cases import ENROLLED_NAME, Gallery, bgr_of, face_crop, passport_crop

Box = tuple[float, float, float, float]
# Margins around the face box, as shares of its size, where the crop does not touch it.
ROOM = 0.3


@pytest.fixture(scope="module")
def yaoming(yaoming_jpg: Path) -> BGRImage:
    return bgr_of(yaoming_jpg)


@pytest.fixture(scope="module")
def yaoming_face(face_engine: FaceEngine, yaoming: BGRImage) -> DetectedFace:
    (face,) = face_engine.detect(yaoming)
    return face


@pytest.fixture
def gallery(
    face_engine: FaceEngine,
    identity_store: SqlIdentityStore,
    operator_store: SqlOperatorStore,
    settings: Settings,
) -> Gallery:
    return Gallery(face_engine, identity_store, operator_store, settings)


def touching(photo: BGRImage, box: Box, edge: str) -> BGRImage:
    """A crop with room on every side but ``edge`` (or "all"), which touches the face."""
    margins = dict.fromkeys(("top", "bottom", "left", "right"), 0.0 if edge == "all" else ROOM)
    if edge != "all":
        margins[edge] = 0.0
    return face_crop(photo, box, **margins)


def cut(photo: BGRImage, box: Box, edge: str, share: float) -> BGRImage:
    """A crop whose ``edge`` cuts ``share`` of the face box away."""
    margins = dict.fromkeys(("top", "bottom", "left", "right"), ROOM)
    margins[edge] = -share
    return face_crop(photo, box, **margins)


# ---- faces that fill the picture ---------------------------------------------------------


def test_a_passport_style_crop_enrolls_and_the_person_is_matched(
    gallery: Gallery, face_engine: FaceEngine, yaoming: BGRImage, yaoming_face: DetectedFace
) -> None:
    passport = passport_crop(yaoming, yaoming_face.box)
    assert yaoming_face.width / passport.shape[1] == pytest.approx(0.7, abs=0.02)
    assert face_engine.detect(passport) == []  # the case: one search alone finds nothing
    assert gallery.enroll(ENROLLED_NAME, ("passport.jpg", passport)).templates == 1
    assert gallery.identified_name(yaoming, "yaoming.jpg") == ENROLLED_NAME
    assert gallery.identified_name(passport, "passport.jpg") == ENROLLED_NAME


@pytest.mark.parametrize("edge", ["top", "bottom", "left", "right", "all"])
def test_crops_touching_each_edge_enroll_as_the_same_person(
    gallery: Gallery, yaoming: BGRImage, yaoming_face: DetectedFace, edge: str
) -> None:
    gallery.enroll(ENROLLED_NAME, ("yaoming.jpg", yaoming))
    crop = touching(yaoming, yaoming_face.box, edge)
    assert gallery.identified_name(crop, f"touching-{edge}.jpg") == ENROLLED_NAME
    # Enrolling it as someone else is refused: it is recognised as the same face.
    with pytest.raises(AlreadyEnrolled, match="already enrolled as Yao Ming"):
        gallery.enroll("Someone Else", (f"touching-{edge}.jpg", crop))


@pytest.mark.parametrize("scale", [1.0, 8.0])
def test_faces_found_with_the_border_are_in_the_photos_own_pixels(
    face_engine: FaceEngine, yaoming: BGRImage, yaoming_face: DetectedFace, scale: float
) -> None:
    # The passport crop's face, found with the border, lies where the whole photo's face
    # lies, less the crop's corner; also for a photo far larger than the detector's input.
    passport = passport_crop(yaoming, yaoming_face.box)
    top = max(0, round(yaoming_face.box[1] - 0.15 * yaoming_face.height))
    left = max(0, round(yaoming_face.box[0] - (1 / 0.7 - 1) / 2 * yaoming_face.width))
    photo = cv2.resize(passport, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    (found,) = face_engine.detect_photo(photo)
    expected = (yaoming_face.landmarks - np.array([left, top], np.float32)) * scale
    eye_distance = float(np.linalg.norm(expected[1] - expected[0]))
    assert np.abs(found.landmarks - expected).max() < 0.15 * eye_distance
    x1, _, x2, y2 = found.box
    assert 0 <= x1 < x2 <= photo.shape[1] + 0.1 * found.width
    assert y2 <= photo.shape[0] + 0.15 * found.height


@pytest.mark.parametrize("group", ["t1_jpg", "players_jpg"])
def test_the_border_search_keeps_every_face_of_a_group_photo(
    face_engine: FaceEngine, request: pytest.FixtureRequest, group: str
) -> None:
    photo = bgr_of(request.getfixturevalue(group))
    once = face_engine.detect(photo)
    photo_faces = face_engine.detect_photo(photo)
    assert len(photo_faces) >= len(once)
    for face in once:
        centre = np.array([(face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2])
        assert any(
            f.box[0] <= centre[0] <= f.box[2] and f.box[1] <= centre[1] <= f.box[3]
            for f in photo_faces
        )


# ---- refusals that name the real cause ------------------------------------------------


@pytest.mark.parametrize(
    ("edge", "share"), [("top", 0.35), ("bottom", 0.25), ("left", 0.3), ("right", 0.3)]
)
def test_a_face_cut_off_by_an_edge_is_refused_as_cut_off(
    gallery: Gallery, yaoming: BGRImage, yaoming_face: DetectedFace, edge: str, share: float
) -> None:
    crop = cut(yaoming, yaoming_face.box, edge, share)
    with pytest.raises(QualityRejected, match="the whole face must be in the picture") as refused:
        gallery.enroll(ENROLLED_NAME, (f"cut-{edge}.jpg", crop))
    assert [issue.check for issue in refused.value.reasons] == [QualityCheck.FACE_CUT_OFF]


def test_a_face_cut_at_the_top_is_not_called_too_dark(
    gallery: Gallery, face_engine: FaceEngine, yaoming: BGRImage, yaoming_face: DetectedFace
) -> None:
    # The complaint: its visible part is brighter than the whole photo, yet "too dark"
    # (the part past the edge was measured as black).
    crop = cut(yaoming, yaoming_face.box, "top", 0.35)
    (face,) = face_engine.detect_photo(crop)
    x1, y1, x2, y2 = (max(0, round(v)) for v in face.box)
    assert crop[y1:y2, x1:x2].mean() > yaoming.mean()
    sample = face_engine.sample(crop, face)
    assert sample.measurements.brightness > Settings().quality.brightness_range[0]
    with pytest.raises(QualityRejected) as refused:
        gallery.enroll(ENROLLED_NAME, ("cut-top.jpg", crop))
    assert "too dark" not in str(refused.value)


@pytest.mark.parametrize(
    ("quarters", "advice"),
    [(1, "a quarter turn clockwise"), (2, "half a turn"), (3, "a quarter turn anticlockwise")],
)
@pytest.mark.parametrize("framing", ["whole", "passport"])
def test_a_turned_photo_is_refused_as_turned_saying_which_way(
    gallery: Gallery,
    yaoming: BGRImage,
    yaoming_face: DetectedFace,
    quarters: int,
    advice: str,
    framing: str,
) -> None:
    upright = yaoming if framing == "whole" else passport_crop(yaoming, yaoming_face.box)
    turned = np.ascontiguousarray(np.rot90(upright, quarters))  # anticlockwise
    message = f"the photo is upside down or sideways; rotate it \\({advice}\\)"
    with pytest.raises(QualityRejected, match=message) as refused:
        gallery.enroll(ENROLLED_NAME, ("turned.jpg", turned))
    assert [issue.check for issue in refused.value.reasons] == [QualityCheck.PHOTO_ROTATED]
    with pytest.raises(QualityRejected, match=message):
        gallery.identify(turned, "turned.jpg")


def test_lighting_and_tilt_keep_their_own_reasons(face_engine: FaceEngine, photos: Path) -> None:
    # Neither is taken for a turned or cut-off photo.
    for name, check in (
        ("yaoming_dark.jpg", QualityCheck.TOO_DARK),
        ("yaoming_tilted.jpg", QualityCheck.NOT_FRONTAL),
        ("no_face.png", QualityCheck.NO_FACE),
    ):
        checks = [issue.check for issue in face_engine.assess_photo(bgr_of(photos / name)).issues]
        assert check in checks, name
        assert not {QualityCheck.PHOTO_ROTATED, QualityCheck.FACE_CUT_OFF} & set(checks), name
